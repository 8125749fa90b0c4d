"""The core's timer commands as event-loop handles: many, short, keyed by name."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .clock import Clock


class Timers:
    def __init__(self, clock: Clock, fire: Callable[[str], object]) -> None:
        self._clock = clock
        self._fire = fire
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def start(self, key: str, delay_s: float) -> None:
        """Start ``key``; a timer already running under that key is replaced."""
        running = self._handles.get(key)
        if running is not None:
            running.cancel()
        self._handles[key] = self._clock.call_later(delay_s, self._expired, key)

    def cancel(self, key: str) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def pending(self) -> list[str]:
        return sorted(self._handles)

    def _expired(self, key: str) -> None:
        self._handles.pop(key, None)
        self._fire(key)
