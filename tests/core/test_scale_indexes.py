"""The look-ups that keep a device-state change cheap at 40,000 groups (bench/scale.py):
an agent's groups come from an index, the callers waiting from an index by group, and
both follow the settings as they change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from acd.core.announcements import AnnouncePolicy, Spoken
from acd.core.call import Call
from acd.core.commands import Announce, Ring
from acd.core.events import (
    CallArrived,
    CallbacksRestored,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    LiveCall,
    Resynced,
    StoredCallback,
)
from acd.core.model import CallbackPolicy, MissedAction, MissedCallPolicy

from .harness import Harness, config, group, only, replace

WAIT = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=3600)


class CountedMembers(tuple[str, ...]):
    """A group's member list that counts every look at it."""

    looks = 0

    def __contains__(self, item: object) -> bool:
        CountedMembers.looks += 1
        return super().__contains__(item)

    def __iter__(self) -> Iterator[str]:
        CountedMembers.looks += 1
        return super().__iter__()


def busy(h: Harness, *agent_ids: str) -> None:
    for agent_id in agent_ids:
        h.send(DeviceStateChanged(agent_id, DeviceState.INUSE))


def test_groups_of_lists_each_agents_groups_once_in_the_settings_order() -> None:
    cfg = config(group(id="sales", members=("anna", "boris", "anna")), group(id="support", members=("clara", "anna")))
    assert cfg.groups_of("anna") == ("sales", "support")
    assert cfg.groups_of("clara") == ("support",)
    assert cfg.groups_of("dmitri") == ()
    assert cfg.groups_of("nobody") == ()


def test_a_device_state_change_looks_at_the_agents_own_groups_only() -> None:
    # 200 groups with a caller waiting in each, and an open callback request: anna's
    # phone going free must not read the other 199 groups' member lists (app_queue's
    # O(queues x members) per device-state change)
    others = [group(id=f"g{n}", members=CountedMembers((f"bob{n}",)), missed=WAIT,
                    callback=CallbackPolicy()) for n in range(200)]
    mine = group(id="mine", members=("anna",), missed=WAIT)
    bobs = tuple(f"bob{n}" for n in range(200))
    cfg = config(mine, *others, agent_ids=("anna", *bobs), **{str(6000 + n): f"g{n}" for n in range(200)},
                 **{"5000": "mine"})
    h = Harness(cfg)
    h.send(CallbacksRestored((StoredCallback("req-1", "g3", "15550002", place=1.0, requested_at=1.0),)))
    h.send(Resynced(()))
    busy(h, "anna", *bobs)
    for n in range(200):
        h.send(CallArrived(f"c{n}", str(6000 + n), "15550001"))
    h.send(CallArrived("for-anna", "5000", "15550001"))
    assert len(h.router.calls) == 201
    CountedMembers.looks = 0

    out = h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))

    assert [r.call_id for r in only(out, Ring)] == ["for-anna"]
    assert CountedMembers.looks == 0


def test_a_member_added_in_the_settings_gets_the_callers_waiting_there() -> None:
    cfg = config(group(id="sales", members=("anna",), missed=WAIT),
                 group(id="support", members=("boris",), missed=WAIT), **{"5000": "sales", "5001": "support"})
    h = Harness(cfg)
    busy(h, "anna", "boris")
    h.send(CallArrived("c1", "5001", "15550001"))
    h.router.reconfigure(replace(cfg, groups={**cfg.groups, "support": group(id="support", members=("boris", "anna"),
                                                                            missed=WAIT)}), h.now)
    assert h.router.config.groups_of("anna") == ("sales", "support")

    out = h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))

    assert [(r.call_id, r.agent_ids) for r in only(out, Ring)] == [("c1", ("anna",))]


def test_a_member_taken_out_in_the_settings_no_longer_gets_its_callers() -> None:
    cfg = config(group(id="sales", members=("anna", "boris"), missed=WAIT), **{"5000": "sales"})
    h = Harness(cfg)
    busy(h, "anna", "boris")
    h.send(CallArrived("c1", "5000", "15550001"))
    h.router.reconfigure(replace(cfg, groups={"sales": group(id="sales", members=("boris",), missed=WAIT)}), h.now)
    assert h.router.config.groups_of("anna") == ()

    assert only(h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE)), Ring) == []
    assert [r.agent_ids for r in only(h.send(DeviceStateChanged("boris", DeviceState.NOT_INUSE)), Ring)] == [
        ("boris",)]


def test_callers_of_a_group_removed_from_the_settings_still_reach_its_members() -> None:
    # the call keeps its group as it was when it entered it (acd.core.call)
    cfg = config(group(id="sales", members=("anna",), missed=WAIT),
                 group(id="support", members=("boris",), missed=WAIT), **{"5000": "sales", "5001": "support"})
    h = Harness(cfg)
    busy(h, "anna", "boris")
    h.send(CallArrived("c1", "5001", "15550001"))
    h.router.reconfigure(replace(cfg, groups={"sales": cfg.groups["sales"]}, numbers={"5000": "sales"}), h.now)

    out = h.send(DeviceStateChanged("boris", DeviceState.NOT_INUSE))

    assert [(r.call_id, r.agent_ids) for r in only(out, Ring)] == [("c1", ("boris",))]


def test_callers_who_arrived_at_the_same_moment_in_two_groups_are_served_in_the_order_taken_in() -> None:
    cfg = config(group(id="sales", members=("anna",), missed=WAIT),
                 group(id="support", members=("anna",), missed=WAIT), **{"5000": "sales", "5001": "support"})
    h = Harness(cfg)
    busy(h, "anna")
    h.send(CallArrived("first", "5001", "15550001"))
    h.send(CallArrived("second", "5000", "15550001"))

    out = h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))

    assert [r.call_id for r in only(out, Ring)] == ["first"]


class CountedCalls(dict[str, Call]):
    """The router's calls, counting every pass over all of them."""

    passes = 0

    def values(self) -> Any:
        CountedCalls.passes += 1
        return super().values()

    def __iter__(self) -> Iterator[str]:
        CountedCalls.passes += 1
        return super().__iter__()


ANNOUNCE = AnnouncePolicy(Spoken.POSITION, every_s=30)


def test_an_announcement_counts_the_callers_ahead_in_its_group_without_reading_every_call() -> None:
    sales = group(id="sales", members=("anna",), missed=WAIT, announce=ANNOUNCE)
    support = group(id="support", members=("boris",), missed=WAIT)
    h = Harness(config(sales, support, **{"5000": "sales", "5001": "support"}))
    busy(h, "anna", "boris")
    for n in range(50):  # callers of another group
        h.send(CallArrived(f"other{n}", "5001", "15550002"))
    for n in range(1, 4):
        h.send(CallArrived(f"c{n}", "5000", "15550001"))
        h.advance(1)
    h.router.calls = CountedCalls(h.router.calls)
    CountedCalls.passes = 0

    out = h.advance(30)

    assert [(a.call_id, a.position) for a in only(out, Announce)] == [("c1", 1), ("c2", 2), ("c3", 3)]
    assert CountedCalls.passes == 0


def test_a_caller_forwarded_from_another_group_or_found_after_a_restart_counts_in_the_line() -> None:
    first = group(id="first", members=("boris",), missed=MissedCallPolicy(MissedAction.FORWARD_GROUP, group="sales"))
    sales = group(id="sales", members=("anna",), missed=WAIT, announce=ANNOUNCE)
    h = Harness(config(first, sales, **{"5000": "sales", "5001": "first"}))
    busy(h, "anna", "boris")
    h.send(CallArrived("forwarded", "5001", "15550001"))  # nobody free in "first": on to sales
    h.advance(1)
    h.send(Resynced((LiveCall("forwarded", "5001", "15550001", "waiting", arrived_at=h.now - 1),
                     LiveCall("found", "5000", "15550002", "waiting", arrived_at=h.now - 0.5))))
    h.send(CallArrived("last", "5000", "15550003"))

    out = h.advance(30)

    assert [(a.call_id, a.position) for a in only(out, Announce)][-3:] == [
        ("forwarded", 1), ("found", 2), ("last", 3)]


def test_a_call_that_ended_leaves_the_indexes_at_once() -> None:
    # nothing else may look at a group for days (no announcements, no callbacks): the
    # indexes held every call that had ever come, and all its state, until a restart
    h = Harness(config(group(missed=WAIT)))
    for n in range(50):
        h.send(CallArrived(f"c{n}", "5000", "15550001"))
    busy(h, "anna", "boris", "clara")
    h.advance(60)  # nobody answers: the callers wait in music
    assert not h.router.waiting.empty()
    for n in range(50):
        h.send(CallerHungUp(f"c{n}"))
    assert h.router.in_group.empty() and h.router.waiting.empty()
    h.send(CallArrived("after", "5000", "15550001"))
    h.send(Resynced(()))  # the PBX lists no call: it ended while the ACD could not see it
    assert h.router.calls == {} and h.router.in_group.empty()
