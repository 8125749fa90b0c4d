"""The tracker replays the real AMI sessions (tests/fixtures/ami) and reports
exactly the core events each scenario means."""

from __future__ import annotations

from dataclasses import replace

from panoramisk.message import Message

from acd.core.events import (
    AgentLegHungUp,
    AttemptEnded,
    CallArrived,
    CallerHungUp,
    DeviceState,
    DeviceStateChanged,
    FailReason,
    LiveCall,
    MemberAnswered,
    MemberFailed,
    MemberRinging,
    Resynced,
    TransferredByHand,
)
from acd.pbx.channels import Picture
from acd.pbx.tracker import Tracker

from .recorded import CONFIG, RECORDING, Replay
from .transcripts import received

CALL_EVENTS = (CallArrived, MemberRinging, MemberFailed, MemberAnswered, AttemptEnded, CallerHungUp,
               AgentLegHungUp, TransferredByHand)


def call_events(name: str) -> list[object]:
    replay = Replay()
    replay.run(name)
    return replay.of(*CALL_EVENTS)


def test_02_caller_waits_rings_at_agent101_who_answers_and_the_caller_hangs_up() -> None:
    c = "1795573834.1"
    assert call_events("02") == [
        CallArrived(c, "5000", "15550000002", "Caller 15550000002"),
        MemberRinging(c, 1, "agent101"),
        MemberAnswered(c, 1, "agent101"),
        CallerHungUp(c, by_caller=True),  # the agent's Hangup came first, but the caller sent BYE
    ]


def test_16_two_announcements_neither_announce_the_call_again_nor_end_it_and_the_caller_hangs_up() -> None:
    """README 25: after each announcement the caller re-enters acd-hold with a fresh
    MusicOnHoldStart, as a new caller would; only ACDCallWaiting makes a call arrive."""
    c = "1796032029.7"
    assert call_events("16") == [
        CallArrived(c, "5000", "15550000016", "Caller 15550000016"),
        CallerHungUp(c, by_caller=True),  # README 21: HangupRequest with no Cause line at all
    ]


def test_02_device_states_of_agents_only() -> None:
    replay = Replay()
    replay.run("02")
    states = [(e.agent_id, e.state) for e in replay.of(DeviceStateChanged)]  # type: ignore[attr-defined]
    assert ("agent101", DeviceState.RINGING) in states and ("agent101", DeviceState.INUSE) in states
    assert all(agent.startswith("agent") for agent, _ in states)  # never PJSIP/carrier, Queue:, MWI:


def test_03_no_answer_ends_the_attempt_and_the_caller_later_hangs_up_from_hold() -> None:
    c = "1795573846.3"
    assert call_events("03")[1:] == [
        MemberRinging(c, 1, "agent101"),
        MemberFailed(c, 1, "agent101", FailReason.NO_ANSWER),
        AttemptEnded(c, 1, "NOANSWER"),
        CallerHungUp(c, by_caller=True),
    ]


def test_04_three_legs_ring_one_answers_the_two_others_are_cancelled_once() -> None:
    c = "1795573858.5"
    events = call_events("04")
    assert events[1:4] == [MemberRinging(c, 1, a) for a in ("agent101", "agent103", "agent102")]
    assert events[4:] == [
        MemberFailed(c, 1, "agent101", FailReason.CANCELLED),
        MemberFailed(c, 1, "agent103", FailReason.CANCELLED),
        MemberAnswered(c, 1, "agent102"),
        CallerHungUp(c, by_caller=True),
    ]


def test_04_duplicated_frames_change_nothing() -> None:
    replay = Replay()
    replay.run("04", twice=frozenset({"DialBegin", "DialState", "Newstate", "DialEnd", "BridgeEnter", "Hangup",
                                      "UserEvent", "HangupRequest"}))
    assert replay.of(*CALL_EVENTS) == call_events("04")


def test_05_busy_phone_fails_the_member_as_busy() -> None:
    c = "1795573870.9"
    assert call_events("05")[1:] == [
        MemberFailed(c, 1, "agent101", FailReason.BUSY),
        AttemptEnded(c, 1, "BUSY"),
        CallerHungUp(c, by_caller=True),  # Cause 17 is sticky, HangupRequest says the caller left
    ]


def test_06_caller_abandons_while_ringing() -> None:
    c = "1795573878.11"
    assert call_events("06")[1:] == [
        MemberRinging(c, 1, "agent101"),
        MemberFailed(c, 1, "agent101", FailReason.CANCELLED),
        CallerHungUp(c, by_caller=True),
    ]


def test_09_pickup_names_the_picker_and_the_member_whose_phone_rang() -> None:
    first, second = "1795573916.21", "1795573925.24"
    assert call_events("09") == [
        CallArrived(first, "5000", "15550000009", "Caller 15550000009"),
        MemberRinging(first, 1, "agent101"),
        MemberAnswered(first, 1, "agent102", picked_up_from="agent101"),  # PickupChan(PJSIP/agent101)
        AgentLegHungUp(first, "agent102"),  # agent102 hung up first...
        CallerHungUp(first, by_caller=False),  # ...so the caller did not
        CallArrived(second, "5000", "15550000019", "Caller 15550000019"),
        MemberRinging(second, 1, "agent101"),  # DialState RINGING and Newstate Ringing: once
        MemberAnswered(second, 1, "agent103", picked_up_from="agent101"),  # *8 group pickup
        CallerHungUp(second, by_caller=False),
    ]


def test_10_blind_transfers_by_refer_and_by_ami_and_an_attended_transfer_via_local_channels() -> None:
    events = call_events("10")
    transfers = [e for e in events if isinstance(e, TransferredByHand)]
    assert transfers == [
        TransferredByHand("1795574164.53", "agent102", "blind"),  # SIP REFER
        TransferredByHand("1795574179.56", "agent102", "blind"),  # AMI BlindTransfer
        TransferredByHand("1795574193.59", "agent103", "attended"),  # Atxfer: caller - Local;1|;2 - agent103
    ]
    # a blind transfer hangs the transferer up at once; the transfer's own Dial is no ring attempt
    assert [e for e in events if isinstance(e, AgentLegHungUp)] == [
        AgentLegHungUp("1795574164.53", "agent101"),
        AgentLegHungUp("1795574179.56", "agent101"),
    ]
    assert [e.agent_id for e in events if isinstance(e, MemberAnswered)] == ["agent101"] * 3


def test_10_the_agent_the_caller_talks_to_is_found_through_the_local_pair() -> None:
    replay = Replay()
    for msg in received("10"):
        replay.tracker.handle(msg)
        if msg.get("Event") == "AttendedTransfer":
            break
    assert replay.tracker.talking_to("1795574193.59") == ("agent103", "1795574198.63")


def _queue_replay(name: str, caller: str) -> list[object]:
    """11a/11b use app_queue, not our dialplan: pretend the caller was announced and the
    queue's Dial was our ring attempt, to check only that repeated DialEnds count once."""
    replay = Replay(tracker=Tracker(CONFIG, replace(RECORDING, dial_context="from-carrier", inbound_context="")))
    out: list[object] = []
    for msg in received(name):
        if msg.get("Event") == "DialBegin" and not replay.tracker.has_call(caller):
            announce = Message({"Event": "UserEvent", "UserEvent": "ACDCallWaiting", "Channel": msg["Channel"],
                                "Uniqueid": caller, "DID": "8100", "CallerIDNum": msg["CallerIDNum"]})
            out.extend(replay.tracker.handle(announce))
            replay.tracker.note_attempt(caller, 1, ("agent101", "agent102", "agent103"))
        out.extend(e for e in replay.tracker.handle(msg) if isinstance(e, CALL_EVENTS))
    return out


def outcomes(events: list[object]) -> list[tuple[str, str]]:
    return [(e.agent_id, e.reason.value if isinstance(e, MemberFailed) else "answered")
            for e in events if isinstance(e, MemberFailed | MemberAnswered)]


def test_11a_ringall_cancel_reported_twice_by_asterisk_counts_once() -> None:
    c = "1795573983.38"
    events = _queue_replay("11a", c)
    assert outcomes(events) == [
        ("agent102", "answered"),
        ("agent103", "cancelled"),
        ("agent101", "cancelled"),
    ]


def test_11b_linear_noanswer_then_cancel_for_the_same_leg_counts_once() -> None:
    c = "1795573995.42"
    events = _queue_replay("11b", c)
    assert outcomes(events) == [("agent101", "no_answer"), ("agent102", "answered")]


def test_13_absent_phone_no_answer_and_unreachable_phone_unavailable_without_any_dial_event() -> None:
    c = "1795574226.64"
    assert call_events("13")[1:] == [
        MemberFailed(c, 1, "agent104", FailReason.NO_ANSWER),  # DialBegin, no DialState, NOANSWER
        AttemptEnded(c, 1, "NOANSWER"),
        MemberFailed(c, 2, "agent105", FailReason.UNAVAILABLE),  # no DialBegin at all
        AttemptEnded(c, 2, "CHANUNAVAIL"),
        CallerHungUp(c, by_caller=True),
    ]
    assert not any(isinstance(e, MemberRinging) for e in call_events("13"))  # nothing really rang


def test_01_resync_from_the_channel_list_finds_the_waiting_caller_and_agents_devices() -> None:
    msgs = received("01")
    channels = [m for m in msgs if m.get("Event") == "CoreShowChannel"]
    devices = [m for m in msgs if m.get("Event") == "DeviceStateChange" and "ActionID" in m]
    tracker = Tracker(CONFIG, RECORDING)
    events = tracker.resync(channels, devices)
    assert events[-1] == Resynced((LiveCall("1795573831.0", "5000", "15550000001", "waiting", (),
                                            "Caller 15550000001", 0),))
    assert sorted(e.agent_id for e in events[:-1] if isinstance(e, DeviceStateChanged)) == [
        f"agent{n}" for n in range(101, 106)]  # not Queue:, MWI: or the carrier
    assert tracker.has_call("1795573831.0")


# ---------------------------------------------------------------------- resync mid-call
def channel_list(picture: Picture) -> list[Message]:
    """What CoreShowChannels would list for this picture (the shape of 01's items)."""
    items = []
    for ch in picture.channels.values():
        dialled = ch.linkedid != ch.uid and not ch.name.startswith("Local/")
        items.append(Message({
            "Event": "CoreShowChannel", "ActionID": "resync", "Channel": ch.name, "Uniqueid": ch.uid,
            "Linkedid": ch.linkedid, "ChannelStateDesc": ch.state, "Context": ch.context, "Exten": ch.exten,
            "CallerIDNum": ch.caller_number, "CallerIDName": ch.caller_name,
            "ChanVariable": [f"{k}={v}" for k, v in (ch.variables or {}).items()],
            "Application": "AppDial" if dialled else "Dial", "ApplicationData": "",
            "Duration": "00:00:01", "BridgeId": ch.bridge or "",
        }))
    return items


def replay_until(name: str, stop: float) -> Replay:
    from .transcripts import frames

    replay = Replay()
    for frame in frames(name):
        if frame.t > stop:
            break
        if not frame.sent:
            replay.tracker.handle(frame.message)
        elif frame.message.get("Action") == "Redirect":
            call_id = replay.tracker.picture.by_name[frame.message["Channel"]]
            replay.tracker.note_attempt(call_id, 1, ())
    return replay


def test_resync_while_three_phones_ring_says_which_agents_ring() -> None:
    live = replay_until("04", 2.0).tracker.picture
    events = Tracker(CONFIG, RECORDING).resync(channel_list(live))
    (call,) = events[-1].calls  # type: ignore[union-attr]
    assert call.state == "ringing" and sorted(call.agents) == ["agent101", "agent102", "agent103"]


def test_resync_after_an_attended_transfer_follows_the_local_chain_to_the_new_agent() -> None:
    live = replay_until("10", 40.0).tracker.picture
    tracker = Tracker(CONFIG, RECORDING)
    (call,) = tracker.resync(channel_list(live))[-1].calls  # type: ignore[union-attr]
    assert (call.call_id, call.state, call.agents) == ("1795574193.59", "connected", ("agent103",))
    # and the rebuilt picture goes on: agent103 hanging up while the caller lives is reported
    assert tracker.handle(Message({"Event": "Hangup", "Channel": "PJSIP/agent103-00000039",
                                   "Uniqueid": "1795574198.63"})) == [AgentLegHungUp("1795574193.59", "agent103")]


def test_resync_after_a_pickup_reports_the_picker_as_connected() -> None:
    live = replay_until("09", 5.0).tracker.picture
    (call,) = Tracker(CONFIG, RECORDING).resync(channel_list(live))[-1].calls  # type: ignore[union-attr]
    assert (call.state, call.agents) == ("connected", ("agent102",))
