"""The tracker on the recordings of issue 14: keys pressed in music (14) and the
callback Originates (15)."""

from __future__ import annotations

import logging

import pytest

from acd.core.events import CallArrived, CallbackAgentAnswered, CallbackAgentFailed, CallbackEnded, DigitPressed

from .recorded import Replay


def test_14_each_key_pressed_in_music_is_one_digit_of_the_waiting_caller() -> None:
    replay = Replay()
    replay.run("14")
    (arrived,) = replay.of(CallArrived)
    # README 19: DTMFBegin and DTMFEnd per key; the key counts once, at its end
    assert replay.of(DigitPressed) == [DigitPressed(arrived.call_id, "1"), DigitPressed(arrived.call_id, "2")]


def test_15_callback_legs_are_no_inbound_calls_and_the_stand_in_channel_is_survived(
        caplog: pytest.LogCaptureFixture) -> None:
    """README 23-24: the customer's leg is made in the trunk's context and the failed
    Originate runs on 'OutgoingSpoolFailed'; neither is a caller, nothing is logged as not
    understood. The recording's UserEvents carry no request id (its dialplan predates
    ours): they are reported as not understood, never as another request's events."""
    replay = Replay()
    with caplog.at_level(logging.WARNING):
        replay.run("15")
    assert replay.of(CallArrived) == []
    assert replay.of(CallbackAgentAnswered, CallbackEnded, CallbackAgentFailed) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
