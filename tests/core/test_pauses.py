"""Pauses decided by the telephony core: auto-pause after offers that rang out, the
pause code from the phone, and the stuck-state watchdog."""

from acd.core.commands import AlertSupervisors, PauseAgent, ResumeAgent, Ring
from acd.core.events import (
    AgentWorkChanged,
    AttemptEnded,
    CallArrived,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    FailReason,
    MemberAnswered,
    MemberFailed,
    MemberRinging,
    PauseRequested,
)
from acd.core.model import Mode
from acd.core.pauses import reason_for_code

from .harness import Harness, config, group, only, replace


def ring_out(h: Harness, call_id: str, agent: str = "anna") -> list:
    """A call arrives, rings ``agent`` (the first free member) and rings out."""
    out = h.send(CallArrived(call_id, "5000", "15550001"))
    ring = only(out, Ring)[0]
    assert ring.agent_ids == (agent,)
    h.send(MemberRinging(call_id, ring.attempt, agent))
    out = h.advance(15)  # 3 rings of 5 s
    h.send(CallerHungUp(call_id))
    return out


def test_a_member_whose_offers_ring_out_n_times_in_a_row_is_paused_and_skipped_with_the_reason() -> None:
    h = Harness(config(group(Mode.STRICT, pause_after_missed=3)))
    ring_out(h, "c1")
    ring_out(h, "c2")
    out = ring_out(h, "c3")
    assert only(out, PauseAgent) == [PauseAgent("anna", "missed 3 calls", by="acd")]
    alert = only(out, AlertSupervisors)[0]
    assert (alert.group_id, alert.kind, alert.detail["agent"], alert.detail["reason"]) == \
        ("sales", "agent_auto_paused", "anna", "missed 3 calls")
    # the call that made it 3 already goes on to boris in the same step
    assert [r.agent_ids for r in only(out, Ring)] == [("boris",)]
    assert h.records("auto_paused", "c3")[0].detail["agent"] == "anna"
    # the next call skips anna with that reason in the decision log
    rings = only(h.send(CallArrived("c4", "5000", "1")), Ring)
    assert rings[0].agent_ids == ("boris",)
    skip = [r.detail for r in h.records("considered", "c4") if r.detail["decision"] == "skip"]
    assert skip == [{"agent": "anna", "decision": "skip", "reason": "not working (on a break: missed 3 calls)"}]


def test_an_answer_starts_the_count_again() -> None:
    h = Harness(config(group(Mode.STRICT, pause_after_missed=2)))
    ring_out(h, "c1")
    h.send(CallArrived("c2", "5000", "1"))
    h.send(MemberAnswered("c2", 1, "anna"))
    h.send(CallerHungUp("c2"))
    assert only(ring_out(h, "c3"), PauseAgent) == []
    assert only(ring_out(h, "c4"), PauseAgent) == [PauseAgent("anna", "missed 2 calls", by="acd")]


def test_a_phone_that_never_rang_or_was_busy_does_not_count() -> None:
    h = Harness(config(group(Mode.STRICT, pause_after_missed=1)))
    h.send(CallArrived("c1", "5000", "1"))
    out = h.advance(15)  # anna's phone never rang: not her miss
    assert only(out, PauseAgent) == []
    h.send(CallerHungUp("c1"))
    h.send(CallArrived("c2", "5000", "1"))
    h.send(MemberRinging("c2", 1, "anna"))
    out = h.send(MemberFailed("c2", 1, "anna", FailReason.BUSY))  # she declined: not a ring-out
    assert only(out, PauseAgent) == []


def test_a_dial_that_ends_with_noanswer_counts_as_a_ring_out() -> None:
    h = Harness(config(group(Mode.STRICT, pause_after_missed=1)))
    h.send(CallArrived("c1", "5000", "1"))
    h.send(MemberRinging("c1", 1, "anna"))
    out = h.send(AttemptEnded("c1", 1, "NOANSWER"))
    assert only(out, PauseAgent) == [PauseAgent("anna", "missed 1 call", by="acd")]


def test_zero_turns_auto_pause_off() -> None:
    h = Harness(config(group(Mode.STRICT)))
    for n in range(5):
        assert only(ring_out(h, f"c{n}"), PauseAgent) == []


def test_auto_resume_after_m_minutes_unless_the_pause_changed_meanwhile() -> None:
    h = Harness(config(group(Mode.STRICT, pause_after_missed=1, auto_resume_s=120)))
    ring_out(h, "c1")
    h.send(AgentWorkChanged("anna", False, "on a break: missed 1 call"))  # the desk confirms
    assert only(h.advance(119), ResumeAgent) == []
    assert only(h.advance(1), ResumeAgent) == [ResumeAgent("anna", by="acd")]
    # paused again by auto-pause, then the agent picks lunch herself: no auto-resume
    h.send(AgentWorkChanged("anna", True, "working"))
    ring_out(h, "c2")
    h.send(AgentWorkChanged("anna", False, "on a break: lunch"))
    assert only(h.advance(600), ResumeAgent) == []


def test_the_pause_code_pauses_with_the_numbered_reason_and_the_resume_code_asks_to_resume() -> None:
    cfg = replace(config(group(Mode.STRICT)), pause_reasons=("lunch", "training", "after-call work"))
    h = Harness(cfg)
    assert h.send(PauseRequested("boris", True, "2")) == [PauseAgent("boris", "training", by="phone")]
    rings = only(h.send(CallArrived("c1", "5000", "1")), Ring)
    assert rings[0].agent_ids == ("anna",)
    h.send(CallerHungUp("c1"))
    h.send(CallArrived("c2", "5000", "1"))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    h.send(CallerHungUp("c2"))
    rings = only(h.send(CallArrived("c3", "5000", "1")), Ring)
    assert rings[0].agent_ids == ("clara",)
    assert [r.detail["reason"] for r in h.records("considered", "c3") if r.detail["agent"] == "boris"] == \
        ["not working (on a break: training)"]
    assert h.send(PauseRequested("boris", False)) == [ResumeAgent("boris", by="phone")]


def test_pause_codes_name_reasons_from_one() -> None:
    reasons = ("lunch", "training")
    assert [reason_for_code(reasons, c) for c in ("1", "2", "3", "", "0", "x1")] == \
        ["lunch", "training", "", "", "", ""]


# ---------------------------------------------------------------------- the watchdog
def watched(**kw: float) -> Harness:
    return Harness(replace(config(group(Mode.STRICT, **kw)), stuck_after_s=10))


def test_an_agent_on_a_call_in_acd_but_idle_on_the_phone_is_corrected_after_n_seconds() -> None:
    h = watched()
    h.send(CallArrived("c1", "5000", "1"))
    h.send(MemberAnswered("c1", 1, "anna"))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))  # the hang-up event was lost
    h.advance(9.9)
    assert h.router.agents.status("anna").calls == {"c1"}
    h.advance(0.1)
    assert h.router.agents.status("anna").calls == set()
    fix = h.records("state_corrected", "c1")[0].detail
    assert fix == {"agent": "anna", "acd_said": "on a call", "device": "NOT_INUSE", "for_s": 10.0}
    rings = only(h.send(CallArrived("c2", "5000", "1")), Ring)
    assert rings[0].agent_ids == ("anna",)


def test_a_short_disagreement_is_not_corrected() -> None:
    h = watched()
    h.send(CallArrived("c1", "5000", "1"))
    h.send(MemberAnswered("c1", 1, "anna"))  # the device state comes a moment later
    h.advance(2)
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    h.advance(60)
    assert h.router.agents.status("anna").calls == {"c1"}
    assert h.records("state_corrected") == []


def test_an_agent_ringing_in_acd_with_an_idle_phone_is_released_and_the_call_moves_on() -> None:
    h = watched(rings=10)  # 50 s of ring time: the watchdog comes first
    h.send(CallArrived("c1", "5000", "1"))
    h.send(MemberRinging("c1", 1, "anna"))
    h.send(DeviceStateChanged("anna", DeviceState.RINGING))
    h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))  # stopped ringing; the DialEnd was lost
    out = h.advance(10)
    assert [r.agent_ids for r in only(out, Ring)] == [("boris",)]
    assert h.records("state_corrected", "c1")[0].detail["acd_said"] == "ringing"
    assert h.router.agents.status("anna").ringing == set()


def test_the_watchdog_is_off_at_zero() -> None:
    h = Harness(config(group(Mode.STRICT)))
    h.send(CallArrived("c1", "5000", "1"))
    h.send(MemberAnswered("c1", 1, "anna"))
    h.advance(3600)
    assert h.router.agents.status("anna").calls == {"c1"}
