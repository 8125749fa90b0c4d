"""Helpers for the CRM tests: a clock the test moves, a quick sender, waiting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from acd.crm import Backoff, OutboxSender


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


# quick back-off and short timeouts: the tests run in real time against a real server
FAST = {"backoff": Backoff(base_s=0.02, factor=2.0, cap_s=0.3, jitter=0.5), "poll_s": 0.05,
        "timeout": httpx.Timeout(0.5), "deadline_s": 1.0}


def fast_sender(engine: Engine, connectors, **kw) -> OutboxSender:
    return OutboxSender(engine, connectors, **{**FAST, **kw})


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(*runners) -> AsyncIterator[None]:
    """Run ``runner.run()`` of each as tasks; cancel them on leaving (as a service stop)."""
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.contextmanager
def tx(session: Session) -> Iterator[Session]:
    """One transaction on a test's session (which may have begun one by reading)."""
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()
