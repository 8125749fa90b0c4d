"""acd's Clock on the service's loop (uvloop): a timer never fires before its time on the clock."""

from __future__ import annotations

import asyncio
import random

from acd import event_loop
from acd.clock import Clock


def test_a_timer_never_fires_before_its_deadline_on_the_clock() -> None:
    event_loop.run(_timers_never_early())


async def _timers_never_early() -> None:
    # uvloop counts timers in whole milliseconds from a truncated clock: unguarded, about
    # half of these fire up to 1.5 ms early, and a core timer that fires before its
    # deadline finds nothing due (a callback's next attempt was lost that way)
    clock = Clock(speed=20)
    rng = random.Random(7)
    early: list[float] = []
    done = asyncio.Event()
    count = 200

    def fired(due: float) -> None:
        if clock.now() < due:
            early.append(due - clock.now())
        fired.n += 1  # type: ignore[attr-defined]
        if fired.n == count:  # type: ignore[attr-defined]
            done.set()

    fired.n = 0  # type: ignore[attr-defined]
    for _ in range(count):
        delay = rng.uniform(0, 0.2)
        clock.call_later(delay, fired, clock.now() + delay)
    await asyncio.wait_for(done.wait(), 10)
    assert early == []


def test_a_sleep_never_ends_before_its_time_on_the_clock() -> None:
    event_loop.run(_sleeps_never_early())


async def _sleeps_never_early() -> None:
    clock = Clock(speed=20)
    rng = random.Random(8)
    for _ in range(40):
        delay = rng.uniform(0, 0.05)
        due = clock.now() + delay
        await clock.sleep(delay)
        assert clock.now() >= due
