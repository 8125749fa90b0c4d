"""kill -9 of the active node while calls wait and ring: the standby takes over within
3 s and every call is answered, none dropped (two real `acd serve` processes)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from acd.sim import Answer, NeverAnswer

from .cluster import cluster
from .conftest import POSTGRES_URL, needs_postgres

pytestmark = needs_postgres
TAKEOVER_TARGET_S = 3.0
PHONES = ("101", "102", "103", "104")
# rings go round the members and round again until somebody answers
SALES = {"id": "sales", "mode": "strict", "rings": 2, "ring_seconds": 1,
         "missed": {"action": "keep_waiting", "retry_seconds": 1, "max_wait_seconds": 600}}


async def test_kill_9_of_the_active_node_the_standby_takes_over_within_3_s_and_every_call_is_answered(
        tmp_path: Path) -> None:
    async with cluster(tmp_path, POSTGRES_URL, {p: NeverAnswer() for p in PHONES}, SALES) as c:
        calls = await c.callers(8)
        await c.until(lambda: c.ringing() > 0, 30)
        await asyncio.sleep(1.0)  # rings are being counted; the other callers wait
        assert c.ringing() > 0 and not any(call.answered.is_set() for call in calls)
        old, new = c.active(), c.standby()
        for p in PHONES:  # from now on the agents pick up: only the new active node can have them rung
            c.sim.phone(p).behaviour = Answer(after=0.3)
        killed = time.monotonic()
        old.signal(signal.SIGKILL)
        await c.until(lambda: c.first(new.name, "DeviceStateList", killed) is not None, 10, why=new.text)
        logged_in = c.first(new.name, "Login", killed)
        resynced = c.first(new.name, "DeviceStateList", killed)
        assert logged_in is not None and resynced is not None
        assert resynced - killed < TAKEOVER_TARGET_S, (logged_in - killed, resynced - killed)
        print(f"takeover: logged in {logged_in - killed:.3f} s, resynced {resynced - killed:.3f} s after kill -9")
        for call in calls:
            await c.until(call.answered.is_set, 60, why=new.text)
        assert all(call.hung_up_by != "ami" for call in calls)
        assert not c.sim.errors
        assert not c.actions(old.name, killed + 0.001)  # the dead node sent nothing, of course
