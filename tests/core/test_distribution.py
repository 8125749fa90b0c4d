"""The three distribution modes and ring counting, on the pure router."""

from acd.core.commands import CancelTimer, Hold, Ring, SendToVoicemail, StartTimer
from acd.core.events import (
    AttemptEnded,
    CallArrived,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    FailReason,
    MemberAnswered,
    MemberFailed,
    MemberRinging,
)
from acd.core.model import Mode

from .harness import Harness, config, group, only


def arrive(h: Harness, call_id: str = "c1") -> list:
    return h.send(CallArrived(call_id, "5000", "15550001"))


def test_strict_order_rings_first_member_then_passes_on_after_exactly_three_rings() -> None:
    h = Harness(config(group(Mode.STRICT, rings=3, ring_seconds=5)))
    rings = only(arrive(h), Ring)
    assert [r.agent_ids for r in rings] == [("anna",)]
    h.advance(2)  # the dial takes 2 s before the phone rings: not counted
    h.send(MemberRinging("c1", 1, "anna"))
    assert only(h.advance(14.9), Ring) == []  # 14.9 s of ringing: still anna
    nxt = only(h.advance(0.1), Ring)  # 15 s = 3 rings of 5 s
    assert [r.agent_ids for r in nxt] == [("boris",)]
    assert nxt[0].attempt == 2
    assert h.records("no_answer")[0].detail["agent"] == "anna"


def test_strict_order_every_call_starts_again_at_the_first_member() -> None:
    h = Harness(config(group(Mode.STRICT)))
    for n in range(3):
        cid = f"c{n}"
        first = only(h.send(CallArrived(cid, "5000", "1")), Ring)[0]
        assert first.agent_ids == ("anna",)
        h.send(CallerHungUp(cid))


def test_a_phone_that_never_rings_is_given_up_after_the_ring_time() -> None:
    h = Harness(config(group(Mode.STRICT, rings=2, ring_seconds=5)))
    arrive(h)
    assert only(h.advance(9.9), Ring) == []
    assert [r.agent_ids for r in only(h.advance(0.1), Ring)] == [("boris",)]
    assert h.records("no_answer")[0].detail["reason"] == "phone never rang"


def test_offline_busy_and_non_working_members_are_skipped_without_waiting() -> None:
    h = Harness(config(group(Mode.STRICT, members=("anna", "boris", "clara", "dmitri"))))
    h.send(DeviceStateChanged("anna", DeviceState.UNAVAILABLE))
    h.send(DeviceStateChanged("boris", DeviceState.INUSE))
    from acd.core.events import AgentWorkChanged
    h.send(AgentWorkChanged("clara", False, "on a break"))
    rings = only(arrive(h), Ring)
    assert [r.agent_ids for r in rings] == [("dmitri",)]
    reasons = {r.detail["agent"]: r.detail["reason"] for r in h.records("considered") if r.detail["decision"] == "skip"}
    assert reasons == {"anna": "offline", "boris": "busy", "clara": "not working (on a break)"}


def test_an_unreachable_member_is_passed_over_at_once_when_the_dial_fails() -> None:
    h = Harness(config(group(Mode.STRICT)))
    arrive(h)
    nxt = only(h.send(AttemptEnded("c1", 1, "CHANUNAVAIL")), Ring)
    assert [r.agent_ids for r in nxt] == [("boris",)]
    assert h.records("failed")[0].detail == {"agent": "anna", "reason": "unavailable", "attempt": 1}


def test_busy_member_leg_waits_for_the_dialplan_before_moving_on() -> None:
    # DialEnd BUSY comes before the dialplan's ACDDialResult (transcripts 05): the next
    # Redirect waits for the latter so it never races the return to hold.
    h = Harness(config(group(Mode.STRICT)))
    arrive(h)
    assert only(h.send(MemberFailed("c1", 1, "anna", FailReason.BUSY)), Ring) == []
    assert [r.agent_ids for r in only(h.send(AttemptEnded("c1", 1, "BUSY")), Ring)] == [("boris",)]


def test_events_of_an_attempt_already_left_are_ignored() -> None:
    h = Harness(config(group(Mode.STRICT, rings=2)))
    arrive(h)
    h.send(MemberRinging("c1", 1, "anna"))
    h.advance(10)  # anna's rings are over: boris is attempt 2
    assert h.send(MemberFailed("c1", 1, "anna", FailReason.CANCELLED)) == []
    assert h.send(AttemptEnded("c1", 1, "NOANSWER")) == []
    assert h.send(MemberRinging("c1", 1, "anna")) == []


def test_evenly_starts_each_call_with_the_least_recently_offered_member() -> None:
    h = Harness(config(group(Mode.EVENLY, members=("anna", "boris", "clara", "dmitri"))))
    starts = []
    for n in range(8):
        cid = f"c{n}"
        ring = only(h.send(CallArrived(cid, "5000", "1")), Ring)[0]
        starts.append(ring.agent_ids[0])
        h.send(MemberAnswered(cid, ring.attempt, ring.agent_ids[0]))
        h.advance(1)
        h.send(CallerHungUp(cid))
        h.advance(1)
    assert starts == ["anna", "boris", "clara", "dmitri"] * 2


def test_evenly_counts_an_unanswered_offer_as_an_offer() -> None:
    h = Harness(config(group(Mode.EVENLY, members=("anna", "boris", "clara"), rings=2)))
    arrive(h, "c1")
    h.send(MemberRinging("c1", 1, "anna"))
    h.advance(10)  # anna did not answer; boris rings
    h.send(MemberAnswered("c1", 2, "boris"))
    h.advance(1)
    ring = only(h.send(CallArrived("c2", "5000", "1")), Ring)[0]
    assert ring.agent_ids == ("clara",)  # anna and boris were both offered c1


def test_all_at_once_rings_every_available_member_together() -> None:
    h = Harness(config(group(Mode.ALL, members=("anna", "boris", "clara", "dmitri"))))
    h.send(DeviceStateChanged("clara", DeviceState.UNAVAILABLE))
    rings = only(arrive(h), Ring)
    assert [r.agent_ids for r in rings] == [("anna", "boris", "dmitri")]
    h.send(MemberRinging("c1", 1, "anna"))
    h.send(MemberRinging("c1", 1, "boris"))
    h.send(MemberAnswered("c1", 1, "boris"))
    status = h.router.agents
    assert status.status("anna").ringing == set() and status.status("boris").calls == {"c1"}
    assert h.records("answered")[0].detail["agent"] == "boris"


def test_all_at_once_goes_to_missed_call_processing_after_the_rings() -> None:
    h = Harness(config(group(Mode.ALL, rings=2, ring_seconds=5)))
    arrive(h)
    h.send(MemberRinging("c1", 1, "anna"))
    out = h.advance(10)
    assert only(out, SendToVoicemail) == [SendToVoicemail("c1", "101@default")]
    missed = h.records("missed")[0].detail
    assert missed["tried"] == ["anna", "boris", "clara"] and missed["reason"] == "nobody answered"


def test_a_member_already_ringing_for_another_call_is_skipped() -> None:
    h = Harness(config(group(Mode.STRICT)))
    arrive(h, "c1")
    ring2 = only(h.send(CallArrived("c2", "5000", "2")), Ring)[0]
    assert ring2.agent_ids == ("boris",)


def test_caller_hanging_up_while_ringing_is_recorded_as_abandoned_and_missed() -> None:
    h = Harness(config(group(Mode.ALL)))
    arrive(h)
    h.send(MemberRinging("c1", 1, "anna"))
    h.advance(3)
    out = h.send(CallerHungUp("c1", by_caller=True))
    assert only(out, Ring) == [] and only(out, Hold) == []  # Asterisk cancels the Dial itself
    assert h.records("abandoned")[0].detail["waited_s"] == 3
    assert h.records("missed")[0].detail["reason"] == "caller hung up while waiting"
    assert all(not s.ringing for s in h.router.agents.all().values())
    assert h.timers == {}


def test_wrapup_keeps_a_member_from_the_next_call() -> None:
    h = Harness(config(group(Mode.STRICT, wrapup_s=30)))
    arrive(h, "c1")
    h.send(MemberAnswered("c1", 1, "anna"))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    h.send(CallerHungUp("c1"))
    h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
    assert only(h.send(CallArrived("c2", "5000", "2")), Ring)[0].agent_ids == ("boris",)
    skip = [r.detail for r in h.records("considered", "c2") if r.detail["decision"] == "skip"]
    assert skip == [{"agent": "anna", "decision": "skip", "reason": "wrap-up", "until": h.now + 30}]
    h.send(CallerHungUp("c2"))
    h.advance(31)
    assert only(h.send(CallArrived("c3", "5000", "3")), Ring)[0].agent_ids == ("anna",)


def test_a_member_skipped_on_a_call_is_logged_with_when_their_call_began() -> None:
    """The decision log says "Anna was skipped: on a call since 10:42"."""
    h = Harness(config(group(Mode.STRICT)))
    arrive(h, "c1")
    h.advance(4)
    h.send(MemberAnswered("c1", 1, "anna"))
    answered_at = h.now
    h.advance(60)
    arrive(h, "c2")
    skip = [r.detail for r in h.records("considered", "c2") if r.detail["decision"] == "skip"]
    assert skip == [{"agent": "anna", "decision": "skip", "reason": "on a call", "since": answered_at}]


def test_only_the_timers_that_run_are_cancelled() -> None:
    # a CancelTimer for every timer a call might have had was one command in three
    h = Harness(config(group(Mode.ALL, rings=3, ring_seconds=5)))
    started = only(arrive(h), StartTimer)
    assert [t.key for t in started] == ["noring|c1|1"]
    rang = h.send(MemberRinging("c1", 1, "anna"))
    assert [t.key for t in only(rang, CancelTimer)] == ["noring|c1|1"]
    assert [t.key for t in only(rang, StartTimer)] == ["ring|c1|1"]
    answered = h.send(MemberAnswered("c1", 1, "anna"))
    assert [t.key for t in only(answered, CancelTimer)] == ["ring|c1|1"]
    assert only(h.send(CallerHungUp("c1")), CancelTimer) == []
    assert h.timers == {}


def test_a_timer_that_ran_out_is_not_cancelled_again() -> None:
    h = Harness(config(group(Mode.STRICT, rings=2, ring_seconds=5)))
    arrive(h)
    h.advance(10)  # anna's phone never rang: boris is rung, attempt 2
    assert h.timers == {"noring|c1|2": 1_020.0}
    assert [t.key for t in only(h.send(CallerHungUp("c1")), CancelTimer)] == ["noring|c1|2"]
    assert h.timers == {}
