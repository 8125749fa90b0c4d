"""Garbage collection between the loop's callbacks, at a steady pace, once the service runs.

CPython collects when allocations cross a threshold (700 new containers, Python's
default), that is in the middle of whatever allocates: in acd, handling an event. A
caller's first ring then waits behind the pass: over a run of bench/first_ring.py at 100
calls/s, 152 young passes (p50 0.2 ms, p90 0.9 ms), 13 middle ones (~1.5 ms) and a full
one (13.5 ms), each inside whatever event was being handled when it struck.

Once the service runs (``Acd.run(own_process=True)``), ``PacedCollector`` takes the decision
out of the allocator: every ``period_s`` a loop timer runs the collection CPython would
have run by then, between two callbacks, where no event is half-handled (a read of the
PBX's socket and the ring it decides are one callback). CPython's rule is kept
(Modules/gcmodule.c, collect_generations): a collection is due once generation 0 holds
more than its threshold; it is of the oldest generation whose count is over its
threshold, the oldest one only once it has grown by a quarter since the last full
collection (CPython counts the objects that survived into it; here its size, read with
gc.get_objects(2) only when a full collection is considered). Automatic collection stays
on as a safety net at ``SAFETY_NET`` times the young threshold, so a loop that does not
reach its timer for long (one huge burst) still collects.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

SAFETY_NET = 100  # automatic collection at this many times the young threshold


def due(counts: tuple[int, int, int], thresholds: tuple[int, int, int], old_grew_by_a_quarter: bool) -> int | None:
    """The generation to collect now, or None: CPython's choice for these counts.
    ``old_grew_by_a_quarter`` is only read when a full collection is in question."""
    if counts[0] <= thresholds[0]:
        return None
    if counts[2] > thresholds[2] and old_grew_by_a_quarter:
        return 2
    if counts[1] > thresholds[1]:
        return 1
    return 0


class PacedCollector:
    def __init__(self, period_s: float = 0.02) -> None:
        self.period_s = period_s
        self.thresholds: tuple[int, int, int] = gc.get_threshold()
        self.old_after_full = 0
        self._old_checked_at = 0  # collections[1] when the old generation's size was last read
        self.collections = [0, 0, 0]  # how many of each generation the timer ran
        self.seconds = [0.0, 0.0, 0.0]  # and how long they took
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """On the running loop; after gc.freeze(), if start-up is to be out of sight."""
        self.thresholds = young, middle, old = gc.get_threshold()
        self.old_after_full = len(gc.get_objects(2))
        gc.set_threshold(young * SAFETY_NET, middle, old)
        self._timer = asyncio.get_running_loop().call_later(self.period_s, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            gc.set_threshold(*self.thresholds)

    def _old_grew(self, counts: tuple[int, int, int]) -> bool:
        """Whether the old generation grew by a quarter since the last full collection. Its
        size is read (a list of every object in it: ~0.2 ms for 20,000) when a full
        collection is in question, and then once per ``thresholds[2]`` middle collections."""
        if counts[2] <= self.thresholds[2] or counts[0] <= self.thresholds[0] \
                or self.collections[1] < self._old_checked_at + self.thresholds[2]:
            return False
        self._old_checked_at = self.collections[1]
        return len(gc.get_objects(2)) - self.old_after_full > self.old_after_full / 4

    def _tick(self) -> None:
        counts: tuple[int, int, int] = gc.get_count()
        generation = due(counts, self.thresholds, self._old_grew(counts))
        if generation is not None:
            started = time.perf_counter()
            gc.collect(generation)
            self.seconds[generation] += time.perf_counter() - started
            self.collections[generation] += 1
            if generation == 2:
                self.old_after_full = len(gc.get_objects(2))
                self._old_checked_at = self.collections[1]
        self._timer = asyncio.get_running_loop().call_later(self.period_s, self._tick)


@contextmanager
def paced_collection() -> Iterator[PacedCollector]:
    """For the life of a service's process (acd serve, a benchmark), on its running loop:
    what exists so far frozen out of the collector's sight (gc.freeze: start-up's
    settings, indexes and modules, which a full collection would walk again and again),
    and the collector run between the loop's callbacks. Both undone on the way out."""
    gc.freeze()
    collector = PacedCollector()
    collector.start()
    try:
        yield collector
    finally:
        collector.stop()
        gc.unfreeze()
