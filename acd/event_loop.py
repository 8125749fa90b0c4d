"""The event loop acd runs on: uvloop (libuv), as uvicorn's "standard" install uses.

acd is one process whose loop carries AMI, HTTP and timers together; uvloop's cheaper
callbacks and transports shorten every event's path through it (bench/first_ring.py,
bench/http_assign.py). The tests run on the same loop (tests/conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on acd's loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
