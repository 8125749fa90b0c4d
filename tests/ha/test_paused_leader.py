"""A former active node that was paused (SIGSTOP) while the standby took over sends
Asterisk no AMI action when it wakes (SIGCONT), though its calls' timers are overdue:
its lease ran out on its own clock. It then exits for its supervisor to restart it."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from acd.cli import EXIT_NO_LONGER_ACTIVE
from acd.sim import NeverAnswer

from .cluster import cluster
from .conftest import POSTGRES_URL, needs_postgres

pytestmark = needs_postgres
PHONES = ("101", "102")
# the members' rings run out every 2 s: the active node has a timer to act on all along
SALES = {"id": "sales", "mode": "all", "rings": 2, "ring_seconds": 1,
         "missed": {"action": "keep_waiting", "retry_seconds": 1, "max_wait_seconds": 600}}


async def test_a_paused_former_leader_sends_no_ami_action_after_the_standby_took_over(tmp_path: Path) -> None:
    async with cluster(tmp_path, POSTGRES_URL, {p: NeverAnswer() for p in PHONES}, SALES) as c:
        await c.callers(3)
        old, new = c.active(), c.standby()
        await c.until(lambda: len(c.actions(old.name, calls_only=True)) >= 3, 30)  # it rings them: Setvar, Redirect...
        stopped = time.monotonic()
        old.signal(signal.SIGSTOP)
        await c.until(lambda: c.first(new.name, "Login", stopped) is not None, 10, why=new.text)
        took_over = c.first(new.name, "Login", stopped)
        assert took_over is not None
        await c.until(lambda: len(c.actions(new.name, took_over, calls_only=True)) >= 2, 20, why=new.text)
        await asyncio.sleep(1.0)  # a's ring timers are overdue by now
        old.signal(signal.SIGCONT)
        assert old.process is not None
        assert await asyncio.wait_for(old.process.wait(), 20) == EXIT_NO_LONGER_ACTIVE
        assert [r.action for r in c.actions(old.name, took_over)] == []  # not one action, not even a Ping
        assert "no longer active for default" in old.text()
        assert new.running and len(c.actions(new.name, calls_only=True)) > 2  # b carries on
