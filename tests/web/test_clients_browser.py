"""The clients page in a real browser: a supervisor finds a client by a phone number
typed their own way, opens the card, changes the responsible person, reviews a merge
and imports a CSV file. Screenshots go to screenshots/clients-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from acd.clock import Clock
from acd.core.commands import Record
from acd.crm import CrmFeed, Identity, OutboxJob, add_client, create_all, make_engine

from .conftest import Service, build
from .test_browser import Served, browser, shot, sign_in  # noqa: F401 (browser: a fixture)

NOW = 1_700_000_000.0
CSV = b"""name;phone;email;owner;kind
Carl Diaz;030 5550100;carl@example.org;anna;lead
Dora;+49 30 5550101;;zed;contact
Eve;12;;anna;
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Service, Served]]:
    engine = make_engine("sqlite://")
    create_all(engine)
    service = build(tmp_path, clock=Clock(), crm=CrmFeed(engine, targets=["hook"]))
    service.user("sue", permissions={"crm"})
    with Session(engine) as session, session.begin():
        add_client(session, [Identity.phone("+49 30 1234567"), Identity.email("ann@example.org")], owner="anna",
                   name="Ann Lee", now=NOW)
        add_client(session, [Identity.phone("+49 170 5550001")], kind="lead", owner="ben", name="", now=NOW)
    service.store.apply_records([
        Record("c1", NOW + 1, "arrived", {"caller_number": "0301234567", "did": "+4930111111", "group": "sales"}),
        Record("c1", NOW + 5, "answered", {"agent": "anna", "waited_s": 4}),
        Record("c1", NOW + 65, "ended", {"by": "caller"})])
    with Served(service.app) as s:
        yield service, s
    service.store.close()
    engine.dispose()


def test_a_supervisor_finds_a_client_changes_the_owner_and_imports_more(
        served: tuple[Service, Served], browser: Any, tmp_path: Path) -> None:  # noqa: F811
    service, server = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, "sue")
    page.get_by_role("link", name="Clients").click()
    page.get_by_label("Find a client").fill("030 123 45 67")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#clients >> text=Ann Lee")
    shot(page, "clients-search")
    assert page.locator("#clients tbody tr").count() == 1

    page.get_by_role("link", name="Ann Lee").click()
    page.wait_for_selector("h1 >> text=Ann Lee")
    assert page.locator("#calls tbody tr").first.inner_text().count("Answered") == 1
    page.get_by_role("combobox", name="Responsible person").select_option(label="Ben Ortiz")
    page.get_by_role("button", name="Change").click()
    page.wait_for_selector("text=Responsible person changed")
    shot(page, "clients-card-owner-changed")
    owner = page.get_by_role("combobox", name="Responsible person")
    assert owner.evaluate("s => s.options[s.selectedIndex].text") == "Ben Ortiz"
    assert "Responsible person changed" in page.locator("#log").inner_text()
    with Session(service.ctx.crm.engine) as session:
        [job] = session.scalars(select(OutboxJob)).all()
        assert (job.payload["owner"], job.payload["previous_owner"]) == ("ben", "anna")

    page.get_by_label("Number of the other client").fill("2")
    page.get_by_role("button", name="Review the merge").click()
    page.wait_for_selector("h1 >> text=Merge #2 into #1")
    shot(page, "clients-merge-review")
    page.get_by_role("button", name="Merge").click()
    page.wait_for_selector("text=Merged:")
    assert "+49 170 5550001" in page.locator("#identities").inner_text()

    page.goto(server.url + "/clients")
    page.get_by_role("link", name="Import from CSV").click()
    upload = tmp_path / "clients.csv"
    upload.write_bytes(CSV)
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector("#import-summary")
    shot(page, "clients-import-report")
    assert page.locator("#import-summary").inner_text() == "1 created, 0 updated, 0 already up to date, 2 refused."
    refused = page.locator("#refused tbody").inner_text()
    assert "unknown agent 'zed'" in refused and '"12" is not a phone number' in refused

    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(server.url + "/clients/1")
    shot(page, "clients-card-narrow")
