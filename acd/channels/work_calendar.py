"""Agents' work time on a calendar: APScheduler runs the core's shift-change timers.

The conversation core says when an agent's work time next changes by itself (a shift
or a scheduled break starting or ending) with ``StartTimer("conv-shift|<agent>", s)``.
Those are hours or days away, so they go to APScheduler's ``AsyncIOScheduler`` as
one-off date jobs on the wall-clock calendar (an event-loop timer runs on the
monotonic clock and drifts from the calendar across a suspend or a clock step).
The delay is read on the shared ``Clock`` (``clock.real``), so a fast demo clock keeps
shifts in step with everything else. Clocking in/out and breaks by hand need no
calendar: the Desk feeds them to the core at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


class RealTime(Protocol):
    def real(self, delay_s: float) -> float: ...


class WorkCalendar:
    def __init__(self, clock: RealTime, scheduler: AsyncIOScheduler | None = None) -> None:
        self.clock = clock
        self.scheduler = scheduler or AsyncIOScheduler(timezone=UTC)
        self._fire: Callable[[str], Any] = lambda key: None

    def bind(self, fire: Callable[[str], Any]) -> None:
        """``fire(key)`` runs on the event loop when a job falls due."""
        self._fire = fire

    def start(self) -> None:
        """Start the scheduler (needs the running event loop)."""
        if not self.scheduler.running:
            self.scheduler.start()

    def at(self, key: str, delay_s: float) -> None:
        """Run ``fire(key)`` after ``delay_s`` seconds of the shared clock; replaces ``key``."""
        run_date = datetime.now(UTC) + timedelta(seconds=self.clock.real(max(0.0, delay_s)))
        self.scheduler.add_job(self._due, "date", run_date=run_date, args=[key], id=key, replace_existing=True,
                               misfire_grace_time=None, coalesce=True)

    def cancel(self, key: str) -> None:
        try:
            self.scheduler.remove_job(key)
        except JobLookupError:
            pass

    def pending(self) -> list[str]:
        return sorted(job.id for job in self.scheduler.get_jobs())

    def close(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def _due(self, key: str) -> None:
        # a coroutine on purpose: AsyncIOScheduler runs plain functions in worker threads,
        # and the router must only be touched on the event loop's thread
        try:
            self._fire(key)
        except Exception:
            log.exception("channels.calendar_job_failed", extra={"key": key})
