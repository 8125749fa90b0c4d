"""What a caller waiting in music hears: position, estimated wait, the group's message."""

from __future__ import annotations

import pytest

from acd.core.announcements import AnnouncePolicy, Spoken, next_hold_average, wait_minutes
from acd.core.commands import Announce, CancelTimer, Ring, StartTimer
from acd.core.events import CallArrived, CallerHungUp, DeviceState, DeviceStateChanged, MemberAnswered
from acd.core.model import MissedAction, MissedCallPolicy, Mode

from .harness import Harness, config, group, only, replace

WAIT = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=3600, retry_s=5)


def busy_line(policy: AnnouncePolicy, callers: int = 3) -> Harness:
    """anna is on a call; ``callers`` callers wait for her, c1 first."""
    h = Harness(config(group(Mode.STRICT, members=("anna",), missed=WAIT, announce=policy)))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    for n in range(1, callers + 1):
        h.send(CallArrived(f"c{n}", "5000", f"555{n}"))
        h.advance(1)
    return h


def announced(commands: list[object], call_id: str) -> list[Announce]:
    return [c for c in only(commands, Announce) if c.call_id == call_id]


def test_a_waiting_caller_hears_their_position_as_waiting_starts_and_every_n_seconds() -> None:
    h = busy_line(AnnouncePolicy(Spoken.POSITION, every_s=30), callers=3)
    first = [c for c in h.log if isinstance(c, Announce)]
    assert first == [Announce("c1", 1, None), Announce("c2", 2, None), Announce("c3", 3, None)]
    out = h.advance(29)  # c3 arrived at +2 s, so its next one is due at +32 s
    assert announced(out, "c3") == [Announce("c3", 3, None)]
    assert announced(h.advance(29), "c3") == []
    assert announced(h.advance(1), "c3") == [Announce("c3", 3, None)]


def test_the_position_follows_the_callers_ahead_as_they_leave() -> None:
    h = busy_line(AnnouncePolicy(Spoken.POSITION, every_s=30), callers=3)
    h.send(CallerHungUp("c1"))  # the first in line gives up
    assert announced(h.advance(30), "c3") == [Announce("c3", 2, None)]
    h.send(CallerHungUp("c2"))
    assert announced(h.advance(30), "c3") == [Announce("c3", 1, None)]


def test_a_caller_being_rung_is_not_announced_to_and_the_announcement_stops_once_answered() -> None:
    h = busy_line(AnnouncePolicy(Spoken.POSITION, every_s=30), callers=1)
    out = h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))  # anna is free: c1 rings at once
    assert [r.agent_ids for r in only(out, Ring)] == [("anna",)]
    assert announced(h.advance(30), "c1") == []  # due while ringing: skipped, the ring goes on
    out = h.send(MemberAnswered("c1", 1, "anna"))
    assert CancelTimer("announce|c1") in out
    assert "announce|c1" not in h.timers


def test_off_by_default_no_announcement() -> None:
    h = busy_line(AnnouncePolicy(), callers=2)
    h.advance(600)
    assert only(h.log, Announce) == []


def test_the_estimate_is_the_exponential_average_of_answered_waits_less_the_time_waited() -> None:
    h = Harness(config(group(Mode.STRICT, members=("anna",), missed=WAIT,
                             announce=AnnouncePolicy(Spoken.POSITION_AND_WAIT, every_s=60))))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    h.send(CallArrived("c1", "5000", "1"))
    h.advance(0)
    assert announced(h.log, "c1") == [Announce("c1", 1, None)]  # no answered call yet: no estimate
    h.advance(240)
    h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
    h.send(MemberAnswered("c1", 1, "anna"))  # waited 240 s: the average starts there
    assert h.router.hold_average["sales"] == pytest.approx(240)
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    h.send(CallArrived("c2", "5000", "2"))
    h.advance(0)
    assert announced(h.log, "c2") == [Announce("c2", 1, 4)]  # 240 s ahead: 4 minutes
    h.advance(60)
    assert announced(h.log, "c2")[-1] == Announce("c2", 1, 3)  # 180 s left
    h.advance(60)
    assert announced(h.log, "c2")[-1] == Announce("c2", 1, 2)  # 120 s left
    h.advance(60)
    assert announced(h.log, "c2")[-1] == Announce("c2", 1, 1)  # 60 s left: one minute
    h.advance(30)
    h.send(CallArrived("c3", "5000", "3"))
    h.advance(0)
    assert announced(h.log, "c3") == [Announce("c3", 2, 4)]  # behind c2, its own wait estimated alike
    h.advance(30)
    assert announced(h.log, "c2")[-1] == Announce("c2", 1, 0)  # none left: less than one minute
    h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
    h.send(MemberAnswered("c2", 1, "anna"))  # waited 240 s
    assert h.router.hold_average["sales"] == pytest.approx(240)
    h.advance(10)
    h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
    h.send(MemberAnswered("c3", 2, "anna"))  # waited 40 s
    assert h.router.hold_average["sales"] == pytest.approx((3 * 240 + 40) / 4)


def test_estimate_formula_and_rounding() -> None:
    assert next_hold_average(None, 100) == 100
    assert next_hold_average(100, 20) == 80
    assert wait_minutes(None, 0) is None
    assert wait_minutes(59.9, 0) == 0  # less than one minute
    assert wait_minutes(60, 0) == 1
    assert wait_minutes(61, 0) == 2  # rounded up
    assert wait_minutes(300, 400) == 0  # waited longer than the average


def test_the_groups_message_plays_every_m_seconds_and_joins_a_position_due_at_the_same_time() -> None:
    policy = AnnouncePolicy(Spoken.POSITION, every_s=60, message="custom/sales-busy", message_every_s=60)
    h = busy_line(policy, callers=1)
    assert announced(h.log, "c1") == [Announce("c1", 1, None)]  # the message comes after 60 s
    assert announced(h.advance(60), "c1") == [Announce("c1", 1, None, "custom/sales-busy")]


def test_a_message_alone_without_position() -> None:
    h = busy_line(AnnouncePolicy(Spoken.OFF, message="custom/wait", message_every_s=45), callers=1)
    assert announced(h.log, "c1") == []
    out = h.advance(45)
    assert announced(out, "c1") == [Announce("c1", None, None, "custom/wait")]
    assert [r.detail for r in h.records("announced")] == [{"position": None, "wait_minutes": None,
                                                          "message": "custom/wait"}]


def test_announcements_stop_when_the_wait_ends_in_voicemail() -> None:
    waiting = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=100, retry_s=5)
    h = Harness(config(group(Mode.STRICT, members=("anna",), missed=waiting,
                             announce=AnnouncePolicy(Spoken.POSITION, every_s=30))))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    h.send(CallArrived("c1", "5000", "1"))
    h.advance(100)  # the longest wait is over: voicemail
    count = len(only(h.log, Announce))
    h.advance(300)
    assert len(only(h.log, Announce)) == count
    assert "announce|c1" not in h.timers


def test_switched_on_while_callers_wait_they_hear_it_from_then_on() -> None:
    h = busy_line(AnnouncePolicy(), callers=2)
    assert only(h.log, Announce) == []
    cfg = h.router.config
    on = replace(cfg.groups["sales"], announce=AnnouncePolicy(Spoken.POSITION, every_s=30))
    out = h.router.reconfigure(replace(cfg, groups={"sales": on}), h.now)
    h.timers.update({c.key: h.now + c.delay_s for c in only(out, StartTimer)})
    h.advance(0)
    assert [(a.call_id, a.position) for a in only(h.log, Announce)] == [("c1", 1), ("c2", 2)]
