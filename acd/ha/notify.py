"""PostgreSQL LISTEN/NOTIFY between acd nodes: "something changed, read it again".

A notification carries only which thing changed (and its version); the receiver reads
the thing itself from the database. NOTIFY is delivered at the sender's commit, to
every session listening then; a node whose listening connection is down hears
nothing, so after each (re)connection every handler is called with ``None``: read
everything again.

One dedicated psycopg connection per node listens; it is checked every ``check_s``
(a broken network shows as a query that does not come back) and reconnected after
``retry_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

Handler = Callable[[str | None], Awaitable[None]]  # the payload, or None: read everything again

NOTIFY_MAX_BYTES = 7999  # PostgreSQL refuses a payload of 8000 bytes or more


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def conninfo(url: str) -> str:
    """psycopg's connection string for a SQLAlchemy URL (``postgresql+psycopg://...``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def publish(connection: Connection, channel: str, payload: str) -> None:
    """NOTIFY ``channel`` within the caller's transaction: sent when it commits, never
    for a write that rolled back."""
    if len(payload.encode()) > NOTIFY_MAX_BYTES:
        raise ValueError(f"a notification on {channel} is too long ({len(payload.encode())} bytes)")
    connection.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload})


class Notifications:
    def __init__(self, url: str, *, retry_s: float = 1.0, check_s: float = 2.0) -> None:
        self.conninfo = conninfo(url)
        self.retry_s = retry_s
        self.check_s = check_s  # also how long a check may take before the connection counts as lost
        self._handlers: dict[str, list[Handler]] = {}
        self.connections = 0  # how many times the listening connection was made (tests, logs)
        self.listening = asyncio.Event()  # set while connected (tests wait for it)
        self.backend_pid: int | None = None  # the listening session's, in pg_stat_activity

    def on(self, channel: str, handler: Handler) -> None:
        """Call ``handler`` with each notification's payload on ``channel``. Handlers run
        one after the other in the listening task: a slow one delays the others."""
        if not channel.isidentifier():
            raise ValueError(f"not a channel name: {channel!r}")
        self._handlers.setdefault(channel, []).append(handler)

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after any failure."""
        import psycopg  # only where PostgreSQL is used; SQLite needs none

        while True:
            try:
                await self._listen(psycopg)
            except (psycopg.Error, OSError, TimeoutError) as e:
                log.warning("notify.connection_lost", extra={"reason": f"{type(e).__name__}: {e}"})
            finally:
                self.listening.clear()
            await asyncio.sleep(self.retry_s)

    async def _listen(self, psycopg: Any) -> None:
        async with asyncio.timeout(self.check_s * 2):
            connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True,
                                                               application_name="acd notify")
        async with connection:
            self.backend_pid = connection.info.backend_pid
            for channel in self._handlers:
                await connection.execute(f'LISTEN "{channel}"')
            self.connections += 1
            self.listening.set()
            log.info("notify.listening", extra={"channels": sorted(self._handlers), "result": self.connections})
            # whatever was said while nobody listened is lost: read it all again
            for channel in self._handlers:
                await self._handle(channel, None)
            while True:
                async for note in connection.notifies(timeout=self.check_s):
                    await self._handle(note.channel, note.payload)
                async with asyncio.timeout(self.check_s):
                    await connection.execute("SELECT 1")

    async def _handle(self, channel: str, payload: str | None) -> None:
        for handler in self._handlers.get(channel, ()):
            try:
                await handler(payload)
            except Exception:  # one bad handler or payload does not stop the others
                log.exception("notify.handler_failed", extra={"channel": channel})

