"""Wakes live views when the router's picture changes, coalescing bursts of events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from ..core.commands import Command
from ..core.events import Event


class LiveFeed:
    def __init__(self, min_interval_s: float = 0.2) -> None:
        self.version = 0
        self.min_interval_s = min_interval_s
        self._changed = asyncio.Event()

    def __call__(self, event: Event | None = None, commands: list[Command] | None = None) -> None:
        """A Distributor listener: note that something changed."""
        self.version += 1
        self._changed.set()

    async def changes(self, first: bool = True) -> AsyncIterator[int]:
        """Yield once now (if ``first``), then after each change, at most every min_interval_s."""
        if first:
            yield self.version
        seen = self.version
        while True:
            if self.version == seen:
                self._changed.clear()
                await self._changed.wait()
            await asyncio.sleep(self.min_interval_s)
            seen = self.version
            yield seen

    async def changes_or_every(self, period_s: float, min_interval_s: float | None = None) -> AsyncIterator[int]:
        """Like ``changes``, and also every ``period_s`` without a change (a view whose
        figures move with the clock, such as a waiting caller's time). ``min_interval_s``:
        this reader's own, in place of the feed's."""
        min_interval_s = self.min_interval_s if min_interval_s is None else min_interval_s
        yield self.version
        seen = self.version
        while True:
            if self.version == seen:
                self._changed.clear()
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a
                # cancellation that arrives as the wait ends, and the task never stops
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(period_s):
                        await self._changed.wait()
            await asyncio.sleep(min_interval_s)
            seen = self.version
            yield seen

    def snapshot_marker(self) -> dict[str, Any]:
        return {"version": self.version}
