"""The hold-time average behind the wait announcements restarts from the history."""

from __future__ import annotations

import pytest

from acd.core.announcements import next_hold_average
from acd.core.commands import Record
from acd.core.model import QueueGroup, RoutingConfig
from acd.core.router import Router
from acd.store import Store

T0 = 1_800_000_000.0


def answered(call_id: str, group: str, at: float, waited: float, agent: str | None = "anna") -> list[Record]:
    return [Record(call_id, at, "arrived", {"did": "5000", "caller_number": "1", "group": group}),
            Record(call_id, at + waited, "answered", {"agent": agent, "waited_s": waited})]


def test_the_last_answered_waits_of_each_group_oldest_first(db_url: str) -> None:
    store = Store(db_url)
    store.create_all()
    records = []
    for n, waited in enumerate([30.0, 90.0, 45.0, 60.0]):
        records += answered(f"s{n}", "sales", T0 + 100 * n, waited)
    records += answered("o1", "support", T0, 12.0)
    records += answered("f1", "sales", T0 + 1000, 500.0, agent=None)  # a forward answered outside: no member
    store.apply_records(records)
    assert store.recent_waits(["sales", "support", "empty"], last=3) == {"sales": [90.0, 45.0, 60.0],
                                                                       "support": [12.0]}
    routing = RoutingConfig(groups={"sales": QueueGroup("sales", "Sales", ())})
    router = Router(routing, recent_waits=store.recent_waits(["sales"], last=3))
    expected = next_hold_average(next_hold_average(next_hold_average(None, 90.0), 45.0), 60.0)
    assert router.hold_average == {"sales": pytest.approx(expected)}
    store.close()
