"""Callbacks on the live page in a real browser: a supervisor sees the requests in their
line, moves one to the front and cancels one (screenshots in the test's tmp dir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.clock import Clock

from .conftest import build
from .test_browser import Served, browser, sign_in  # noqa: F401 (the browser fixture)
from .test_callbacks_web import everyone_busy, request, settings


def test_a_supervisor_moves_and_cancels_callbacks_on_the_live_page(tmp_path: Path, browser: Any) -> None:  # noqa: F811
    service = build(tmp_path, settings(), clock=Clock())
    service.user("sue", permissions={"telephony", "agents"})
    with Served(service.app) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, server.url, "sue")
        page.get_by_text("Live", exact=True).and_(page.locator("#live-status")).wait_for()
        server.call(everyone_busy, service)
        server.call(request, service, "call-1", "+4917000001")
        server.call(request, service, "call-2", "+4917000002")
        rows = page.locator("#callbacks tbody tr")
        page.locator('#callbacks tr[data-request-id="call-2"]').wait_for(timeout=5000)
        assert "waiting for a free member" in rows.nth(0).inner_text()
        page.screenshot(path=str(tmp_path / "live-callbacks.png"), full_page=True)
        page.get_by_role("button", name="Move the callback to +4917000002 to the front").click()
        page.wait_for_function("document.querySelector('#callbacks tbody tr').dataset.requestId === 'call-2'")
        page.get_by_role("button", name="Cancel the callback to +4917000001").click()
        page.locator('#callbacks tr[data-request-id="call-1"]').wait_for(state="detached", timeout=5000)
        assert rows.count() == 1
        page.screenshot(path=str(tmp_path / "live-callbacks-after.png"), full_page=True)
        page.goto(server.url + "/groups/sales")
        page.get_by_label("Calls to the customer at most").wait_for()
        page.locator("#callback").screenshot(path=str(tmp_path / "group-callback.png"))
        page.close()
        server.call(service.distributor.timers.cancel_all)
    service.store.close()
