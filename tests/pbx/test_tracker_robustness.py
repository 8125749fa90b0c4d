"""Malformed, truncated or unexpected AMI input is logged and ignored, never raised."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from panoramisk.message import Message

from acd.core.events import CallArrived, CallerHungUp, PauseRequested, PickupRequested
from acd.pbx.tracker import Tracker

from .recorded import CONFIG, RECORDING, Replay
from .transcripts import received

NAMES = ["02", "04", "09", "10", "13"]


def mutations(msg: Message, rng: random.Random) -> list[dict[str, Any]]:
    items = list(msg.items())
    out: list[dict[str, Any]] = []
    for i in range(len(items)):  # each header missing in turn
        out.append(dict(items[:i] + items[i + 1:]))
    junk: list[Any] = ["", "<unknown>", "x" * 5000, "-1", "é\x00", ["a", "b"], [], None, 42, ";1", "Local/;"]
    for _ in range(6):  # random headers replaced by junk of the wrong shape
        broken = dict(items)
        for key in rng.sample([k for k, _ in items], k=min(3, len(items))):
            broken[key] = rng.choice(junk)
        out.append(broken)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_every_frame_with_a_header_missing_or_garbled_is_survived(name: str, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(name)
    tracker = Tracker(CONFIG, RECORDING)
    for msg in received(name):
        for broken in mutations(msg, rng):
            tracker.handle(broken)  # must not raise
        tracker.handle(msg)
    # missing headers are handled by the code itself, not by the catch-all
    caplog.clear()
    tracker = Tracker(CONFIG, RECORDING)
    with caplog.at_level(logging.ERROR, logger="acd.pbx"):
        for msg in received(name):
            items = list(msg.items())
            for i in range(len(items)):
                tracker.handle(Message(dict(items[:i] + items[i + 1:])))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_broken_frame_in_the_middle_does_not_disturb_what_follows() -> None:
    clean = Replay()
    clean.run("02")
    noisy = Replay()
    for msg in received("02"):
        noisy.tracker.handle({"Event": msg.get("Event", ""), "Uniqueid": ["<unknown>"], "Channel": None})
        noisy.tracker.handle({"Event": "DialEnd", "DestUniqueid": "nope", "DialStatus": "ANSWER"})
        noisy.events.extend(noisy.tracker.handle(msg))
    # no Redirect was noted in this replay, so attempts read 0: compare the rest
    assert [type(e) for e in noisy.events] == [type(e) for e in clean.events]


def test_unknown_events_responses_and_empty_input_give_nothing() -> None:
    tracker = Tracker(CONFIG, RECORDING)
    for msg in ({}, {"Response": "Success"}, {"Event": ""}, {"Event": "NoSuchEvent"}, {"Event": "handle"},
                {"Event": "__init__"}, {"Event": ["Hangup", "Hangup"]}):
        assert tracker.handle(msg) == []


def test_user_event_body_may_repeat_a_standard_header() -> None:
    # README "Repeated keys": CallerIDNum twice in the recording's ACDCallWaiting
    tracker = Tracker(CONFIG, RECORDING)
    msg = Message.from_line("\r\n".join([
        "Event: UserEvent", "Channel: PJSIP/carrier-00000001", "Uniqueid: 1.1", "CallerIDNum: 555",
        "CallerIDName: <unknown>", "ChanVariable: ACD_DID=5000", "UserEvent: ACDCallWaiting",
        "DID: 5000", "CallerIDNum: 999"]))
    assert tracker.handle(msg) == [CallArrived("1.1", "5000", "555", "")]
    assert tracker.handle(msg) == []  # announced once


def test_hangup_of_an_unknown_channel_and_a_call_hung_up_by_the_system() -> None:
    tracker = Tracker(CONFIG)
    assert tracker.handle({"Event": "Hangup", "Uniqueid": "9.9", "Channel": "PJSIP/x-1"}) == []
    tracker.handle({"Event": "UserEvent", "UserEvent": "ACDCallWaiting", "Uniqueid": "1.1",
                    "Channel": "PJSIP/trunk-00000001", "ACDDID": "5000", "CallerIDNum": "1"})
    tracker.handle({"Event": "SoftHangupRequest", "Uniqueid": "1.1", "Channel": "PJSIP/trunk-00000001"})
    assert tracker.handle({"Event": "Hangup", "Uniqueid": "1.1", "Channel": "PJSIP/trunk-00000001"}) == [
        CallerHungUp("1.1", by_caller=False)]


def test_pickup_request_from_an_agent_names_the_target_by_extension() -> None:
    tracker = Tracker(CONFIG)
    base = {"Event": "UserEvent", "UserEvent": "ACDPickupRequest", "Context": "acd-agents"}
    assert tracker.handle({**base, "Uniqueid": "7.1", "Channel": "PJSIP/agent102-00000001", "ACDTarget": ""}) == [
        PickupRequested("7.1", "agent102", None)]
    assert tracker.handle({**base, "Uniqueid": "7.2", "Channel": "PJSIP/agent103-00000002", "ACDTarget": "101"}) == [
        PickupRequested("7.2", "agent103", "agent101")]
    # an unknown extension stays directed (the core finds nothing ringing there and refuses)
    assert tracker.handle({**base, "Uniqueid": "7.3", "Channel": "PJSIP/agent103-00000003", "ACDTarget": "999"}) == [
        PickupRequested("7.3", "agent103", "999")]
    # a phone that is no agent's cannot ask
    assert tracker.handle({**base, "Uniqueid": "7.4", "Channel": "PJSIP/carrier-00000004", "ACDTarget": ""}) == []


def test_pause_and_resume_codes_from_an_agents_phone() -> None:
    tracker = Tracker(CONFIG)
    base = {"Event": "UserEvent", "UserEvent": "ACDPauseRequest", "Context": "acd-agents"}
    assert tracker.handle({**base, "Uniqueid": "8.1", "Channel": "PJSIP/agent102-00000001", "ACDPause": "on",
                           "ACDReason": "2"}) == [PauseRequested("agent102", True, "2")]
    assert tracker.handle({**base, "Uniqueid": "8.2", "Channel": "PJSIP/agent102-00000002", "ACDPause": "off"}) == [
        PauseRequested("agent102", False, "")]
    # garbled or missing: a pause without a reason, never a crash; a phone that is no agent's cannot ask
    assert tracker.handle({**base, "Uniqueid": "8.3", "Channel": "PJSIP/agent101-00000003"}) == [
        PauseRequested("agent101", True, "")]
    assert tracker.handle({**base, "Uniqueid": "8.4", "Channel": "PJSIP/carrier-00000004", "ACDPause": "on"}) == []
