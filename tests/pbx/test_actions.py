"""Core commands become the Setvar + Redirect actions asterisk/extensions.conf expects."""

from __future__ import annotations

from dataclasses import replace

from acd.core.commands import (
    Announce,
    CancelTimer,
    Forward,
    HangUp,
    Hold,
    PickUp,
    Record,
    RefusePickup,
    Ring,
    SendToVoicemail,
    StartTimer,
)
from acd.core.events import MemberRinging
from acd.core.model import Agent, RoutingConfig
from acd.pbx.actions import redirect, setvar, translate
from acd.pbx.dialplan import Dialplan
from acd.pbx.tracker import Tracker

CONFIG = RoutingConfig(agents={
    "anna": Agent("anna", "Anna", "PJSIP/101", "101"),
    "boris": Agent("boris", "Boris", "PJSIP/102", "102"),
    "clara": Agent("clara", "Clara", "PJSIP/103", "103"),
})
CALLER = "PJSIP/trunk-00000001"


def tracker_with_a_call(attempt_ringing_at: str | None = None) -> Tracker:
    """A caller announced by our dialplan; optionally attempt 1 ringing at one agent."""
    tracker = Tracker(CONFIG)
    tracker.handle({"Event": "Newchannel", "Channel": CALLER, "Uniqueid": "1.1", "Linkedid": "1.1",
                    "Context": "acd-inbound", "Exten": "5000", "CallerIDNum": "15550001"})
    tracker.handle({"Event": "UserEvent", "UserEvent": "ACDCallWaiting", "Channel": CALLER, "Uniqueid": "1.1",
                    "ACDDID": "5000"})
    if attempt_ringing_at:
        agent = CONFIG.agents[attempt_ringing_at]
        leg = f"{agent.endpoint}-00000002"
        events = tracker.handle({
            "Event": "DialBegin", "Channel": CALLER, "Uniqueid": "1.1", "Context": "acd-dial", "Exten": "1",
            "DestChannel": leg, "DestUniqueid": "1.2", "DestLinkedid": "1.1", "DestChannelStateDesc": "Ringing"})
        assert events == [MemberRinging("1.1", 1, attempt_ringing_at)]
    return tracker


def test_ring_sets_the_dial_string_and_ceiling_then_redirects_into_the_attempt() -> None:
    actions = translate(Ring("1.1", 3, ("anna", "boris"), 24.2), tracker_with_a_call(), CONFIG)
    assert actions == [
        setvar(CALLER, "ACD_DIALSTRING", "PJSIP/101&PJSIP/102"),
        setvar(CALLER, "ACD_TIMEOUT", "25"),
        {"Action": "Redirect", "Channel": CALLER, "Context": "acd-dial", "Exten": "3", "Priority": "1"},
    ]


def test_ring_skips_unknown_agents_and_rings_nobody_when_none_is_left() -> None:
    tracker = tracker_with_a_call()
    assert translate(Ring("1.1", 1, ("ghost", "clara"), 10), tracker, CONFIG)[0]["Value"] == "PJSIP/103"
    assert translate(Ring("1.1", 1, ("ghost",), 10), tracker, CONFIG) == []


def test_forward_dials_the_number_through_the_configured_trunk() -> None:
    tracker = tracker_with_a_call()
    actions = translate(Forward("1.1", 4, "+49 30 1234-5", 30), tracker, CONFIG, replace(Dialplan(), trunk="carrier"))
    assert actions == [
        setvar(CALLER, "ACD_DIALSTRING", "PJSIP/+493012345@carrier"),
        setvar(CALLER, "ACD_TIMEOUT", "30"),
        redirect(CALLER, "acd-dial", "4"),
    ]
    # nothing that could change what Dial() does reaches the dial string
    assert translate(Forward("1.1", 5, "&,()", 30), tracker, CONFIG) == []


def test_hold_voicemail_and_hangup_move_the_caller() -> None:
    tracker = tracker_with_a_call()
    assert translate(Hold("1.1"), tracker, CONFIG) == [redirect(CALLER, "acd-hold", "s")]
    assert translate(SendToVoicemail("1.1", "101@default"), tracker, CONFIG) == [
        setvar(CALLER, "ACD_MAILBOX", "101@default"), redirect(CALLER, "acd-voicemail", "s")]
    assert translate(HangUp("1.1", "sorry"), tracker, CONFIG) == [
        setvar(CALLER, "ACD_MESSAGE", "sorry"), redirect(CALLER, "acd-hangup", "s")]
    assert translate(HangUp("1.1"), tracker, CONFIG)[0] == setvar(CALLER, "ACD_MESSAGE", "")


def test_an_announcement_sets_every_part_then_redirects_into_acd_announce() -> None:
    tracker = tracker_with_a_call()
    assert translate(Announce("1.1", 3, 0, "custom/busy"), tracker, CONFIG) == [
        setvar(CALLER, "ACD_POSITION", "3"), setvar(CALLER, "ACD_WAIT_MINUTES", "0"),
        setvar(CALLER, "ACD_ANNOUNCEMENT", "custom/busy"), redirect(CALLER, "acd-announce", "s")]
    # parts not said are set empty, so an earlier announcement's parts do not play again
    assert translate(Announce("1.1", None, None, "custom/busy"), tracker, CONFIG)[:2] == [
        setvar(CALLER, "ACD_POSITION", ""), setvar(CALLER, "ACD_WAIT_MINUTES", "")]
    assert translate(Announce("gone", 1, None), tracker, CONFIG) == []


def test_the_current_channel_name_is_used_after_a_rename() -> None:
    tracker = tracker_with_a_call()
    tracker.handle({"Event": "Rename", "Channel": CALLER, "Newname": "PJSIP/trunk-00000009", "Uniqueid": "1.1"})
    assert translate(Hold("1.1"), tracker, CONFIG) == [redirect("PJSIP/trunk-00000009", "acd-hold", "s")]


def test_commands_for_a_call_that_is_gone_send_nothing() -> None:
    tracker = tracker_with_a_call()
    tracker.handle({"Event": "Hangup", "Channel": CALLER, "Uniqueid": "1.1"})
    for command in (Ring("1.1", 1, ("anna",), 10), Forward("1.1", 1, "123", 10), Hold("1.1"),
                    SendToVoicemail("1.1", "1@default"), HangUp("1.1"), Hold("never-seen")):
        assert translate(command, tracker, CONFIG) == []


def test_timers_and_records_are_not_the_pbx_s_business() -> None:
    tracker = tracker_with_a_call()
    for command in (StartTimer("k", 1), CancelTimer("k"), Record("1.1", 0.0, "x")):
        assert translate(command, tracker, CONFIG) == []


def test_pickup_points_the_colleague_at_the_ringing_leg() -> None:
    tracker = tracker_with_a_call(attempt_ringing_at="anna")
    tracker.handle({"Event": "UserEvent", "UserEvent": "ACDPickupRequest", "Channel": "PJSIP/102-00000003",
                    "Uniqueid": "1.3", "Context": "acd-agents", "ACDTarget": ""})
    assert translate(PickUp("1.3", "1.1", "anna"), tracker, CONFIG) == [
        setvar("PJSIP/102-00000003", "ACD_PICKUP_TARGET", "PJSIP/101-00000002"),
        redirect("PJSIP/102-00000003", "acd-pickup", "take"),
    ]
    assert translate(RefusePickup("1.3", "not allowed"), tracker, CONFIG) == [
        redirect("PJSIP/102-00000003", "acd-pickup", "denied")]


def test_pickup_of_a_phone_that_stopped_ringing_is_refused_cleanly() -> None:
    tracker = tracker_with_a_call(attempt_ringing_at="anna")
    tracker.handle({"Event": "Newchannel", "Channel": "PJSIP/102-00000003", "Uniqueid": "1.3"})
    tracker.handle({"Event": "DialEnd", "Channel": CALLER, "Uniqueid": "1.1", "DestChannel": "PJSIP/101-00000002",
                    "DestUniqueid": "1.2", "DialStatus": "NOANSWER"})
    assert translate(PickUp("1.3", "1.1", "anna"), tracker, CONFIG) == [
        redirect("PJSIP/102-00000003", "acd-pickup", "denied")]
    tracker.handle({"Event": "Hangup", "Channel": "PJSIP/102-00000003", "Uniqueid": "1.3"})
    assert translate(PickUp("1.3", "1.1", "anna"), tracker, CONFIG) == []
