"""The batching history writer: the distributor's ``HistoryPort``.

``add`` and ``offered`` are called on the event loop for every event and only queue;
``run`` (a long-lived task under the service's TaskGroup) commits what gathered in
one transaction, so a burst of records costs one write: on a worker thread, or in
``acd serve`` by a child process (history_process.py). Nothing is lost silently:

- the database is away (connection refused, locked, timed out): the batch stays at
  the head of the queue and is retried with growing pauses, logged each time;
- the database refuses a batch (a bad value): it is retried in halves until the one
  bad record is found, which is logged at ERROR with its content and dropped;
- shutdown (``close``): everything queued is written; what still cannot be written
  after ``shutdown_timeout_s`` is logged at ERROR, one line per record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType

from sqlalchemy import exc

from ..core.commands import Record
from .database import Store
from .history import Offer

log = logging.getLogger(__name__)

# errors of the connection, not of the data: retrying the same batch can succeed
TRANSIENT = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)


class HistoryUnavailable(Exception):
    """A batch written elsewhere (history_process.py) was not written, and may be later:
    the database was away, or the writing process died. Retried, as TRANSIENT."""


class HistoryRefused(Exception):
    """The database refused a batch written elsewhere: halved, as any refusal."""


Apply = Callable[[list[Record], list[Offer]], Awaitable[None]]  # writes one batch in one transaction


class HistoryWriter:
    def __init__(
        self,
        store: Store,
        *,
        batch_delay_s: float = 0.1,  # how long a first record waits for company
        max_batch: int = 500,
        retry_delays_s: Sequence[float] = (0.5, 1, 2, 5, 10, 30),
        shutdown_timeout_s: float = 10.0,
    ) -> None:
        self.store = store
        self._apply: Apply = self._on_a_thread  # how a batch is written: see write_with
        self.batch_delay_s = batch_delay_s
        self.max_batch = max_batch
        self.retry_delays_s = tuple(retry_delays_s)
        self.shutdown_timeout_s = shutdown_timeout_s
        self._records: list[Record] = []
        self._offers: dict[tuple[str, str], float] = {}
        self._limit = max_batch
        self._wake = asyncio.Event()  # something was queued, or close() was asked
        self._hurry = asyncio.Event()  # write now: a full batch, flush() or close()
        self._idle = asyncio.Event()  # nothing queued and nothing being written
        self._idle.set()
        self._closing = False
        self._close_asked = asyncio.Event()
        self._flushers = 0  # flush() calls waiting: no batch delay meanwhile
        self._task: asyncio.Task[None] | None = None
        self.written = 0  # records committed
        self.dropped = 0  # records refused by the database (each logged)

    def write_with(self, apply: Apply) -> None:
        """Batches written by ``apply`` (acd serve: the history's child process) instead
        of ``store.apply_records`` on a worker thread; set before ``run``."""
        self._apply = apply

    async def _on_a_thread(self, records: list[Record], offers: list[Offer]) -> None:
        await asyncio.to_thread(self.store.apply_records, records, offers)

    # -------------------------------------------------------------- HistoryPort (event loop, never blocks)
    def add(self, records: list[Record]) -> None:
        if records:
            self._records.extend(records)
            self._poke()

    def offered(self, group_id: str, agent_ids: tuple[str, ...], at: float) -> None:
        for agent_id in agent_ids:
            key = (group_id, agent_id)
            self._offers[key] = max(at, self._offers.get(key, at))
        if agent_ids:
            self._poke()

    @property
    def pending(self) -> int:
        return len(self._records) + len(self._offers)

    def _poke(self) -> None:
        self._idle.clear()
        self._wake.set()
        if len(self._records) >= self._limit:
            self._hurry.set()

    # -------------------------------------------------------------- life
    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait until everything queued so far is committed (TimeoutError if not in time)."""
        self._flushers += 1
        self._hurry.set()
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        finally:
            self._flushers -= 1

    def close(self) -> None:
        """Ask ``run`` to write what is queued and return."""
        self._closing = True
        self._close_asked.set()
        self._hurry.set()
        self._wake.set()

    async def __aenter__(self) -> HistoryWriter:
        """For a writer without a TaskGroup owner: runs until the ``async with`` ends."""
        self._task = asyncio.create_task(self.run(), name="history-writer")
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()
        if self._task is not None:
            await self._task

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        failures, deadline = 0, None
        try:
            while True:
                if not self._records and not self._offers:
                    self._idle.set()  # flush() callers wake up
                    if self._closing:
                        return
                    self._hurry.clear()  # the next record waits for company again
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if self._closing and deadline is None:
                    deadline = loop.time() + self.shutdown_timeout_s
                if not self._hurry.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._hurry.wait(), self.batch_delay_s)
                batch = self._records[: self._limit]
                del self._records[: len(batch)]
                if not (self._closing or self._flushers or len(self._records) >= self._limit):
                    self._hurry.clear()  # else the next batch goes at once
                offers = [Offer(g, a, at) for (g, a), at in self._offers.items()]
                self._offers.clear()
                try:
                    await self._apply(batch, offers)
                except (*TRANSIENT, HistoryUnavailable):
                    self._put_back(batch, offers)
                    delay = self.retry_delays_s[min(failures, len(self.retry_delays_s) - 1)]
                    failures += 1
                    log.warning("history write failed, will retry", exc_info=True,
                                extra={"records": len(batch), "attempt": failures, "retry_in_s": delay})
                    if deadline is None:
                        with contextlib.suppress(TimeoutError):  # close() cuts a long pause short
                            await asyncio.wait_for(self._close_asked.wait(), delay)
                        continue
                    left = deadline - loop.time()
                    if left <= 0:
                        self._give_up()
                        return
                    await asyncio.sleep(min(delay, left))
                    continue
                except Exception:
                    self._put_back(batch, offers)
                    self._refused(batch)
                    continue
                failures, self._limit = 0, self.max_batch
                self.written += len(batch)
        except asyncio.CancelledError:
            if self.pending:
                log.error("history writer cancelled with records unwritten", extra={"records": self.pending})
                self._give_up()
            raise

    # -------------------------------------------------------------- failures
    def _put_back(self, batch: list[Record], offers: list[Offer]) -> None:
        self._records[:0] = batch
        for o in offers:
            key = (o.group_id, o.agent_id)
            self._offers[key] = max(o.at, self._offers.get(key, o.at))

    def _refused(self, batch: list[Record]) -> None:
        """The database refused the data: halve the batch until the bad record is alone."""
        if len(batch) > 1:
            self._limit = max(1, len(batch) // 2)
            log.warning("history batch refused, retrying in smaller batches", exc_info=True,
                        extra={"records": len(batch)})
            return
        if batch:
            del self._records[0]
            self.dropped += 1
            log.error("history record refused by the database, dropped: %s", _line(batch[0]), exc_info=True)
        else:
            log.error("evenly-rotation offers refused by the database, dropped: %s", self._offers, exc_info=True)
            self._offers.clear()

    def _give_up(self) -> None:
        for record in self._records:
            log.error("history record not written: %s", _line(record))
        for (group_id, agent_id), at in self._offers.items():
            log.error("offer not written: %s", json.dumps({"group": group_id, "agent": agent_id, "at": at}))
        self.dropped += len(self._records)
        self._records.clear()
        self._offers.clear()
        self._idle.set()


def _line(record: Record) -> str:
    """A record as one JSON line, to recover it from the log by hand."""
    return json.dumps({"call_id": record.call_id, "at": record.at, "kind": record.kind, "detail": record.detail},
                      default=str)
