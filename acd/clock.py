"""Time for the adapters: the core never reads a clock, it is handed ``now``.

``Clock`` runs at ``speed`` times real time so that tests and the demo can play a
minute of ringing in a second. Both the simulator and the ACD take the same clock,
so timings stay consistent between them. In production speed is 1.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        """Seconds since the epoch, on this clock (scaled since the clock was made)."""
        return self._wall0 + (time.monotonic() - self._mono0) * self.speed

    def call_later(self, delay_s: float, callback: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(self._real_wait(delay_s), callback, *args)

    async def sleep(self, delay_s: float) -> None:
        await asyncio.sleep(self._real_wait(delay_s))

    def _real_wait(self, delay_s: float) -> float:
        """Real seconds to wait so that ``delay_s`` have passed on this clock when the loop
        wakes. uvloop (acd.event_loop) rounds a delay to the millisecond and counts it from
        libuv's clock truncated to the millisecond (uvloop/loop.pyx call_later, libuv
        uv_now), so a timer may fire up to 1.5 ms early; a core timer that fires before
        its deadline finds nothing due and would be lost. Whole milliseconds rounded up,
        plus the one the truncation takes, never wake early."""
        real = max(0.0, delay_s) / self.speed
        return math.ceil(real * 1000 + 1) / 1000 if real > 0 else 0.0

    def real(self, delay_s: float) -> float:
        """Real seconds that pass while ``delay_s`` pass on this clock."""
        return delay_s / self.speed
