import asyncio

import pytest
import uvloop


async def test_the_tests_run_on_the_services_loop() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


@pytest.fixture
async def fixture_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


async def test_async_fixtures_share_the_tests_loop(fixture_loop: asyncio.AbstractEventLoop) -> None:
    assert fixture_loop is asyncio.get_running_loop()
