"""Missed-call processing: each action, its fall-backs, and keep-waiting re-offers."""

from acd.core.commands import Forward, HangUp, Hold, Ring, SendToVoicemail
from acd.core.events import (
    AttemptEnded,
    CallArrived,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    MemberAnswered,
    MemberRinging,
)
from acd.core.model import MissedAction, MissedCallPolicy, Mode

from .harness import Harness, config, group, only, replace


def nobody_answers(h: Harness, call_id: str = "c1") -> list:
    """Every member of the (all-at-once) group rings out."""
    h.send(CallArrived(call_id, "5000", "15550001"))
    h.send(MemberRinging(call_id, 1, "anna"))
    return h.advance(15)


def test_voicemail_goes_to_the_first_members_mailbox_by_default() -> None:
    h = Harness(config(group(Mode.ALL)))
    assert only(nobody_answers(h), SendToVoicemail) == [SendToVoicemail("c1", "101@default")]


def test_voicemail_goes_to_the_named_persons_mailbox() -> None:
    h = Harness(config(group(Mode.ALL, missed=MissedCallPolicy(MissedAction.VOICEMAIL, person="clara"))))
    assert only(nobody_answers(h), SendToVoicemail) == [SendToVoicemail("c1", "103@default")]


def test_forward_to_the_responsible_persons_mobile() -> None:
    cfg = config(group(Mode.ALL, missed=MissedCallPolicy(MissedAction.FORWARD_MOBILE)),
                 mobiles={"anna": "+4915112345678"})
    h = Harness(cfg)
    fwd = only(nobody_answers(h), Forward)
    assert [(f.number, f.attempt) for f in fwd] == [("+4915112345678", 2)]


def test_forward_to_mobile_without_a_mobile_falls_back_to_voicemail_and_says_why() -> None:
    h = Harness(config(group(Mode.ALL, missed=MissedCallPolicy(MissedAction.FORWARD_MOBILE))))
    assert only(nobody_answers(h), SendToVoicemail)
    assert "no mobile" in h.records("voicemail")[0].detail["note"]


def test_forward_to_a_number_and_voicemail_when_that_number_does_not_answer() -> None:
    h = Harness(config(group(Mode.ALL, missed=MissedCallPolicy(MissedAction.FORWARD_NUMBER, number="+4930111"))))
    assert [f.number for f in only(nobody_answers(h), Forward)] == ["+4930111"]
    out = h.send(AttemptEnded("c1", 2, "NOANSWER"))
    assert only(out, SendToVoicemail) == [SendToVoicemail("c1", "101@default")]
    assert h.records("forward_failed")


def test_forwarded_call_answered_outside_is_connected() -> None:
    h = Harness(config(group(Mode.ALL, missed=MissedCallPolicy(MissedAction.FORWARD_NUMBER, number="+4930111"))))
    nobody_answers(h)
    h.send(MemberAnswered("c1", 2, ""))
    assert h.records("answered")[0].detail["number"] == "+4930111"
    h.send(CallerHungUp("c1"))
    assert h.records("ended")


def test_forward_to_another_group_starts_over_there() -> None:
    sales = group(Mode.ALL, members=("anna",), missed=MissedCallPolicy(MissedAction.FORWARD_GROUP, group="support"))
    support = group(Mode.STRICT, id="support", members=("clara", "dmitri"))
    h = Harness(config(sales, support))
    h.send(CallArrived("c1", "5000", "1"))
    out = h.advance(15)
    assert [r.agent_ids for r in only(out, Ring)] == [("clara",)]
    assert h.records("rerouted")[0].detail["group"] == "support"


def test_hang_up_with_a_message() -> None:
    h = Harness(config(group(Mode.ALL, missed=MissedCallPolicy(MissedAction.HANGUP, message="acd/closed"))))
    assert only(nobody_answers(h), HangUp) == [HangUp("c1", "acd/closed")]


def test_keep_waiting_holds_the_caller_and_offers_the_call_when_a_member_frees_up() -> None:
    policy = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=120, retry_s=30)
    h = Harness(config(group(Mode.STRICT, members=("anna", "boris"), missed=policy)))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    h.send(DeviceStateChanged("boris", DeviceState.INUSE))
    out = h.send(CallArrived("c1", "5000", "1"))
    assert only(out, Ring) == [] and h.records("waiting")
    assert only(out, Hold) == []  # the caller is already in music: no needless Redirect
    out = h.send(DeviceStateChanged("boris", DeviceState.NOT_INUSE))
    assert [r.agent_ids for r in only(out, Ring)] == [("boris",)]


def test_keep_waiting_rings_again_after_the_retry_pause_and_gives_up_at_the_maximum() -> None:
    policy = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=60, retry_s=10, after_wait=MissedAction.VOICEMAIL)
    h = Harness(config(group(Mode.STRICT, members=("anna",), rings=2, missed=policy)))
    h.send(CallArrived("c1", "5000", "1"))
    h.send(MemberRinging("c1", 1, "anna"))
    out = h.advance(10)  # anna rang out: back to music
    assert only(out, Hold) == [Hold("c1")]
    out = h.advance(10)  # the retry pause is over: anna rings again
    assert [r.agent_ids for r in only(out, Ring)] == [("anna",)]
    out = h.advance(45)  # 65 s since arrival: the maximum wait is over
    assert only(out, SendToVoicemail) == [SendToVoicemail("c1", "101@default")]
    assert len(h.records("missed")) == 1


def test_waiting_callers_are_served_in_arrival_order() -> None:
    policy = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=600)
    h = Harness(config(group(Mode.STRICT, members=("anna",), missed=policy)))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    h.send(CallArrived("first", "5000", "1"))
    h.advance(1)
    h.send(CallArrived("second", "5000", "2"))
    out = h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
    assert [r.call_id for r in only(out, Ring)] == ["first"]


def test_unrouted_number_is_recorded_as_missed_and_hung_up() -> None:
    h = Harness(config(group()))
    out = h.send(CallArrived("c1", "9999", "1"))
    assert only(out, HangUp) == [HangUp("c1", "")]
    assert h.records("missed")[0].detail["reason"] == "number not routed to a queue group"


def test_no_member_available_at_all_goes_straight_to_missed_processing() -> None:
    h = Harness(config(group(Mode.STRICT)))
    for a in ("anna", "boris", "clara"):
        h.send(DeviceStateChanged(a, DeviceState.UNAVAILABLE))
    out = h.send(CallArrived("c1", "5000", "1"))
    assert only(out, SendToVoicemail)
    assert h.records("missed")[0].detail["reason"] == "no member available"


def test_a_forward_with_no_result_goes_to_voicemail_after_its_ring_time() -> None:
    policy = MissedCallPolicy(MissedAction.FORWARD_NUMBER, number="+4930111", forward_ring_s=20)
    h = Harness(config(group(Mode.ALL, missed=policy)))
    nobody_answers(h)
    assert only(h.advance(29), SendToVoicemail) == []  # ring time 20 s + 10 s set-up allowance
    assert only(h.advance(1), SendToVoicemail) == [SendToVoicemail("c1", "101@default")]
    assert h.records("forward_failed")[0].detail["dial_status"] == "no result"


def test_keep_waiting_does_not_ring_again_the_member_who_just_let_it_ring_out() -> None:
    # the phone going back to idle after ringing out must not re-ring it at once:
    # retry_seconds count from the end of the unanswered offer
    policy = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=120, retry_s=10)
    h = Harness(config(group(Mode.STRICT, members=("farid",), missed=policy), agent_ids=("farid",)))
    h.send(CallArrived("c1", "5000", "1"))
    h.send(MemberRinging("c1", 1, "farid"))
    h.advance(15)  # three rings, no answer: back to music
    out = h.send(DeviceStateChanged("farid", DeviceState.NOT_INUSE))
    assert only(out, Ring) == []
    assert only(h.advance(9.5), Ring) == []
    assert [r.agent_ids for r in only(h.advance(0.5), Ring)] == [("farid",)]


def test_keep_waiting_logs_a_skip_once_until_its_reason_changes() -> None:
    policy = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=600, retry_s=5)
    h = Harness(config(group(Mode.STRICT, members=("anna", "boris"), missed=policy)))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    h.send(DeviceStateChanged("boris", DeviceState.UNAVAILABLE))
    h.send(CallArrived("c1", "5000", "1"))
    h.advance(30)  # six retry passes
    h.send(DeviceStateChanged("boris", DeviceState.INUSE))
    h.advance(30)  # six more passes: boris is skipped for a new reason, once
    skips = [(r.detail["agent"], r.detail["reason"]) for r in h.records("considered")
             if r.detail["decision"] == "skip"]
    assert skips == [("anna", "busy"), ("boris", "offline"), ("boris", "busy")]


def test_the_abandoned_and_missed_records_name_each_member_once() -> None:
    policy = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=120, retry_s=10)
    h = Harness(config(group(Mode.STRICT, members=("farid",), missed=policy), agent_ids=("farid",)))
    h.send(CallArrived("c1", "5000", "1"))
    h.send(MemberRinging("c1", 1, "farid"))
    h.advance(15)
    h.advance(10)  # farid rings a second time
    h.send(CallerHungUp("c1"))
    assert h.records("abandoned")[0].detail["tried"] == ["farid"]
    assert h.records("missed")[0].detail["tried"] == ["farid"]


def test_a_forward_chain_back_to_a_group_already_tried_ends_in_the_first_groups_voicemail() -> None:
    # validation refuses such a loop; a live settings change can still make one for a
    # call under way: it never ends in a hang-up
    to = lambda target: MissedCallPolicy(MissedAction.FORWARD_GROUP, group=target)  # noqa: E731
    sales = group(Mode.ALL, id="sales", members=("anna",), missed=to("support"))
    support = group(Mode.ALL, id="support", members=("boris",), missed=to("sales"))
    h = Harness(config(sales, support))
    h.send(CallArrived("c1", "5000", "1"))
    h.advance(15)  # sales rang out: on to support
    out = h.advance(15)  # support rang out: sales was already tried
    assert only(out, HangUp) == []
    assert only(out, SendToVoicemail) == [SendToVoicemail("c1", "101@default")]  # anna: sales' responsible
    assert "already" in h.records("voicemail")[0].detail["note"]


def test_a_chain_longer_than_the_hop_limit_ends_in_the_first_groups_voicemail() -> None:
    to = lambda target: MissedCallPolicy(MissedAction.FORWARD_GROUP, group=target)  # noqa: E731
    groups = [group(Mode.ALL, id=f"g{i}", members=(m,), missed=to(f"g{i + 1}"))
              for i, m in enumerate(("anna", "boris", "clara"))]
    groups.append(group(Mode.ALL, id="g3", members=("dmitri",)))
    cfg = config(*groups)
    h = Harness(replace(cfg, max_group_hops=2))
    h.send(CallArrived("c1", "5000", "1"))
    out = h.advance(45)
    assert only(out, HangUp) == []
    assert only(out, SendToVoicemail) == [SendToVoicemail("c1", "101@default")]
