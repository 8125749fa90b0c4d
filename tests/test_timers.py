"""The core's timers (acd.timers.Timers): each fires once at its time, in order, on one
event-loop timer however many run."""

from __future__ import annotations

import asyncio
import random

import pytest

from acd import event_loop
from acd.clock import Clock
from acd.timers import Timers
from tests.channels.support import FakeClock  # counts the loop timers it holds: pending()


def _timers() -> tuple[FakeClock, Timers, list[tuple[float, str]]]:
    clock = FakeClock(1000.0)
    fired: list[tuple[float, str]] = []
    return clock, Timers(clock, lambda key: fired.append((clock.now(), key))), fired


def test_many_running_timers_hold_one_loop_timer() -> None:
    clock, timers, fired = _timers()
    for n in range(100):
        timers.start(f"ring|{n}", 15.0 + (n % 7))
    assert clock.pending() == 1
    clock.advance(30)
    assert sorted(key for _, key in fired) == sorted(f"ring|{n}" for n in range(100))
    assert clock.pending() == 0


def test_timers_fire_at_their_time_earliest_first_and_same_time_in_the_order_started() -> None:
    clock, timers, fired = _timers()
    timers.start("b", 2.0)
    timers.start("a", 1.0)
    timers.start("c", 2.0)
    clock.advance(1.5)
    assert fired == [(1001.0, "a")]
    clock.advance(1.0)
    assert fired == [(1001.0, "a"), (1002.0, "b"), (1002.0, "c")]


def test_a_cancelled_timer_never_fires_and_a_restarted_one_fires_once_at_its_new_time() -> None:
    clock, timers, fired = _timers()
    timers.start("noring", 1.0)
    timers.start("ring", 1.0)
    timers.cancel("noring")
    timers.start("ring", 3.0)
    timers.cancel("never started")
    assert timers.pending() == ["ring"]
    clock.advance(10)
    assert fired == [(1003.0, "ring")]
    assert timers.pending() == []


def test_a_timer_that_fails_does_not_keep_the_others_from_firing() -> None:
    clock = FakeClock(1000.0)
    fired: list[str] = []

    def fire(key: str) -> None:
        fired.append(key)
        if key == "bad":
            raise RuntimeError("a bug in one timer's handling")

    timers = Timers(clock, fire)
    timers.start("bad", 1.0)
    timers.start("good", 1.0)
    timers.start("later", 2.0)
    clock.advance(5)
    assert fired == ["bad", "good", "later"]


def test_a_timer_started_by_a_timer_that_fired_waits_for_its_own_time() -> None:
    clock = FakeClock(1000.0)
    fired: list[tuple[float, str]] = []
    timers: Timers

    def fire(key: str) -> None:
        fired.append((clock.now(), key))
        if key == "first":
            timers.start("next", 0.0)
            timers.start("soon", 0.5)
            timers.cancel("cancelled by first")

    timers = Timers(clock, fire)
    timers.start("first", 1.0)
    timers.start("cancelled by first", 1.0)
    timers.start("last", 2.0)
    clock.advance(5)
    assert fired == [(1001.0, "first"), (1001.0, "next"), (1001.5, "soon"), (1002.0, "last")]


def test_cancelled_timers_do_not_pile_up() -> None:
    clock, timers, fired = _timers()
    for n in range(10_000):
        timers.start(f"noring|{n}", 20.0)
        timers.cancel(f"noring|{n}")
    timers.start("wait", 300.0)
    assert len(timers._heap) <= 200  # the heap is compacted as the cancelled entries pile up
    clock.advance(400)
    assert fired == [(1300.0, "wait")]


def test_cancel_all_stops_every_timer() -> None:
    clock, timers, fired = _timers()
    for n in range(5):
        timers.start(str(n), 1.0 + n)
    timers.cancel_all()
    clock.advance(10)
    assert fired == [] and timers.pending() == [] and clock.pending() == 0


@pytest.mark.parametrize("seed", [3, 4])
def test_on_the_service_s_clock_no_timer_fires_before_its_deadline(seed: int) -> None:
    event_loop.run(_never_early(seed))


async def _never_early(seed: int) -> None:
    clock = Clock(speed=20)
    rng = random.Random(seed)
    count, early, done = 200, [], asyncio.Event()
    due: dict[str, float] = {}

    def fired(key: str) -> None:
        if clock.now() < due[key]:
            early.append(due[key] - clock.now())
        del due[key]
        if not due:
            done.set()

    timers = Timers(clock, fired)
    for n in range(count):
        delay = rng.uniform(0, 0.2)
        due[str(n)] = clock.now() + delay
        timers.start(str(n), delay)
    await asyncio.wait_for(done.wait(), 10)
    assert early == []
