"""The tracker with the project's own dialplan (asterisk/extensions.conf): the attempt
travels in the extension, forwards go through the trunk, resync reads acd-dial,<n>."""

from __future__ import annotations

from typing import Any

from acd.core.events import (
    AttemptEnded,
    CallArrived,
    CallbackNumberEntered,
    CallerHungUp,
    DigitPressed,
    FailReason,
    LiveCall,
    MemberAnswered,
    MemberFailed,
    MemberRinging,
    TransferFailed,
)
from acd.core.model import Agent, RoutingConfig
from acd.pbx.tracker import Tracker

CONFIG = RoutingConfig(agents={
    "anna": Agent("anna", "Anna", "PJSIP/101", "101"),
    "boris": Agent("boris", "Boris", "PJSIP/102", "102"),
})
CALLER = {"Channel": "PJSIP/trunk-00000001", "Uniqueid": "1.1", "Linkedid": "1.1", "CallerIDNum": "15550001",
          "CallerIDName": "Ann", "ChanVariable": "ACD_DID=5000"}


def announced() -> Tracker:
    tracker = Tracker(CONFIG)
    events = tracker.handle({"Event": "UserEvent", "UserEvent": "ACDCallWaiting", **CALLER, "Context": "acd-inbound",
                             "Exten": "5000", "ACDDID": "5000"})
    assert events == [CallArrived("1.1", "5000", "15550001", "Ann")]
    return tracker


def dial(attempt: int, leg: str, uid: str, **extra: str) -> dict[str, Any]:
    return {**CALLER, "Context": "acd-dial", "Exten": str(attempt), "DestChannel": leg, "DestUniqueid": uid,
            "DestLinkedid": "1.1", **extra}


def test_the_attempt_comes_from_the_extension_even_when_the_runtime_already_moved_on() -> None:
    tracker = announced()
    tracker.note_attempt("1.1", 6, ("anna",))
    tracker.note_attempt("1.1", 7, ("boris",))  # the core moved on; attempt 6's Dial is still running
    assert tracker.handle({"Event": "DialBegin", **dial(6, "PJSIP/101-00000002", "1.2")}) == []
    assert tracker.handle({"Event": "DialState", "DialStatus": "RINGING", **dial(6, "PJSIP/101-00000002", "1.2")}) == [
        MemberRinging("1.1", 6, "anna")]
    assert tracker.handle({"Event": "DialEnd", "DialStatus": "CANCEL", **dial(6, "PJSIP/101-00000002", "1.2")}) == [
        MemberFailed("1.1", 6, "anna", FailReason.CANCELLED)]
    # the old attempt's result says which attempt it was: boris is not declared unavailable
    assert tracker.handle({"Event": "UserEvent", "UserEvent": "ACDDialResult", **CALLER, "Context": "acd-dial",
                           "Exten": "6", "ACDAttempt": "6", "DialStatus": "CANCEL"}) == [
        AttemptEnded("1.1", 6, "CANCEL")]


def test_a_newstate_ringing_of_the_leg_counts_as_the_first_ring_once() -> None:
    tracker = announced()
    tracker.handle({"Event": "DialBegin", **dial(1, "PJSIP/102-00000002", "1.2")})
    leg = {"Channel": "PJSIP/102-00000002", "Uniqueid": "1.2", "Linkedid": "1.1", "ChannelStateDesc": "Ringing"}
    assert tracker.handle({"Event": "Newstate", **leg}) == [MemberRinging("1.1", 1, "boris")]
    assert tracker.handle({"Event": "DialState", "DialStatus": "RINGING", **dial(1, "PJSIP/102-00000002", "1.2")}) == []


def test_a_forward_answered_outside_is_an_answer_by_nobody_of_ours() -> None:
    tracker = announced()
    tracker.note_attempt("1.1", 2)
    tracker.handle({"Event": "DialBegin", **dial(2, "PJSIP/trunk-00000003", "1.3")})
    trunk_leg = dial(2, "PJSIP/trunk-00000003", "1.3")
    assert tracker.handle({"Event": "DialState", "DialStatus": "RINGING", **trunk_leg}) == []
    assert tracker.handle({"Event": "DialEnd", "DialStatus": "ANSWER", **trunk_leg}) == [
        MemberAnswered("1.1", 2, "")]


def test_a_failed_transfer_is_reported() -> None:
    tracker = announced()
    failed = {"Event": "UserEvent", "UserEvent": "ACDTransferFailed", **CALLER,
              "Context": "acd-agents", "Exten": "102", "DialStatus": "NOANSWER"}
    assert tracker.handle(failed) == [TransferFailed("1.1")]


def test_resync_reads_the_attempt_from_the_caller_in_acd_dial_and_skips_callers_not_yet_announced() -> None:
    def item(**fields: str) -> dict[str, str]:
        return {"Event": "CoreShowChannel", "ActionID": "r", "BridgeId": "", "Application": "", **fields}

    channels = [
        item(**CALLER, Context="acd-dial", Exten="3", ChannelStateDesc="Up", Application="Dial"),
        item(Channel="PJSIP/101-00000002", Uniqueid="1.2", Linkedid="1.1", Context="acd-agents", Exten="3",
             ChannelStateDesc="Ringing", Application="AppDial", ChanVariable="ACD_DID=5000"),
        item(Channel="PJSIP/102-00000003", Uniqueid="1.3", Linkedid="1.1", Context="acd-agents", Exten="3",
             ChannelStateDesc="Down", Application="AppDial", ChanVariable="ACD_DID=5000"),
        # just arrived: its ACDCallWaiting is still to come
        item(Channel="PJSIP/trunk-00000004", Uniqueid="1.4", Linkedid="1.4", Context="acd-inbound", Exten="5000",
             ChanVariable="ACD_DID=5000", Application="Answer"),
        # a forward's outgoing trunk leg inherits ACD_DID but is no caller
        item(Channel="PJSIP/trunk-00000005", Uniqueid="1.5", Linkedid="1.9", Context="acd-inbound", Exten="",
             ChanVariable="ACD_DID=5000", Application="AppDial"),
        # in voicemail
        item(Channel="PJSIP/trunk-00000006", Uniqueid="1.6", Linkedid="1.6", Context="acd-voicemail", Exten="s",
             ChanVariable="ACD_DID=5000", Application="VoiceMail", CallerIDNum="15550006"),
    ]
    tracker = Tracker(CONFIG)
    (resynced,) = tracker.resync(channels)
    assert resynced.calls == (  # type: ignore[union-attr]
        LiveCall("1.1", "5000", "15550001", "ringing", ("anna", "boris"), "Ann", 3),
        LiveCall("1.6", "5000", "15550006", "elsewhere", (), "", 0),
    )
    # the rebuilt legs go on: boris's phone starts ringing, anna's already did
    assert tracker.handle({"Event": "DialState", "DialStatus": "RINGING", **dial(3, "PJSIP/102-00000003", "1.3")}) == [
        MemberRinging("1.1", 3, "boris")]
    assert tracker.handle({"Event": "DialState", "DialStatus": "RINGING", **dial(3, "PJSIP/101-00000002", "1.2")}) == []


def test_resync_tells_how_long_the_phones_of_a_ringing_call_have_rung() -> None:
    # Duration is a channel's age in whole seconds, cut (01: made 1.002 s before, "00:00:01";
    # 14: 7.49 s, "00:00:07"), and an agent's phone rings 1-3 ms after its leg is made
    # (Newchannel -> Newstate Ringing in 02, 03, 04, 06): the legs' age is the ring so far
    def listed(duration: str) -> list[dict[str, str]]:
        def item(**fields: str) -> dict[str, str]:
            return {"Event": "CoreShowChannel", "ActionID": "r", "BridgeId": "", "ChanVariable": "ACD_DID=5000",
                    **fields}
        return [
            item(**CALLER, Context="acd-dial", Exten="2", ChannelStateDesc="Up", Application="Dial",
                 Duration="00:01:40"),  # the caller's age is its wait, not the ring's
            item(Channel="PJSIP/101-00000002", Uniqueid="1.2", Linkedid="1.1", Context="acd-agents", Exten="s",
                 ChannelStateDesc="Ringing", Application="AppDial", Duration=duration),
            item(Channel="PJSIP/102-00000003", Uniqueid="1.3", Linkedid="1.1", Context="acd-agents", Exten="s",
                 ChannelStateDesc="Down", Application="AppDial", Duration="00:00:05"),
        ]

    (resynced,) = Tracker(CONFIG).resync(listed("00:00:06"))
    (call,) = resynced.calls  # type: ignore[union-attr]
    assert (call.state, call.agents, call.attempt, call.ringing_s) == ("ringing", ("anna", "boris"), 2, 6)
    (resynced,) = Tracker(CONFIG).resync(listed("01:02:03"))
    assert resynced.calls[0].ringing_s == 3723  # type: ignore[union-attr]
    # an age that cannot be read is left out: the other leg's still counts
    (resynced,) = Tracker(CONFIG).resync(listed("6 s"))
    assert resynced.calls[0].ringing_s == 5  # type: ignore[union-attr]


def test_resync_counts_a_caller_hearing_an_announcement_as_waiting() -> None:
    """16: an announcement runs in acd-announce and ends back in acd-hold; a restart in the
    middle of it must not lose the caller's place (ELSEWHERE would stop steering it)."""
    channels = [{"Event": "CoreShowChannel", "ActionID": "r", "BridgeId": "", **CALLER,
                 "Context": "acd-announce", "Exten": "s", "ChannelStateDesc": "Up", "Application": "SayNumber"}]
    (resynced,) = Tracker(CONFIG).resync(channels)
    assert resynced.calls == (LiveCall("1.1", "5000", "15550001", "waiting", (), "Ann", 0),)  # type: ignore[union-attr]


def test_keys_typed_in_the_number_entry_are_no_callback_key_and_the_entry_is_reported() -> None:
    tracker = announced()
    key = {"Event": "DTMFEnd", **CALLER, "Digit": "1", "DurationMs": "200", "Direction": "Received"}
    assert tracker.handle({**key, "Context": "acd-hold", "Exten": "s"}) == [DigitPressed("1.1", "1")]
    assert tracker.handle({**key, "Context": "acd-callback-number", "Exten": "s"}) == []
    done = {"Event": "UserEvent", "UserEvent": "ACDCallbackNumber", **CALLER, "Context": "acd-callback-number",
            "Exten": "s"}
    assert tracker.handle({**done, "ACDNumber": "4930123456", "ACDConfirm": "1"}) == [
        CallbackNumberEntered("1.1", "4930123456", True)]
    assert tracker.handle({**done, "ACDNumber": "4930123456", "ACDConfirm": ""}) == [
        CallbackNumberEntered("1.1", "4930123456", False)]


class _CountedLegs(dict):  # type: ignore[type-arg]
    """The tracker's legs, counting every walk over all of them."""

    walks = 0

    def items(self) -> Any:
        _CountedLegs.walks += 1
        return super().items()

    def values(self) -> Any:
        _CountedLegs.walks += 1
        return super().values()

    def __iter__(self) -> Any:
        _CountedLegs.walks += 1
        return super().__iter__()


def test_a_hang_up_or_a_pickup_look_up_walks_only_its_own_call_s_legs() -> None:
    tracker = Tracker(CONFIG)
    tracker._legs = _CountedLegs()
    for n in range(1, 201):  # 200 callers, each ringing anna and boris
        caller = {**CALLER, "Channel": f"PJSIP/trunk-{n:08x}", "Uniqueid": f"{n}.1", "Linkedid": f"{n}.1"}
        tracker.handle({"Event": "UserEvent", "UserEvent": "ACDCallWaiting", **caller, "Context": "acd-inbound",
                        "Exten": "5000", "ACDDID": "5000"})
        tracker.note_attempt(f"{n}.1", 1, ("anna", "boris"))
        for k, phone in ((2, "101"), (3, "102")):
            tracker.handle({"Event": "DialBegin", **caller, "Context": "acd-dial", "Exten": "1",
                            "DestChannel": f"PJSIP/{phone}-{n:06x}{k:02x}", "DestUniqueid": f"{n}.{k}",
                            "DestLinkedid": f"{n}.1"})
    assert len(tracker._legs) == 400
    _CountedLegs.walks = 0
    assert tracker.channel_name("7.3") == tracker.ringing_leg("7.1", "boris") == "PJSIP/102-00000703"
    assert tracker.handle({"Event": "Hangup", **CALLER, "Channel": "PJSIP/trunk-00000007", "Uniqueid": "7.1"}) == [
        CallerHungUp("7.1", by_caller=False)]
    assert "7.2" not in tracker._legs and "7.3" not in tracker._legs and len(tracker._legs) == 398
    assert tracker.ringing_leg("7.1", "boris") is None
    assert tracker.ringing_leg("8.1", "anna") == "PJSIP/101-00000802"
    assert _CountedLegs.walks == 0
