"""Callbacks that keep the caller's place: the core's rules, event by event."""

from __future__ import annotations

from acd.core.callbacks import CallbackState
from acd.core.commands import CallBack, HangUp, OfferCallback, Ring
from acd.core.events import (
    CallArrived,
    CallbackAgentAnswered,
    CallbackAgentFailed,
    CallbackCancelled,
    CallbackEnded,
    CallbackMoved,
    CallbacksRestored,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    DigitPressed,
    LiveCall,
    Resynced,
    StoredCallback,
)
from acd.core.model import CallbackPolicy, MissedAction, MissedCallPolicy

from .harness import Harness, config, group, only

WAIT = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=3600, retry_s=10)
POLICY = CallbackPolicy(attempts=2, spacing_s=120, agent_ring_s=20, customer_ring_s=30)


def harness(policy: CallbackPolicy | None = POLICY) -> Harness:
    h = Harness(config(group(members=("anna",), missed=WAIT, callback=policy)))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))  # anna talks on a call acd did not place
    return h


def waiting_caller(h: Harness, call_id: str, number: str = "15550001") -> None:
    h.send(CallArrived(call_id, "5000", number))


def requested(h: Harness, call_id: str = "c1", number: str = "15550001") -> None:
    waiting_caller(h, call_id, number)
    h.send(DigitPressed(call_id, "1"))
    h.send(CallerHungUp(call_id))


def anna_frees_up(h: Harness) -> list[object]:
    return h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))


def test_a_waiting_caller_is_offered_a_callback_when_the_group_offers_it() -> None:
    h = harness()
    out = h.send(CallArrived("c1", "5000", "15550001"))
    assert only(out, OfferCallback) == [OfferCallback("c1", "acd-callback-offer")]
    assert not only(harness(None).send(CallArrived("c1", "5000", "15550001")), OfferCallback)


def test_pressing_the_digit_thanks_and_hangs_up_the_caller_and_keeps_a_request() -> None:
    h = harness()
    waiting_caller(h, "c1")
    out = h.send(DigitPressed("c1", "1"))
    assert only(out, HangUp) == [HangUp("c1", "auth-thankyou")]
    assert h.records("callback_requested")[0].detail["position"] == 1
    h.send(CallerHungUp("c1"))
    assert not h.records("abandoned")  # not a caller who gave up
    assert h.router.callbacks["c1"].state is CallbackState.WAITING


def test_another_key_or_an_unknown_number_is_no_request() -> None:
    h = harness()
    waiting_caller(h, "c1")
    assert not only(h.send(DigitPressed("c1", "2")), HangUp)
    waiting_caller(h, "c2", number="anonymous")
    assert not only(h.send(DigitPressed("c2", "1")), HangUp)
    assert h.records("callback_refused")[0].detail["reason"] == "the caller's number is not known"
    assert "c2" not in h.router.callbacks


def test_the_request_keeps_its_place_ahead_of_a_later_caller() -> None:
    h = harness()
    requested(h, "c1")
    h.advance(5)
    waiting_caller(h, "c2", number="15550002")
    out = anna_frees_up(h)
    assert only(out, CallBack) == [CallBack("c1", 1, "anna", "15550001", 20, 30, "5000")]
    assert not only(out, Ring)  # the later caller keeps waiting
    # anna talks to the customer: the later caller is rung only when she is free again
    h.send(CallbackAgentAnswered("c1", 1))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    out = h.send(CallbackEnded("c1", 1, "ANSWER"))
    assert h.records("callback_attempt")[-1].detail["outcome"] == "answered"
    assert "c1" not in h.router.callbacks
    assert only(anna_frees_up(h), Ring)[0].call_id == "c2"


def test_a_caller_who_came_earlier_goes_before_the_request() -> None:
    h = harness()
    waiting_caller(h, "c0", number="15550000")
    h.advance(1)
    requested(h, "c1")
    out = anna_frees_up(h)
    assert only(out, Ring)[0].call_id == "c0" and not only(out, CallBack)


def test_an_unanswered_callback_is_retried_after_the_spacing_then_missed() -> None:
    h = harness()
    requested(h, "c1")
    anna_frees_up(h)
    h.send(CallbackAgentAnswered("c1", 1))
    h.send(CallbackEnded("c1", 1, "NOANSWER"))
    assert h.router.callbacks["c1"].outcomes == ["no answer"]
    assert not only(h.advance(119), CallBack)  # anna is free, but the spacing holds
    out = h.advance(1)
    assert only(out, CallBack) == [CallBack("c1", 2, "anna", "15550001", 20, 30, "5000")]
    h.send(CallbackAgentAnswered("c1", 2))
    h.send(CallbackEnded("c1", 2, "BUSY"))
    missed = h.records("missed", "c1")
    assert missed[-1].detail["reason"] == "callback not answered after 2 attempts"
    assert "c1" not in h.router.callbacks
    assert not only(h.advance(600), CallBack)


def test_one_attempt_at_a_time_and_late_events_of_an_old_attempt_are_ignored() -> None:
    h = harness()
    requested(h, "c1")
    anna_frees_up(h)
    # anna's phone rings for the callback: she is not free for anything else
    assert not only(h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE)), CallBack)
    h.send(CallbackAgentFailed("c1", 1, "busy"))
    assert h.router.callbacks["c1"].attempts == 0  # the customer was not called
    h.send(CallbackEnded("c1", 1, "NOANSWER"))  # a stray late event of that attempt
    assert h.router.callbacks["c1"].attempts == 0
    out = h.advance(10)  # the group's retry pause
    assert only(out, CallBack)[0].attempt == 2


def test_a_supervisor_cancels_or_moves_a_waiting_request() -> None:
    h = harness()
    waiting_caller(h, "c0", number="15550000")
    requested(h, "c1")
    h.send(CallbackMoved("c1", 1, by="sam"))
    assert h.router.callback_position(h.router.callbacks["c1"]) == 1
    assert only(anna_frees_up(h), CallBack)[0].request_id == "c1"
    h2 = harness()
    requested(h2, "c1")
    h2.send(CallbackCancelled("c1", by="sam"))
    assert "c1" not in h2.router.callbacks
    assert not only(anna_frees_up(h2), CallBack)


def stored(**kw: object) -> StoredCallback:
    base: dict[str, object] = {"request_id": "c1", "group_id": "sales", "number": "15550001",
                               "place": 990.0, "requested_at": 991.0}
    base.update(kw)
    return StoredCallback(**base)  # type: ignore[arg-type]


def test_after_a_restart_nothing_is_called_before_the_pbx_was_listed() -> None:
    h = harness()
    h.send(CallbacksRestored((stored(),)))
    assert not only(anna_frees_up(h), CallBack)
    assert only(h.send(Resynced(())), CallBack)[0].request_id == "c1"


def test_a_request_whose_call_is_still_on_the_pbx_after_a_restart_is_not_called_again() -> None:
    h = harness()
    h.send(CallbacksRestored((stored(attempts=1, tries=1, state="connecting", counted=True),)))
    anna_frees_up(h)
    assert not only(h.send(Resynced((), callbacks=("c1",))), CallBack)
    # the attempt under way ends: the customer did not answer; spacing, then the next one
    h.send(CallbackEnded("c1", 1, "NOANSWER"))
    assert not only(h.advance(119), CallBack)
    assert only(h.advance(1), CallBack)[0].attempt == 2


def test_an_attempt_that_ended_unseen_goes_to_the_missed_list_for_a_person_to_decide() -> None:
    h = harness()
    h.send(CallbacksRestored((stored(attempts=1, tries=1, state="connecting", counted=True),)))
    anna_frees_up(h)
    assert not only(h.send(Resynced(())), CallBack)
    assert h.records("callback_attempt")[-1].detail["outcome"] == "unknown"
    assert h.records("missed")[-1].detail["reason"] == (
        "callback outcome unknown: it ended while acd could not see the PBX")
    assert "c1" not in h.router.callbacks
    assert not only(h.advance(600), CallBack)


def test_a_member_ringing_when_acd_lost_sight_is_rung_again_after_the_originate_timed_out() -> None:
    h = harness()
    requested(h, "c1")
    anna_frees_up(h)  # the member's phone rings; then the AMI link drops and comes back
    assert not only(h.send(Resynced(())), CallBack)
    assert h.router.callbacks["c1"].attempts == 0  # the customer was not called
    assert not only(h.advance(19), CallBack)
    assert only(h.advance(1), CallBack)[0].attempt == 2


def test_a_waiting_request_with_a_live_channel_after_a_restart_is_taken_as_under_way() -> None:
    h = harness()  # the Originate left, acd stopped before the store heard of it
    h.send(CallbacksRestored((stored(),)))
    anna_frees_up(h)
    assert not only(h.send(Resynced((LiveCall("c9", "5000", "1", "waiting"),), callbacks=("c1",))), CallBack)
    assert h.router.callbacks["c1"].state is CallbackState.UNCERTAIN


def test_a_member_freeing_up_calls_the_request_back_at_real_epoch_times() -> None:
    h = Harness(config(group(members=("anna",), missed=WAIT, callback=POLICY)), now=1_796_044_397.857742)
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    requested(h, "c1")
    assert only(anna_frees_up(h), CallBack)[0].request_id == "c1"


def test_requests_already_made_are_still_called_back_when_the_offer_is_turned_off() -> None:
    h = harness()
    requested(h, "c1")
    off = config(group(members=("anna",), missed=WAIT, callback=None))
    h.router.reconfigure(off, h.now)
    out = anna_frees_up(h)
    assert only(out, CallBack)[0].request_id == "c1"
    h.send(CallbackAgentAnswered("c1", 1))
    h.send(CallbackEnded("c1", 1, "NOANSWER"))
    assert h.router.callbacks["c1"].state is CallbackState.WAITING  # retried with the default policy


def test_with_announcements_the_offer_follows_the_first_one_instead_of_cutting_it_short() -> None:
    from acd.core.announcements import AnnouncePolicy, Spoken

    h = Harness(config(group(members=("anna",), missed=WAIT, callback=POLICY,
                             announce=AnnouncePolicy(say=Spoken.POSITION))))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    assert not only(h.send(CallArrived("c1", "5000", "15550001")), OfferCallback)
    assert not only(h.advance(7), OfferCallback)
    assert only(h.advance(1), OfferCallback) == [OfferCallback("c1", "acd-callback-offer")]
