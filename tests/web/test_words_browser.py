"""The pages in supervisors' words, in a real browser: the live page's agents' states
with how long, the group form showing only the chosen missed-call action's settings,
the call page's decision log. Screenshots go to the test's tmp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.clock import Clock

from .test_browser import ARGS, CHROMIUM, Served, sign_in, sync_api
from .test_pages_in_words import busy

pytestmark = pytest.mark.skipif(sync_api is None, reason="needs playwright")


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def test_a_supervisor_reads_states_settings_and_the_log_in_words(tmp_path: Path, browser: Any) -> None:
    service = busy(tmp_path, clock=Clock())
    service.user("sue", permissions={"telephony", "agents"})
    shots = tmp_path / "shots"
    shots.mkdir()
    with Served(service.app) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, server.url, "sue")

        agents = page.locator("#agents tbody")
        agents.locator("tr", has_text="Chloé Martin").locator("td.state-on-a-call").wait_for(timeout=5000)
        rows = {r.locator("td").first.inner_text(): r.inner_text() for r in agents.locator("tr").all()}
        assert "offline (phone not connected)" in rows["Ben Ortiz"]
        assert "on a break" in rows["Anna Berg"] and "since" in rows["Anna Berg"]
        text = page.locator("main").inner_text()
        for raw in ("NOT_INUSE", "INUSE", "RINGINUSE", "UNAVAILABLE", "waited s"):
            assert raw not in text
        assert "talking" in page.locator('#calls tr[data-call-id="call-1"]').inner_text()  # not "connected"
        page.screenshot(path=str(shots / "live.png"), full_page=True)

        page.goto(server.url + "/groups/sales")
        assert page.get_by_label("Responsible person (whose voicemail or mobile)").is_visible()
        assert not page.get_by_role("button", name="Show its settings").is_visible()  # the script does it
        page.get_by_label("If nobody answers").select_option("forward_group")
        assert page.get_by_label("Queue group to forward to").is_visible()
        assert not page.get_by_label("Responsible person (whose voicemail or mobile)").is_visible()
        page.get_by_label("If nobody answers").select_option("keep_waiting")
        page.get_by_label("After the longest wait").select_option("forward_number")
        assert page.get_by_label("Phone number to forward to").is_visible()
        assert page.get_by_label("Longest wait, from the call's arrival (seconds)").is_visible()
        page.screenshot(path=str(shots / "group.png"), full_page=True)

        for path, name in (("/calls/call-2", "call"), ("/history", "history"), ("/missed", "missed"),
                           ("/groups", "groups"), ("/tokens", "account")):
            page.goto(server.url + path)
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        page.goto(server.url + "/calls/call-2")
        log = page.locator("#timeline").inner_text()
        assert "The caller hung up after waiting" in log and "offered to Anna Berg" in log
    assert sorted(p.name for p in shots.iterdir()) == sorted(
        f"{n}.png" for n in ("live", "group", "call", "history", "missed", "groups", "account"))
