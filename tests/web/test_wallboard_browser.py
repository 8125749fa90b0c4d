"""Issue 13's "Done when" for the wallboard: the whole service (acd serve's wiring, web
server included) on the Asterisk simulator, traffic from simulated callers, and a
supervisor's wallboard in headless Chromium. After N answered and M abandoned calls the
tiles say so, and every figure on them equals the one computed from the call history in
the database; a supervisor puts an agent on a break from the wallboard and ends it.
Screenshots at desktop and phone size go to the test's tmp dir
(``--basetemp DIR`` keeps them).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.event_loop import new_event_loop
from acd.pbx import Timing
from acd.serve import Acd, AmiTarget
from acd.sim import Answer, NeverAnswer
from tests.e2e.stack import SECRET, Stack, settings

from .conftest import PASSWORD
from .test_browser import ARGS, CHROMIUM, free_port, pytestmark, sync_api  # noqa: F401 - the mark

ANSWERED, ABANDONED = 3, 2
GROUPS = [
    {"id": "sales", "name": "Sales", "members": ["anna", "boris", "dmitri"], "mode": "strict", "number": "5000"},
    {"id": "support", "name": "Support", "members": ["clara"], "mode": "strict", "rings": 7, "ring_seconds": 10,
     "number": "6000"},
]
PHONES = {"anna": Answer(after=1), "boris": Answer(after=1), "clara": NeverAnswer(), "dmitri": Answer(after=1)}


class WebStack(Stack):
    """tests/e2e's stack with acd's web server on, in a thread of its own (the browser
    test is synchronous)."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, [dict(g) for g in GROUPS], dict(PHONES),
                         work={"dmitri": {"clock_in_required": False}})  # his breaks count
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.started_once = False

    def run(self, coro: Any, timeout_s: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    async def start_acd(self) -> Acd:
        assert self.sim.port is not None
        config = settings(self.database, self.sim.port, [dict(g) for g in self.groups], **self.extra)
        self.acd = Acd(config, clock=self.clock, ami=AmiTarget("127.0.0.1", self.sim.port, "acd", SECRET),
                       timing=Timing(backoff_first_s=0.05, backoff_max_s=0.2), web_address=("127.0.0.1", self.port))
        accounts = self.acd.web_context.accounts
        assert accounts is not None
        if not self.started_once:  # users, sessions and the history stay in the database
            self.started_once = True
            accounts.create_user("sue", PASSWORD, role="supervisor",
                                 permissions={"telephony", "agents", "open_channels"})
        self._task = asyncio.create_task(self.acd.run(http=True))
        await self.until(lambda: self.acd is not None and self.acd.pbx.connection.ready, 10)
        return self.acd

    async def traffic(self) -> None:
        for n in range(ANSWERED):
            call = await self.sim.call(did="5000", caller=f"155500010{n}")
            await self.until(lambda c=call: c.answered_by is not None, 30)
            await self.clock.sleep(3)
            await call.hangup()
        for n, wait_s in enumerate((5, 40)[:ABANDONED]):  # within and after the 20 s target
            call = await self.sim.call(did="6000", caller=f"155500020{n}")
            await self.clock.sleep(wait_s)
            await call.hangup()
        await self.until(lambda: self.acd is not None and not self.acd.router.calls, 30)
        assert self.acd is not None
        await self.acd.history.flush()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[WebStack]:
    s = WebStack(tmp_path)
    s.thread.start()
    s.run(s.start())
    try:
        yield s
    finally:
        s.run(s.stop())
        s.loop.call_soon_threadsafe(s.loop.stop)
        s.thread.join(5)


def from_history(s: WebStack) -> dict[str, dict[str, Any]]:
    """Each group's figures computed from the calls table, by SESSION's definitions."""
    assert s.acd is not None
    out = {}
    for group in ("sales", "support"):
        calls = [c for c in s.acd.store.calls(group=group, limit=1000) if c.ended_at is not None]
        answered = [c for c in calls if c.answered_at is not None and c.answered_by]
        abandoned = [c for c in calls if c.outcome == "abandoned"]
        late = [c for c in abandoned if (c.waited_s or 0) > 20]
        missed = [c for c in calls if c.outcome in ("missed", "voicemail", "forwarded", "hangup")]
        within = [c for c in answered if (c.waited_s or 0) <= 20]
        counted = len(answered) + len(late) + len(missed)
        out[group] = {
            "answered": str(len(answered)), "abandoned": str(len(abandoned)), "missed": str(len(missed)),
            "service_level": f"{round(100 * len(within) / counted, 1):g} %" if counted else "—",
            # the API gives tenths, the page whole seconds (half up, as JavaScript's Math.round)
            "asa": f"{math.floor(round(sum(c.waited_s or 0 for c in answered) / len(answered), 1) + 0.5)} s"
            if answered else "—",
        }
    return out


def tile_figures(page: Any, group: str) -> dict[str, str]:
    return dict(page.locator(f'[data-group="{group}"] [data-figure]').evaluate_all(
        "els => els.map(e => [e.dataset.figure, e.querySelector('.wb-value').textContent])"))


def test_the_wallboard_shows_the_days_calls_as_the_history_has_them(stack: WebStack, tmp_path: Path) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(stack.url + "/login?next=/wallboard")
        page.get_by_label("Username").fill("sue")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(stack.url + "/wallboard")
        page.wait_for_function("() => document.getElementById('wb-status').textContent === 'Live'")

        stack.run(stack.traffic(), 120)
        expected = from_history(stack)
        assert expected["sales"]["answered"] == str(ANSWERED) and expected["support"]["abandoned"] == str(ABANDONED)
        page.wait_for_function(
            "([a, m]) => document.querySelector('[data-group=sales] [data-figure=answered] .wb-value')"
            "?.textContent === a && document.querySelector('[data-group=support] [data-figure=abandoned]"
            " .wb-value')?.textContent === m", arg=[str(ANSWERED), str(ABANDONED)], timeout=15_000)
        for group in ("sales", "support"):
            shown = tile_figures(page, group)
            assert {k: shown[k] for k in expected[group]} == expected[group], group
            assert shown["waiting"] == "0"
        # one abandon after the 20 s target, nothing answered: support is under its goal
        assert page.locator('[data-group="support"]').get_attribute("class") == "wb-tile level-red"
        assert page.locator('[data-group="sales"]').get_attribute("class") == "wb-tile level-ok"
        assert "3 available" in page.locator('[data-group="sales"] .wb-agent-counts').inner_text().replace("\n", " ")
        page.screenshot(path=str(tmp_path / "wallboard-desktop.png"), full_page=True)

        # a break from the wallboard, with its reason, then its end
        page.get_by_label("Reason for Dmitri's break").fill("lunch")
        page.get_by_role("button", name="Put Dmitri on a break").click()
        page.locator('tr[data-agent-id="dmitri"] td[data-state="on a break"]').wait_for()
        assert page.locator("#wb-said").inner_text() == "Dmitri is on a break (lunch)."
        page.wait_for_function("() => document.querySelector('[data-group=sales] [data-agent-state=\"on a break\"] b')"
                               "?.textContent === '1'")
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone.context.add_cookies(page.context.cookies())
        phone.goto(stack.url + "/wallboard")
        phone.locator('[data-group="support"] [data-figure="abandoned"]').wait_for()
        assert tile_figures(phone, "support")["abandoned"] == str(ABANDONED)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the phone page scrolls sideways ({width} px)"
        phone.screenshot(path=str(tmp_path / "wallboard-phone.png"), full_page=True)
        page.get_by_role("button", name="End Dmitri's break").click()
        page.locator('tr[data-agent-id="dmitri"] td[data-state="available"]').wait_for()

        # acd restarts (with the wallboard open: its stream does not hold the stop up);
        # the day's figures come back from the history, not from zero
        stack.run(stack.stop_acd())
        stack.run(stack.start_acd())
        page.goto(stack.url + "/wallboard")
        page.wait_for_function("() => document.getElementById('wb-status').textContent === 'Live'")
        page.locator('[data-group="sales"] [data-figure="answered"]').wait_for()
        for group in ("sales", "support"):
            shown = tile_figures(page, group)
            assert {k: shown[k] for k in expected[group]} == expected[group], group
        browser.close()
