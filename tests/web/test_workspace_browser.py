"""The agent workspace in a real browser (headless Chromium, Playwright): an agent gets
a chat live, accepts it, replies, transfers it to a colleague who accepts it in another
browser, the colleague closes it, the agent clocks out and the next chat goes to the
colleague. Screenshots of each step go to screenshots/.

The app runs under uvicorn in a thread (``test_browser.Served``) with the desk running
on the server's event loop, as ``acd serve`` runs it; chats come in through the
inbound API with an integration's token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from acd.channels import Desk
from acd.clock import Clock

from .conftest import PASSWORD, Service
from .test_browser import ARGS, CHROMIUM, Served, shot, sync_api  # noqa: F401 - the fixtures' module skips alike
from .workspace_support import build_with_desk

pytestmark = pytest.mark.skipif(sync_api is None, reason="needs playwright")


class Running:
    def __init__(self, service: Service, desk: Desk, server: Served, token: str) -> None:
        self.service, self.desk, self.server = service, desk, server
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def on_loop(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.server.loop).result(timeout=10)

    def chat(self, client: str, text: str) -> str:
        response = self.http.post("/api/channels/inbound/chat", json={"queue": "site", "client": client, "text": text})
        assert response.status_code == 202, response.text
        return str(response.json()["conversation_id"])

    def holders(self, cid: str) -> set[str]:
        return set(self.server.call(self.desk.holders, cid))


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    yield from run(tmp_path, Clock())


@pytest.fixture
def fast(tmp_path: Path) -> Iterator[Running]:
    """The service on a clock ten times faster than real time, as ``acd demo --speed 10``."""
    yield from run(tmp_path, Clock(speed=10))


def run(tmp_path: Path, clock: Clock) -> Iterator[Running]:
    service, desk = build_with_desk(tmp_path, clock)
    for agent in ("anna", "ben"):
        service.user(agent, "agent", {"open_channels"}, agent)
    service.user("sue", "supervisor", {"open_channels"})
    integration = service.user("integration", "supervisor", {"open_channels"})
    token = service.accounts.create_token(integration.id, "test")
    with Served(service.app) as server:
        r = Running(service, desk, server, token)
        r.on_loop(desk.start())
        task = r.on_loop(_start(desk))
        yield r
        r.on_loop(desk.close())
        r.on_loop(_wait(task))
        r.http.close()
    service.store.close()


async def _start(desk: Desk) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(desk.run())


async def _wait(task: asyncio.Task[None]) -> None:
    await asyncio.wait_for(task, 5)


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def signed_in(browser: Any, url: str, username: str) -> Any:
    """A page of a new browser context, signed in: an agent lands on the workspace."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/workspace")
    page.wait_for_function("document.getElementById('work-state').textContent !== '…'")  # the first state came
    return page


def test_an_agent_takes_a_chat_live_replies_transfers_and_clocks_out(running: Running, browser: Any) -> None:
    anna = signed_in(browser, running.server.url, "anna")
    assert anna.locator("#work-state").inner_text() == "clocked out"
    anna.get_by_role("button", name="Clock in").click()
    anna.get_by_text("working since").wait_for()
    shot(anna, "workspace-clocked-in")

    # a chat arrives: the offer appears without a reload, with its idle timer counting down
    cid = running.chat("telegram:900", "Hello, <b>is</b> anyone there?")
    offer = anna.locator("#offers article")
    offer.wait_for()
    countdown = offer.locator(".ws-countdown")
    assert "passes to the next agent in" in countdown.inner_text()
    first = countdown.inner_text()
    anna.wait_for_function("first => document.querySelector('#offers .ws-countdown').textContent !== first", arg=first)
    assert offer.locator(".ws-thread li").inner_text().endswith("Hello, <b>is</b> anyone there?")  # HTML as text
    assert offer.locator(".ws-thread b").count() == 0
    shot(anna, "workspace-offer")

    anna.get_by_role("button", name="Accept the chat with telegram:900").click()
    chat = anna.locator("#conversations article")
    chat.wait_for()
    assert anna.locator("#offers article").count() == 0
    anna.get_by_label("Reply to telegram:900").fill("Yes! How can I help?")
    anna.get_by_role("button", name="Send").click()
    chat.locator(".ws-thread li.agent").wait_for()
    assert "Yes! How can I help?" in chat.locator(".ws-thread li.agent").inner_text()
    running.chat("telegram:900", "Where is my parcel?")
    chat.get_by_text("Where is my parcel?").wait_for()  # the client's next line, live
    shot(anna, "workspace-reply")

    # a transfer to a colleague, who accepts it in another browser
    ben = signed_in(browser, running.server.url, "ben")
    ben.get_by_role("button", name="Clock in").click()
    ben.get_by_text("working since").wait_for()
    anna.get_by_label("Transfer the chat with telegram:900 to").select_option("agent:ben")
    anna.get_by_role("button", name="Transfer").click()
    anna.get_by_text("No open conversations.").wait_for()
    ben.locator("#offers article").wait_for()
    assert "Where is my parcel?" in ben.locator("#offers .ws-thread").inner_text()  # the thread went along
    assert "Responsible: Ben Ortiz" in ben.locator("#offers aside").inner_text()  # the CRM owner followed
    shot(ben, "workspace-transferred-offer")
    ben.get_by_role("button", name="Accept the chat with telegram:900").click()
    ben.locator("#conversations article").wait_for()
    assert running.holders(cid) == {"ben"}
    shot(ben, "workspace-colleague-accepted")
    ben.get_by_role("button", name="Close the chat with telegram:900").click()
    ben.get_by_text("No open conversations.").wait_for()
    assert running.holders(cid) == set()

    # anna clocks out: the next chat goes to ben, never to her
    anna.get_by_role("button", name="Clock out").click()
    anna.get_by_text("clocked out since").wait_for()
    later = running.chat("telegram:901", "Anyone?")
    ben.locator("#offers article").wait_for()
    assert running.holders(later) == {"ben"}
    assert anna.locator("#offers article").count() == 0
    shot(anna, "workspace-clocked-out")

    # a supervisor reads ben's workspace, without buttons
    sue = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sue.goto(running.server.url + "/login?next=/workspace%3Fagent%3Dben")
    sue.get_by_label("Username").fill("sue")
    sue.get_by_label("Password").fill(PASSWORD)
    sue.get_by_role("button", name="Sign in").click()
    sue.get_by_text("read only").wait_for()
    sue.locator("#offers article").wait_for()
    assert sue.get_by_role("button", name="Accept the chat with telegram:901").is_hidden()
    shot(sue, "workspace-supervisor-read-only")

    # a break, with its reason: the offer goes back to the queue (nobody else works)
    ben.get_by_label("Reason for the break").fill("lunch")
    ben.get_by_role("button", name="Take a break").click()
    ben.get_by_text("on a break: lunch since").wait_for()
    ben.get_by_text("Nothing offered to you right now.").wait_for()
    assert running.holders(later) == set()
    shot(ben, "workspace-break")


def test_the_idle_countdown_counts_on_the_acds_clock_not_the_browsers(fast: Running, browser: Any) -> None:
    """The demo's clock runs ten times faster: the 60 s before the offer passes on are 6
    real seconds, and the countdown must say so (it counted real seconds before)."""
    anna = signed_in(browser, fast.server.url, "anna")
    anna.get_by_role("button", name="Clock in").click()
    anna.get_by_text("working since").wait_for()
    fast.chat("telegram:950", "Hello?")
    countdown = anna.locator("#offers article .ws-countdown")
    countdown.wait_for()
    # within 2.5 real seconds the ACD's clock moves 25 s: the countdown is under 45 s
    anna.wait_for_function("""() => {
        const m = /in (\\d+) s$/.exec(document.querySelector('#offers .ws-countdown')?.textContent || '');
        return m !== null && Number(m[1]) < 45;
    }""", timeout=2500)
    shot(anna, "workspace-fast-clock-countdown")


def test_the_work_buttons_wait_for_the_workspaces_first_state(running: Running, browser: Any) -> None:
    """A click on "Clock in" before the first state is in would do nothing (the page does
    not know the agent yet): until it is, the work buttons are not there to click."""
    url = running.server.url
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    held: list[Any] = []
    page.route("**/api/workspace/stream*", lambda route: held.append(route))  # the state's stream held back
    page.goto(url + "/login")
    page.get_by_label("Username").fill("anna")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/workspace")
    page.wait_for_function("document.readyState === 'complete'")
    assert held, "the workspace asked for its state"
    assert not page.get_by_role("button", name="Clock in").is_visible()
    assert not page.get_by_role("button", name="Take a break").is_visible()
    held[0].continue_()  # the state flows
    page.get_by_role("button", name="Clock in").click()
    page.get_by_text("working since").wait_for()
    shot(page, "workspace-first-state-then-clocked-in")
