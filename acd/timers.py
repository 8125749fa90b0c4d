"""The core's timer commands on one event-loop timer: many, short, keyed by name.

A ring attempt starts a timer and nearly always cancels it a moment later (the phone
rang, somebody answered). One event-loop timer per StartTimer cost a handle in the
loop's heap, and one more to cancel it, for every ring (bench/ami_ingest.py). Here the
deadlines wait in a heap of our own and the loop holds one timer, for the earliest:
starting or cancelling a timer is a dict entry and a heap push. A cancelled or
replaced timer's heap entry is dropped when it comes up (or when such entries
outnumber the live ones), never fired.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class TimerClock(Protocol):
    """What Timers needs of a clock (``acd.clock.Clock``, or a test's clock)."""

    def now(self) -> float: ...

    def call_later(self, delay_s: float, callback: Callable[..., Any], *args: Any) -> Any: ...


class Timers:
    def __init__(self, clock: TimerClock, fire: Callable[[str], object]) -> None:
        self._clock = clock
        self._fire = fire
        self._running: dict[str, int] = {}  # key -> the heap entry (its number) that fires it
        self._heap: list[tuple[float, int, str]] = []  # (deadline on the clock, number, key)
        self._numbers = itertools.count()
        self._handle: Any = None  # the loop's timer, for the deadline ``_handle_at``
        self._handle_at = float("inf")

    def start(self, key: str, delay_s: float) -> None:
        """Start ``key``; a timer already running under that key is replaced."""
        number = next(self._numbers)
        due = self._clock.now() + max(0.0, delay_s)
        self._running[key] = number
        heapq.heappush(self._heap, (due, number, key))
        if due < self._handle_at:
            self._wake_at(due)
        elif len(self._heap) > 2 * len(self._running) + 64:
            self._compact()

    def cancel(self, key: str) -> None:
        self._running.pop(key, None)

    def cancel_all(self) -> None:
        self._running.clear()
        self._heap.clear()
        self._wake_at(None)

    def pending(self) -> list[str]:
        return sorted(self._running)

    def _wake_at(self, due: float | None) -> None:
        """The loop's one timer, moved to ``due`` (None: no timer)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._handle_at = float("inf")
        if due is not None:
            self._handle_at = due
            self._handle = self._clock.call_later(due - self._clock.now(), self._expire, due)

    def _compact(self) -> None:
        """Drop the entries of cancelled and replaced timers from the heap."""
        running = self._running
        self._heap[:] = [entry for entry in self._heap if running.get(entry[2]) == entry[1]]
        heapq.heapify(self._heap)  # in place: a firing in progress holds the list

    def _expire(self, woken_for: float) -> None:
        """Fire every timer due, earliest first (the same deadline: in the order started).
        The clock never wakes us before ``woken_for`` (acd.clock), so what is due by then
        is due now. A timer started by a timer that fired waits for the next wake-up,
        as a timer of its own on the loop would."""
        self._handle, self._handle_at = None, float("inf")
        heap, running = self._heap, self._running
        due = max(woken_for, self._clock.now())
        newer = next(self._numbers)  # numbers from here on were started by what fires now
        try:
            while heap and heap[0][0] <= due and heap[0][1] < newer:
                _, number, key = heapq.heappop(heap)
                if running.get(key) != number:
                    continue  # cancelled or replaced since
                del running[key]
                try:
                    self._fire(key)
                except Exception:  # one timer's failure must not keep the others from firing
                    log.exception("timer failed", extra={"timer": key})
        finally:
            while heap and self._running.get(heap[0][2]) != heap[0][1]:
                heapq.heappop(heap)  # no wake-up for a timer nobody waits for
            if heap and self._handle is None:
                self._wake_at(heap[0][0])
            elif heap and heap[0][0] < self._handle_at:
                self._wake_at(heap[0][0])
