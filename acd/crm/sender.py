"""The outbox sender: an asyncio task that pushes due jobs to their connectors: the
external CRMs' (``acd.crm``) and, since customers' messages ride the same outbox, the
channels' (``acd.channels.telegram``, ``acd.channels.smtp``; see ``acd.channels.outgoing``).

Nothing waits for it. Database work runs in worker threads and every HTTP exchange is
bounded by httpx timeouts and an overall deadline, so a CRM that hangs or answers
garbage costs only its own jobs their time. Each target has its own concurrency
limit, so a hung Bitrix24 does not hold up the webhook next to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from .connectors import Connector
from .models import OutboxJob
from .outbox import DEAD, DELIVERED, PENDING, Envelope, Outcome, due, next_due_at, remember_ref

log = logging.getLogger(__name__)

# per phase; deadline_s bounds the whole attempt
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential back-off with jitter: attempt n waits about base * factor**(n-1),
    at most ``cap_s``, drawn from the upper ``jitter`` part so that many jobs failing
    together (a CRM outage) do not come back in one burst."""

    base_s: float = 2.0
    factor: float = 2.0
    cap_s: float = 900.0
    jitter: float = 0.5
    max_retry_after_s: float = 3600.0  # a Retry-After beyond this is not believed

    def delay(self, attempts: int, rng: random.Random, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        full = min(self.cap_s, self.base_s * self.factor ** max(attempts - 1, 0))
        return full * (1.0 - self.jitter * rng.random())


class OutboxSender:
    def __init__(
        self,
        engine: Engine,
        connectors: Iterable[Connector],
        *,
        now: Callable[[], float] = time.time,
        max_attempts: int = 8,
        backoff: Backoff = Backoff(),
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deadline_s: float = 30.0,
        concurrency: int = 4,
        poll_s: float = 1.0,
        batch: int = 50,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.engine = engine
        self.connectors = {c.name: c for c in connectors}
        self.now = now
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout = timeout
        self.deadline_s = deadline_s  # the whole attempt, however slowly the bytes drip
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.batch = batch
        self.rng = rng or random.Random()
        self._wake: asyncio.Event | None = None
        self._inflight: set[tuple[str, str]] = set()  # (target, order_key)
        # several nodes: False while this node may not be the one delivering (acd.ha.outbox_turn)
        self.may_claim: Callable[[], bool] = lambda: True

    def add(self, connector: Connector) -> None:
        """One more target (a channel's connector beside the CRMs'); names are unique."""
        if connector.name in self.connectors:
            raise ValueError(f"two outbox connectors are named {connector.name!r}")
        self.connectors[connector.name] = connector

    def wake(self) -> None:
        """New or retried jobs: look now instead of at the next poll. Loop thread only
        (from another thread use ``loop.call_soon_threadsafe(sender.wake)``)."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled. Jobs in flight at cancellation stay pending and are
        sent again by the next sender, with the same idempotency key."""
        self._wake = asyncio.Event()
        self._inflight = set()  # a restarted run starts clean: those jobs are pending again
        # made in a worker thread: it reads the system's certificates (its TLS context) and
        # httpx imports its transport, 100 ms the event loop (calls, chats) waited for at a start
        http = await asyncio.to_thread(partial(httpx.AsyncClient, timeout=self.timeout, follow_redirects=False))
        async with http, asyncio.TaskGroup() as tg:
            while True:
                self._wake.clear()
                jobs, next_due = [], None
                try:
                    if self.may_claim():
                        jobs, next_due = await asyncio.to_thread(self._claim, frozenset(self._inflight))
                except Exception:  # the database away for a moment: try again later
                    log.exception("outbox.claim_failed")
                for envelope in jobs:
                    self._inflight.add((envelope.target, envelope.order_key))
                    tg.create_task(self._deliver(http, envelope))
                wait = self.poll_s if next_due is None else min(self.poll_s, max(next_due - self.now(), 0.0))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()

    def _claim(self, inflight: frozenset[tuple[str, str]]) -> tuple[list[Envelope], float | None]:
        """Due jobs to start now, and when the next back-off ends. Due jobs left out
        (their target is busy) are looked at again when a delivery ends (wake)."""
        now = self.now()
        with Session(self.engine) as session:
            candidates = due(session, now, limit=self.batch + len(inflight))
            upcoming = next_due_at(session, now)
        busy = Counter(target for target, _ in inflight)
        chosen: list[Envelope] = []
        for envelope in candidates:
            if (envelope.target, envelope.order_key) in inflight or busy[envelope.target] >= self.concurrency:
                continue
            busy[envelope.target] += 1
            chosen.append(envelope)
        return chosen[: self.batch], upcoming

    async def _deliver(self, http: httpx.AsyncClient, envelope: Envelope) -> None:
        connector = self.connectors.get(envelope.target)
        try:
            if connector is None:
                outcome = Outcome.dead(f"no connector named {envelope.target!r} is configured")
            else:
                outcome = await self._attempt(http, connector, envelope)
            await asyncio.to_thread(self._settle, envelope, outcome, connector)
        except Exception:  # the job stays pending and goes out again (same key)
            log.exception("outbox.settle_failed", extra={"job_id": envelope.id, "target": envelope.target})
        finally:
            self._inflight.discard((envelope.target, envelope.order_key))
            self.wake()

    async def _attempt(self, http: httpx.AsyncClient, connector: Connector, envelope: Envelope) -> Outcome:
        try:
            async with asyncio.timeout(self.deadline_s):
                return await connector.deliver(http, envelope)
        except TimeoutError:
            return Outcome.again(f"no answer within {self.deadline_s:g}s")
        except httpx.TransportError as exc:  # refused, reset, timed out, not HTTP at all
            return Outcome.again(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a connector bug: counted like a failure, never a crash
            log.exception("outbox.connector_failed", extra={"job_id": envelope.id, "target": envelope.target})
            return Outcome.again(f"connector error {type(exc).__name__}")

    def _settle(self, envelope: Envelope, outcome: Outcome, connector: Connector | None) -> None:
        now = self.now()
        note = connector.mask(outcome.note) if connector is not None else outcome.note
        fields = {"job_id": envelope.id, "target": envelope.target, "event": envelope.event,
                  "status": outcome.status, "reason": note}
        with Session(self.engine) as session, session.begin():
            job = session.get(OutboxJob, envelope.id)
            if job is None or job.state != PENDING:
                return
            if outcome.counted:
                job.attempts += 1
            job.updated_at = now
            job.last_status = outcome.status
            job.last_error = note[:1000] or None
            if outcome.progress:
                job.progress = {**(job.progress or {}), **outcome.progress}
            if outcome.ref is not None and job.client_id is not None:
                remember_ref(session, job.client_id, job.target, outcome.ref)
            fields["attempts"] = job.attempts
            if outcome.state == DELIVERED:
                job.state = DELIVERED
                job.delivered_at = now
                log.info("outbox.delivered", extra=fields)
            elif outcome.state == DEAD or job.attempts >= self.max_attempts:
                job.state = DEAD
                log.error("outbox.dead", extra=fields)
            else:
                delay = self.backoff.delay(job.attempts, self.rng, outcome.retry_after)
                job.next_attempt_at = now + delay
                log.warning("outbox.retry", extra={**fields, "delay_s": round(delay, 3)})
