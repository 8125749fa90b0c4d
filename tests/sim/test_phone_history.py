"""A phone's history (ring periods, answers, calls) is bounded: acd demo runs for days."""

from __future__ import annotations

from acd.sim.phones import PHONE_HISTORY, remember


def test_a_phone_remembers_its_newest_entries_and_forgets_the_oldest() -> None:
    history: list[int] = []
    for n in range(2 * PHONE_HISTORY + 10):
        remember(history, n)
        assert len(history) < 2 * PHONE_HISTORY
    assert history[-1] == 2 * PHONE_HISTORY + 9  # the newest last, as before
    assert len(history) >= PHONE_HISTORY and history == list(range(history[0], 2 * PHONE_HISTORY + 10))
