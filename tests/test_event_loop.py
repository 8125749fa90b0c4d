"""acd's own loop: the tests and their async fixtures run on it (tests/conftest.py), and
while ``event_loop.run`` runs it the GIL comes back to it sooner."""

import asyncio
import sys

import pytest
import uvloop

from acd import event_loop


async def test_the_tests_run_on_the_services_loop() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


@pytest.fixture
async def fixture_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


async def test_async_fixtures_share_the_tests_loop(fixture_loop: asyncio.AbstractEventLoop) -> None:
    assert fixture_loop is asyncio.get_running_loop()


async def _switch_interval() -> float:
    return sys.getswitchinterval()


def test_while_acd_runs_its_loop_a_thread_holding_the_gil_hands_it_over_sooner() -> None:
    before = sys.getswitchinterval()
    assert event_loop.run(_switch_interval()) == pytest.approx(event_loop.GIL_SWITCH_INTERVAL_S)
    assert event_loop.GIL_SWITCH_INTERVAL_S < before
    assert sys.getswitchinterval() == before  # the process's own setting once the loop is done
