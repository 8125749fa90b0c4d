"""One node at a time delivers the outbox (CRM updates, customers' messages).

The node whose turn it is holds a PostgreSQL session advisory lock on a connection of
its own, kept busy with a check every ``check_s``. The lock ends with that session:
- the node dies (kill -9, crash): the server sees the connection close and frees it;
- the node stops answering (paused, cut off): the server ends the session once it has
  been idle ``idle_timeout_s`` (``idle_session_timeout``, PostgreSQL 14+), and
  the node, whose check does not come back, stops delivering on its side.
The other nodes try for the lock every ``retry_s``, so one of them delivers within a
few seconds. A job in flight when the turn moves stays pending and is sent again,
with the same idempotency key (at least once, never under two keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from .notify import conninfo

log = logging.getLogger(__name__)

OUTBOX_LOCK = 0x0ACD_0B0C  # pg_advisory_lock's key: the outbox's deliverer


class OutboxTurn:
    def __init__(self, url: str, deliver: Callable[[], Coroutine[Any, Any, None]], *, retry_s: float = 1.0,
                 check_s: float = 1.0, idle_timeout_s: float = 5.0) -> None:
        """``deliver``: the sender's run (until cancelled), started while this node holds the turn."""
        self.conninfo = conninfo(url)
        self.deliver = deliver
        self.retry_s = retry_s
        self.check_s = check_s
        self.idle_timeout_s = idle_timeout_s
        self.turns = 0  # how many times this node took the turn (tests, logs)
        self.holding = asyncio.Event()  # set while this node delivers (tests wait for it)
        self.tried = asyncio.Event()  # set once this node has asked for the turn (tests wait for it)
        self._confirmed_at = float("-inf")  # monotonic: when the lock's session last answered

    async def run(self) -> None:
        """Take the turn whenever it is free and deliver while holding it, until cancelled."""
        import psycopg  # only where PostgreSQL is used; SQLite needs none

        while True:
            try:
                await self._take_and_deliver(psycopg)
            except (psycopg.Error, OSError, TimeoutError) as e:
                log.warning("outbox.turn_lost", extra={"reason": f"{type(e).__name__}: {e}"})
            finally:
                self.holding.clear()
            await asyncio.sleep(self.retry_s)

    async def _take_and_deliver(self, psycopg: Any) -> None:
        async with asyncio.timeout(self.check_s * 5):
            connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True,
                                                               application_name="acd outbox")
        async with connection:
            # a session that stops talking (its node paused or cut off) is ended by the
            # server, which frees the lock for another node
            try:
                await connection.execute(f"SET idle_session_timeout = {int(self.idle_timeout_s * 1000)}")
            except psycopg.errors.UndefinedObject:  # before PostgreSQL 14: only a closed connection frees it
                log.warning("outbox.turn_without_idle_timeout")
            while not await self._try_lock(connection):
                await asyncio.sleep(self.retry_s)
            self._confirmed_at = time.monotonic()
            self.turns += 1
            self.holding.set()
            log.info("outbox.turn_taken", extra={"result": self.turns})
            delivering = asyncio.create_task(self.deliver(), name="outbox-delivery")
            try:
                while not delivering.done():
                    await asyncio.wait({delivering}, timeout=self.check_s)
                    async with asyncio.timeout(self.check_s):
                        await connection.execute("SELECT 1")
                    self._confirmed_at = time.monotonic()
                delivering.result()  # the sender ended by itself: its error is the task's
            finally:
                delivering.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await delivering

    def fresh(self) -> bool:
        """The turn is this node's as of a moment ago: false after a pause (the clock
        moved on while the checks did not), until the next check says whether it still is."""
        return self.holding.is_set() and time.monotonic() - self._confirmed_at < self.check_s * 2

    async def _try_lock(self, connection: Any) -> bool:
        async with asyncio.timeout(self.check_s * 5):
            cursor = await connection.execute("SELECT pg_try_advisory_lock(%s)", (OUTBOX_LOCK,))
            row = await cursor.fetchone()
        self.tried.set()
        return bool(row and row[0])
