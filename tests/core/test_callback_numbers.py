"""The number a callback goes to: the caller id, or one the caller types and confirms."""

from __future__ import annotations

import dataclasses

from acd.core.announcements import AnnouncePolicy, Spoken
from acd.core.callback_numbers import AskNumber, must_ask, refusal
from acd.core.commands import Announce, AskCallbackNumber, CallBack, HangUp, Ring
from acd.core.events import (
    CallArrived,
    CallbackNumberEntered,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    DigitPressed,
)
from acd.core.model import CallbackPolicy, MissedAction, MissedCallPolicy

from .harness import Harness, config, group, only

WAIT = MissedCallPolicy(MissedAction.KEEP_WAITING, max_wait_s=3600, retry_s=10)


def harness(ask: AskNumber = AskNumber.WHEN_UNKNOWN, pattern: str = "", **group_kw: object) -> Harness:
    policy = CallbackPolicy(ask_number=ask, number_tries=2, number_pattern=pattern)
    h = Harness(config(group(members=("anna",), missed=WAIT, callback=policy, **group_kw)))
    h.send(DeviceStateChanged("anna", DeviceState.INUSE))
    return h


def test_whether_the_caller_is_asked_for_the_number() -> None:
    assert not must_ask(AskNumber.NEVER, "")
    assert must_ask(AskNumber.WHEN_UNKNOWN, "anonymous") and must_ask(AskNumber.WHEN_UNKNOWN, "")
    assert not must_ask(AskNumber.WHEN_UNKNOWN, "+4930123456")
    assert must_ask(AskNumber.ALWAYS, "+4930123456")


def test_an_entered_number_is_taken_only_when_it_is_a_confirmed_customer_line() -> None:
    assert refusal("4930123456", confirmed=True) is None
    assert refusal("4930123456", confirmed=False) == "the number was not confirmed"
    assert refusal("", confirmed=True) == "no number was entered"
    assert refusal("49301#", confirmed=True) == "the number has characters other than digits"
    for emergency in ("112", "911", "999", "000", "110", "15"):
        assert refusal(emergency, confirmed=True) == "the number is shorter than 5 digits"
    assert refusal("1" * 16, confirmed=True) == "the number is longer than 15 digits"
    assert refusal("0301234567", confirmed=True, pattern=r"0[1-9][0-9]{6,12}") is None
    assert refusal("9301234567", confirmed=True, pattern=r"0[1-9][0-9]{6,12}") == \
        "the number is not one the group calls back"


def test_an_anonymous_caller_is_asked_for_the_number_and_keeps_their_place_on_it() -> None:
    h = harness()
    h.send(CallArrived("c1", "5000", "anonymous"))
    out = h.send(DigitPressed("c1", "1"))
    assert only(out, AskCallbackNumber) == [AskCallbackNumber("c1", 15)]
    assert not only(out, HangUp) and "c1" not in h.router.callbacks
    out = h.send(CallbackNumberEntered("c1", "4930123456", confirmed=True))
    assert only(out, HangUp) == [HangUp("c1", "auth-thankyou")]
    assert h.records("callback_requested")[0].detail["number"] == "4930123456"
    h.send(CallerHungUp("c1"))
    out = h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
    assert only(out, CallBack)[0].number == "4930123456"


def test_a_known_caller_id_is_used_unless_the_group_always_asks() -> None:
    h = harness()
    h.send(CallArrived("c1", "5000", "15550001"))
    assert only(h.send(DigitPressed("c1", "1")), HangUp)
    assert h.router.callbacks["c1"].number == "15550001"
    h = harness(AskNumber.ALWAYS)
    h.send(CallArrived("c1", "5000", "15550001"))
    assert only(h.send(DigitPressed("c1", "1")), AskCallbackNumber)


def test_a_refused_number_is_asked_again_then_the_caller_waits_on_in_the_line() -> None:
    h = harness(pattern=r"0[1-9][0-9]{6,12}")
    h.send(CallArrived("c1", "5000", ""))
    h.send(DigitPressed("c1", "1"))
    out = h.send(CallbackNumberEntered("c1", "112", confirmed=True))
    assert only(out, AskCallbackNumber) and not only(out, HangUp)
    assert h.records("callback_number_refused")[0].detail == {"reason": "the number is shorter than 5 digits",
                                                               "try": 1}
    out = h.send(CallbackNumberEntered("c1", "0301234567", confirmed=False))
    assert not only(out, AskCallbackNumber) and not only(out, HangUp)  # two tries: no more
    assert h.records("callback_refused")[-1].detail["reason"] == \
        "no usable number after 2 tries, the caller waits on in the line"
    assert "c1" not in h.router.callbacks
    assert h.router.calls["c1"].phase.value == "waiting"  # still in the line, in music
    # a member frees up: the caller is rung as any waiting caller
    out = h.send(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
    assert [r.call_id for r in only(out, Ring)] == ["c1"]
    # a late or repeated entry is no request either
    assert not only(h.send(CallbackNumberEntered("c1", "0301234567", confirmed=True)), HangUp)


def test_no_announcement_cuts_the_number_entry_short() -> None:
    announce = AnnouncePolicy(Spoken.POSITION, every_s=15)
    h = harness(announce=announce)
    h.send(CallArrived("c1", "5000", "anonymous"))
    h.advance(9)  # the first announcement and the offer are over
    h.send(DigitPressed("c1", "1"))
    out = h.advance(40)  # typing the number: no announcement cuts it short
    assert not only(out, Announce)
    # nothing typed, twice: back in music, where announcements play again
    out = h.send(CallbackNumberEntered("c1", "", confirmed=False))
    out += h.send(CallbackNumberEntered("c1", "", confirmed=False))
    out += h.advance(30)
    assert only(out, Announce)


def test_the_policy_defaults_to_the_caller_id() -> None:
    assert CallbackPolicy().ask_number is AskNumber.NEVER
    assert dataclasses.replace(CallbackPolicy(), number_tries=1).number_tries == 1
