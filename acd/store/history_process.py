"""History batches written by a child process of their own.

A batch is about 1.4 ms of CPU every 0.1 s at 100 calls/s, most of it SQLAlchemy's
Python. On a worker thread it holds the GIL the event loop needs, and a call whose
ring fell in a batch waited for it: a third of the first ring's tail
(bench/first_ring.py). In a child process it holds neither the GIL nor, on a
machine with a second CPU, the loop's CPU.

The writer (writer.py) keeps its queue, its retries and its halving of refused
batches; only ``Store.apply_records`` runs over there, one batch at a time, in the
order the writer sends them. Both sides see the same database (a file or a
server), so an in-memory SQLite cannot be written this way.

Errors come back as one of two kinds, decided in the child where the database's
own exception is known: ``HistoryUnavailable`` (the database is away, or the child
died: retried) and ``HistoryRefused`` (the database refused the data: halved until
the bad record is found). A child that dies is replaced at the next batch. If it
dies after its commit and before its answer, the batch is written twice when it
is retried: its events appear twice in the call's timeline; nothing is lost.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sqlalchemy.engine import make_url

from ..core.commands import Record
from .database import Store
from .history import Offer
from .writer import TRANSIENT, HistoryRefused, HistoryUnavailable


class HistoryProcess:
    """``apply`` for a HistoryWriter: each batch written by one child process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def for_url(cls, url: str) -> HistoryProcess | None:
        """None for an in-memory SQLite database: it lives in this process alone."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
            return None
        return cls(url)

    async def apply(self, records: list[Record], offers: list[Offer]) -> None:
        if self._pool is None:
            # spawn: a fresh interpreter, not a fork of a process that runs threads
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_open, initargs=(self.url,))
        pool = self._pool
        try:
            await asyncio.get_running_loop().run_in_executor(pool, _apply, records, offers)
        except (BrokenProcessPool, OSError) as broken:  # the child died, or could not be started
            if self._pool is pool:
                self._pool = None  # a new child for the next batch
            pool.shutdown(wait=False, cancel_futures=True)
            raise HistoryUnavailable(f"the history's writing process stopped: {broken}") from broken

    async def close(self) -> None:
        """Let the child finish and go (the writer has written what it could)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True)


# ---------------------------------------------------------------- in the child
_store: Store | None = None
PARENT_CHECK_S = 1.0  # how often the child looks for acd


def _open(url: str) -> None:
    global _store
    # Ctrl-C in a terminal and systemd's stop reach every process of the service; the
    # child stops when acd has written what it could and shuts the pool down
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_leave_with, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    _store = Store(url)


def _leave_with(parent: int) -> None:
    """End this child once acd is gone (kill -9, a crash): it would wait for batches for
    ever, since the pool's queue is not closed while the child holds its other end."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)  # an open transaction is rolled back by the database


def _apply(records: list[Record], offers: list[Offer]) -> None:
    assert _store is not None  # _open ran first
    try:
        _store.apply_records(records, offers)
    except TRANSIENT as error:
        raise HistoryUnavailable(f"{type(error).__name__}: {error}") from None
    except Exception as error:
        raise HistoryRefused(f"{type(error).__name__}: {error}") from None
