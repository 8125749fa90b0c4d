"""The channel settings in a real browser (headless Chromium, Playwright): a supervisor
creates an open-channel queue with three agents, evenly, 1 minute idle time and a limit
of 2; sees a field-level error in a sentence; sets a mailbox's IMAP connection, a CRM
form's responsible persons, an agent's working time and a group's CRM options.
Screenshots of each page go to screenshots/."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.clock import Clock
from acd.core.model import Mode

from .conftest import SETTINGS, Service, build
from .test_browser import Served, browser, member_order, pytestmark, shot, sign_in  # noqa: F401 - fixtures, marks

DATA: dict[str, Any] = {**copy.deepcopy(SETTINGS), "channels": [
    {"id": "sales-mail", "name": "Sales mailbox", "kind": "email", "members": ["ben", "anna"]},
    {"id": "contact", "name": "Contact form", "kind": "form", "members": ["chloe"]},
]}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Service, Served]]:
    service = build(tmp_path, DATA, clock=Clock())
    service.user("olga", permissions={"open_channels", "email", "crm_forms", "agents", "telephony"})
    with Served(service.app) as s:
        yield service, s
    service.store.close()


def test_a_supervisor_creates_an_open_channel_queue_evenly_over_three_agents(
        served: tuple[Service, Served], browser: Any) -> None:  # noqa: F811 - the fixture
    service, server = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, "olga")
    page.get_by_role("link", name="Open channels").click()
    shot(page, "open-channels-empty")
    page.get_by_role("link", name="New open channel").click()
    page.get_by_label("Id", exact=True).fill("web")
    page.get_by_label("Name", exact=True).fill("Website chat")
    for agent in ("anna", "ben", "chloe"):
        page.get_by_label("Add an agent").select_option(agent)
        page.get_by_role("button", name="Add", exact=True).click()
    assert member_order(page) == ["anna", "ben", "chloe"]
    page.get_by_label("Distribute conversations").select_option(label="evenly")
    page.get_by_label("Time before the conversation passes to the next agent").select_option(label="1 minute")
    page.get_by_label("Limit of simultaneous conversations per agent").fill("0")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("#err-capacity").wait_for()
    assert page.get_by_label("Limit of simultaneous conversations per agent").input_value() == "0"  # as typed
    assert page.locator("#err-capacity").inner_text() == (
        "Give a whole number of conversations from 1 to 1000, or leave it empty for no limit.")
    shot(page, "open-channel-error")
    page.get_by_label("Limit of simultaneous conversations per agent").fill("2")
    page.get_by_label("Working hours of the channel").fill("mon-fri 09:00-18:00")
    page.get_by_label("Time zone", exact=True).fill("Europe/Berlin")
    page.get_by_label("Auto-reply outside working hours").fill("We answer on weekdays from 9:00.")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved and applied.").wait_for()
    shot(page, "open-channel-saved")
    queue = service.settings.conversations().queues["web"]
    assert queue.members == ("anna", "ben", "chloe") and queue.mode is Mode.EVENLY
    assert (queue.idle_s, queue.capacity) == (60.0, 2)
    page.get_by_role("link", name="Open channels").first.click()
    row = page.locator("#queues tr", has_text="Website chat")
    assert "evenly" in row.inner_text() and "1 minute" in row.inner_text() and "2 at once" in row.inner_text()
    shot(page, "open-channels-list")


def test_mailbox_form_agent_time_and_group_crm_pages_in_the_browser(
        served: tuple[Service, Served], browser: Any) -> None:  # noqa: F811 - the fixture
    service, server = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, "olga")
    page.get_by_role("link", name="Mailboxes").click()
    page.get_by_role("link", name="Sales mailbox").click()
    page.get_by_label("Fetch the mail from an IMAP server").check()
    page.get_by_label("Server", exact=True).fill("imap.example.com")
    page.get_by_label("User name").fill("sales@example.com")
    page.get_by_label("Environment variable holding the password").fill("ACD_SALES_MAIL_PASSWORD")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved and applied.").wait_for()
    shot(page, "mailbox")
    imap = service.settings.channel("sales-mail").imap
    assert imap is not None and imap.password_env == "ACD_SALES_MAIL_PASSWORD"

    page.get_by_role("link", name="CRM forms").click()
    page.get_by_role("link", name="Contact form").click()
    page.get_by_label("Add a person").select_option("anna")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved and applied.").wait_for()
    shot(page, "crm-form")
    assert service.settings.channel("contact").members == ["chloe", "anna"]

    page.goto(server.url + "/agents?edit=ben")
    page.get_by_label("Track this agent's working time").check()
    page.get_by_label("Working hours", exact=True).fill("mon-fri 08:00-16:00")
    page.get_by_label("Limit of simultaneous conversations").fill("3")
    shot(page, "agent-working-time-form")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved and applied.").wait_for()
    shot(page, "agents-working-time")
    work = service.settings.agent("ben").work
    assert work is not None and work.capacity == 3 and work.hours == ["mon-fri 08:00-16:00"]

    page.goto(server.url + "/groups/sales")
    page.get_by_label("Create a lead for an unknown caller").uncheck()
    shot(page, "group-crm")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved and applied.").wait_for()
    assert service.settings.group("sales").crm.create_lead is False
