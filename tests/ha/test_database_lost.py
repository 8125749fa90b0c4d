"""The active node loses its database (its link cut, the other node's not): it stops
sending AMI actions when its lease runs out on its own clock and exits; the standby
takes over within 3 s and answers the calls."""

from __future__ import annotations

import time
from pathlib import Path

from acd.sim import Answer, NeverAnswer

from .cluster import cluster
from .conftest import POSTGRES_URL, needs_postgres
from .db_proxy import DatabaseLink

pytestmark = needs_postgres
PHONES = ("101", "102")
SALES = {"id": "sales", "mode": "all", "rings": 2, "ring_seconds": 1,
         "missed": {"action": "keep_waiting", "retry_seconds": 1, "max_wait_seconds": 600}}


async def test_the_active_node_cut_from_the_database_gives_way_within_3_s_and_sends_nothing_after(
        tmp_path: Path) -> None:
    links = {name: DatabaseLink(POSTGRES_URL) for name in ("a", "b")}
    databases = {name: await link.start() for name, link in links.items()}
    try:
        async with cluster(tmp_path, POSTGRES_URL, {p: NeverAnswer() for p in PHONES}, SALES,
                           databases=databases) as c:
            calls = await c.callers(3)
            old, new = c.active(), c.standby()
            await c.until(lambda: len(c.actions(old.name, calls_only=True)) >= 3, 30)
            for p in PHONES:
                c.sim.phone(p).behaviour = Answer(after=0.3)
            cut = time.monotonic()
            await links[old.name].cut()
            await c.until(lambda: c.first(new.name, "DeviceStateList", cut) is not None, 10, why=new.text)
            took_over = c.first(new.name, "Login", cut)
            resynced = c.first(new.name, "DeviceStateList", cut)
            assert took_over is not None and resynced is not None
            assert resynced - cut < 3.0
            for call in calls:
                await c.until(call.answered.is_set, 30, why=new.text)
            # it gave up on its own clock (it then exits, once its history writer gave up too)
            assert "no longer active for default: its lease ran out" in old.text()
            assert [r.action for r in c.actions(old.name, took_over)] == []
    finally:
        for link in links.values():
            await link.cut()
