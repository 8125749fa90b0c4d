"""The pages in a real browser (Debian's headless Chromium driven by Playwright): a
supervisor signs in, creates a queue group, reorders its members with the keyboard,
changes mode and rings, routes a number to it, and watches a call ring the first member
on the live page; a colleague intercepts it. Screenshots of the main pages go to
screenshots/.

The app runs under uvicorn on 127.0.0.1 in a thread with its own event loop; the
test feeds core events to the real distributor on that loop, as the AMI adapter would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from acd.clock import Clock
from acd.core.commands import Ring
from acd.core.events import CallArrived, MemberRinging
from acd.core.model import Mode
from acd.event_loop import new_event_loop

from .conftest import PASSWORD, Service, build

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not (os.path.exists(CHROMIUM) or shutil.which("chromium")),
                                reason="needs Debian's chromium (apt-get install -y chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """uvicorn in a thread; ``call`` runs a function on the server's event loop."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.loop = new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.server.serve(),), daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            threading.Event().wait(0.025)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def call(self, fn: Any, *args: Any) -> Any:
        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=5)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Service, Served]]:
    service = build(tmp_path, clock=Clock())
    service.user("sue", permissions={"telephony", "agents"})
    service.user("ben", role="agent", agent_id="ben")
    with Served(service.app) as s:
        yield service, s
    service.store.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def sign_in(page: Any, url: str, username: str) -> None:
    page.goto(url + "/")
    assert "/login" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def member_order(page: Any) -> list[str]:
    return page.locator("#members li").evaluate_all("items => items.map(li => li.dataset.member)")


def test_a_supervisor_builds_a_group_and_watches_a_call_ring_its_first_member(
        served: tuple[Service, Served], browser: Any) -> None:
    service, server = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/login")
    shot(page, "login")
    sign_in(page, server.url, "sue")

    # a new queue group, members added one by one
    page.get_by_role("link", name="Queue groups").click()
    page.get_by_role("link", name="New queue group").click()
    page.get_by_label("Id").fill("vip")
    page.get_by_label("Name", exact=True).fill("VIP line")
    for member in ("chloe", "ben", "anna"):
        page.get_by_label("Add a member").select_option(member)
        page.get_by_role("button", name="Add", exact=True).click()
    assert member_order(page) == ["chloe", "ben", "anna"]
    assert page.get_by_label("Id").input_value() == "vip"  # the form came back as typed

    # reorder with the keyboard: focus stays on the moved member's button
    page.get_by_role("button", name="Move Anna Berg up").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    assert member_order(page) == ["anna", "chloe", "ben"]
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused == "Move Anna Berg up"
    page.get_by_role("button", name="Move Ben Ortiz up").click()
    page.get_by_role("button", name="Move Ben Ortiz down").click()
    assert member_order(page) == ["anna", "chloe", "ben"]
    page.get_by_label("Allow call pickup in this group").check()
    shot(page, "group-new")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved and applied.").wait_for()
    assert service.distributor.router.config.groups["vip"].members == ("anna", "chloe", "ben")

    # a field-level error, then mode and rings changed
    page.get_by_label("Rings before the next member").fill("9")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("#err-rings").wait_for()
    assert "enter a whole number from 2 to 7" in page.locator("#err-rings").inner_text()
    shot(page, "group-error")
    page.get_by_label("Distribute calls").select_option("evenly")
    page.get_by_label("Rings before the next member").fill("4")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved and applied.").wait_for()
    group = service.distributor.router.config.groups["vip"]
    assert group.mode is Mode.EVENLY and group.rings == 4 and group.allow_pickup
    page.get_by_role("link", name="Queue groups").click()
    shot(page, "groups")

    # a number for it
    page.get_by_role("link", name="Numbers").click()
    page.get_by_label("Number 3", exact=True).fill("+4930555555")
    page.get_by_label("Queue group for number 3").select_option("vip")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved and applied.").wait_for()
    shot(page, "numbers")
    assert service.settings.numbers["+4930555555"] == "vip"

    # a call arrives: the live page shows it ringing the first member
    page.get_by_role("link", name="Live").click()
    page.get_by_text("Live", exact=True).and_(page.locator("#live-status")).wait_for()
    ring = server.call(lambda: [c for c in service.distributor.feed(
        CallArrived("call-b1", "+4930555555", "+4917012345", "Dora Diaz")) if isinstance(c, Ring)][0])
    assert ring.agent_ids == ("anna",)
    server.call(service.distributor.feed, MemberRinging("call-b1", ring.attempt, "anna"))
    row = page.locator('#calls tr[data-call-id="call-b1"]')
    row.locator("td.ringing", has_text="Anna Berg").wait_for(timeout=5000)
    assert "VIP line" in row.inner_text() and "Dora Diaz" in row.inner_text()
    shot(page, "live")

    # a colleague in the group takes it to their phone
    agent_page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    sign_in(agent_page, server.url, "ben")
    intercept = agent_page.get_by_role("button", name="Intercept the call from +4917012345")
    intercept.wait_for(timeout=5000)
    shot(agent_page, "live-agent-phone")
    intercept.click()
    agent_page.get_by_text("Taking the call from +4917012345").wait_for()
    assert service.intercepts == [("call-b1", "ben")]

    for path, name in (("/history", "history"), ("/calls/call-b1", "call"), ("/missed", "missed"),
                       ("/agents", "agents"), ("/tokens", "tokens")):
        page.goto(server.url + path)
        shot(page, name)
    server.call(service.distributor.timers.cancel_all)


def test_the_admin_pages_in_the_browser(served: tuple[Service, Served], browser: Any) -> None:
    service, server = served
    service.user("root", role="admin")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, "root")
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Username").fill("tess")
    page.get_by_label("Password (8 characters or more)").fill("short")
    page.get_by_role("button", name="Create user").click()
    page.get_by_text("at least 8 characters").wait_for()
    page.get_by_label("Password (8 characters or more)").fill(PASSWORD)
    page.get_by_label("Role").last.select_option("supervisor")
    page.locator("form[aria-labelledby=new-h] input[value=telephony]").check()
    page.get_by_role("button", name="Create user").click()
    page.get_by_role("cell", name="tess", exact=True).wait_for()
    shot(page, "users")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_text("user created").wait_for()
    shot(page, "audit")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")


def test_a_long_unbroken_name_does_not_widen_the_pages(served: tuple[Service, Served], browser: Any) -> None:
    service, server = served
    long_name = "Q" * 100  # the longest name the configuration takes, with nowhere to break
    groups = [{**g, "name": long_name} if g["id"] == "sales" else g for g in service.settings.to_dict()["groups"]]
    agents = [{**a, "name": long_name} if a["id"] == "anna" else a for a in service.settings.to_dict()["agents"]]
    service.apply(service.settings.with_changes({"groups": groups, "agents": agents}))
    page = browser.new_page(viewport={"width": 720, "height": 900})
    sign_in(page, server.url, "sue")
    for path in ("/", "/groups", "/groups/sales", "/agents", "/history", "/missed"):
        page.goto(server.url + path)
        # shown (or offered in a list) on this page; the live page fills itself in by script
        page.wait_for_function("name => document.documentElement.innerHTML.includes(name)", arg=long_name,
                               timeout=15_000)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow} px wider than the window"
