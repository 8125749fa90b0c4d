"""The group page's "What a waiting caller hears" in a real browser: a supervisor turns
announcements on, a bad value is marked on its field, the fixed value is saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import Service
from .test_browser import Served, browser, served, sign_in  # noqa: F401 (fixtures)


def test_a_supervisor_turns_on_announcements_for_waiting_callers(
        served: tuple[Service, Served], browser: Any, tmp_path: Path) -> None:  # noqa: F811
    service, server = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, "sue")
    page.goto(server.url + "/groups/sales")
    page.get_by_label("If nobody answers").select_option("keep_waiting")
    page.get_by_label("Announce", exact=True).select_option("position_and_wait")
    page.get_by_label("Announce every (seconds, 15–3600; the first as the wait starts)").fill("5")
    message = page.get_by_label("Own message (sound name on the PBX, e.g. custom/sales-busy; empty: none)")
    message.fill("sales busy")
    page.locator("#group-form button[value=save]").last.click()
    page.locator("#err-announce-every_seconds").wait_for()
    assert "enter a number from 15 to 3600" in page.locator("#err-announce-every_seconds").inner_text()
    assert "not a sound name" in page.locator("#err-announce-message").inner_text()
    page.locator("#announce").screenshot(path=str(tmp_path / "announce-errors.png"))
    page.get_by_label("Announce every (seconds, 15–3600; the first as the wait starts)").fill("30")
    message.fill("custom/sales-busy")
    page.locator("#group-form button[value=save]").last.click()
    page.get_by_text("Saved and applied.").wait_for()
    page.screenshot(path=str(tmp_path / "group-announce.png"), full_page=True)
    assert page.get_by_label("Announce every (seconds, 15–3600; the first as the wait starts)").input_value() == "30"
    policy = server.call(lambda: service.distributor.router.config.groups["sales"].announce)
    assert (policy.say.value, policy.every_s, policy.message) == ("position_and_wait", 30, "custom/sales-busy")
