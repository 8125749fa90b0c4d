"""acd/garbage.py: CPython's collections, run by a loop timer between callbacks."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from acd.garbage import SAFETY_NET, PacedCollector, due

DEFAULT = (700, 10, 10)


def test_nothing_is_due_until_the_young_generation_is_over_its_threshold() -> None:
    assert due((700, 50, 50), DEFAULT, old_grew_by_a_quarter=True) is None
    assert due((701, 0, 0), DEFAULT, old_grew_by_a_quarter=True) == 0


def test_the_oldest_generation_over_its_threshold_is_collected() -> None:
    assert due((701, 11, 0), DEFAULT, old_grew_by_a_quarter=True) == 1
    assert due((701, 11, 11), DEFAULT, old_grew_by_a_quarter=True) == 2


def test_a_full_collection_waits_until_the_old_generation_grew_by_a_quarter() -> None:
    assert due((701, 11, 11), DEFAULT, old_grew_by_a_quarter=False) == 1
    assert due((701, 3, 11), DEFAULT, old_grew_by_a_quarter=False) == 0


@pytest.fixture
def small_thresholds() -> object:
    """As in the service: what exists so far frozen (the test run's own objects), small
    thresholds so that a few hundred objects make each generation due."""
    saved = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50, 2, 2)
    yield
    gc.set_threshold(*saved)
    gc.unfreeze()


async def test_a_cycle_is_collected_by_the_timer_and_not_by_the_allocator(small_thresholds: object) -> None:
    collector = PacedCollector(period_s=0.005)
    collector.start()
    try:
        assert gc.get_threshold() == (50 * SAFETY_NET, 2, 2)  # automatic collection only as a safety net
        freed = asyncio.Event()
        cycle: list[object] = []
        cycle.append(cycle)
        weakref.finalize(_Box(cycle), freed.set)
        del cycle
        kept = [{} for _ in range(200)]  # 200 new containers: over the young threshold of 50
        assert not freed.is_set()  # nothing collected while this callback allocates
        await asyncio.wait_for(freed.wait(), 1.0)
        assert collector.collections[0] + collector.collections[1] + collector.collections[2] >= 1
        assert len(kept) == 200
    finally:
        collector.stop()
    assert gc.get_threshold() == (50, 2, 2)


async def test_the_old_generation_is_collected_in_full_once_it_grew(small_thresholds: object) -> None:
    collector = PacedCollector(period_s=0.002)
    collector.start()
    try:
        kept = []
        for _ in range(40):  # objects that survive into the old generation, tick after tick
            kept.append([{} for _ in range(60)])
            await asyncio.sleep(0.004)
        assert collector.collections[2] >= 1
        assert collector.collections[1] >= 1
    finally:
        collector.stop()


class _Box:
    """A cycle that finalizes when collected: a box holding the list that holds the box."""

    def __init__(self, cycle: list[object]) -> None:
        cycle.append(self)


async def test_a_services_collection_freezes_start_up_and_paces_until_it_ends() -> None:
    from acd.garbage import paced_collection

    thresholds = gc.get_threshold()
    with paced_collection() as collector:
        assert gc.get_freeze_count() > 0  # start-up out of sight
        assert gc.get_threshold()[0] == thresholds[0] * SAFETY_NET and collector.period_s > 0
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds
