"""The event loop acd runs on: uvloop (libuv), as uvicorn's "standard" install uses.

acd is one process whose loop carries AMI, HTTP and timers together; uvloop's cheaper
callbacks and transports shorten every event's path through it (bench/first_ring.py,
bench/http_assign.py). The test suite runs on asyncio's default loop, except
tests/test_event_loop.py and tests/test_clock.py (README: Known limitations)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")

# The loop's thread shares the GIL with worker threads (the history's batches, each some
# milliseconds of SQLAlchemy). A thread that wants the GIL waits this long before the
# holder must hand it over: with Python's default, 5 ms, an AMI event read during a
# history write could wait that long for its ring (bench/first_ring.py: p99 4.4 ms).
GIL_SWITCH_INTERVAL_S = 0.0002


def new_event_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on acd's loop, with the GIL handed to it sooner (then as before)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            return runner.run(main)
    finally:
        sys.setswitchinterval(interval)


def stop_on_signals(stop: Callable[[], object]) -> None:
    """Ctrl-C (SIGINT) and a service manager's stop (SIGTERM) call ``stop`` on the running
    loop, which then ends the service in order (where the loop allows signal handlers)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
