"""The website chat widget's side of the desk: visitors, their thread, limits, and
waking the browsers that wait for a reply.

A visitor is a random token acd issues (256 bits, ``secrets``), kept by the browser in
the site's ``localStorage``: unguessable, and not a cookie of acd's domain (third-party
cookies are blocked by browsers anyway). The desk knows the visitor as the client
``widget:<sha-256 of the token>``, so neither the database nor the agents ever see a
token that would let them write as the visitor.

The visitor's thread is their open conversation in the channel (``Desk.open_conversation``,
kept across restarts by the desk's snapshot) read from the committed timeline: a reply
is shown once it is committed, and a browser that was away reads what it missed.
``Waiters`` wakes long polls when a write commits lines of the conversations they watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from .history import Batch, EventRow, ItemRow

CLIENT_PREFIX = "widget:"
SHOWN = ("message",)  # the timeline lines a visitor sees
_WAKING = frozenset((*SHOWN, "closed"))  # the lines that wake a visitor's long poll
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


def new_visitor() -> str:
    return secrets.token_urlsafe(32)


def visitor_client(token: str) -> str | None:
    """The desk's client id of the visitor holding ``token``; None if it is no token of ours."""
    if not _TOKEN.match(token):
        return None
    return CLIENT_PREFIX + hashlib.sha256(token.encode()).hexdigest()[:40]


class RateLimit:
    """At most ``limit`` events per key in any ``window_s`` (sliding, by counting the
    previous fixed window's share). Memory stays bounded: old keys are dropped."""

    def __init__(self, limit: int, window_s: float = 60.0, now: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.limit, self.window_s, self.now, self.max_keys = limit, window_s, now, max_keys
        self._counts: dict[str, tuple[int, int, int]] = {}  # key -> (window number, count, previous count)

    def take(self, key: str) -> float | None:
        """Count one event; None if allowed, else the seconds to wait."""
        now = self.now()
        window = int(now // self.window_s)
        number, count, previous = self._counts.get(key, (window, 0, 0))
        if number != window:
            previous = count if number == window - 1 else 0
            number, count = window, 0
        elapsed = now / self.window_s - window
        if previous * (1.0 - elapsed) + count + 1 > self.limit:
            return max(1.0, (1.0 - elapsed) * self.window_s)
        if len(self._counts) >= self.max_keys and key not in self._counts:
            self._forget(window)
        self._counts[key] = (number, count + 1, previous)
        return None

    def _forget(self, window: int) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[0] >= window - 1}
        while len(self._counts) >= self.max_keys:  # all current: the oldest go
            self._counts.pop(next(iter(self._counts)))


class Waiters:
    """Long polls waiting for new lines of some conversations (or a visitor's new one),
    and what each visitor last read, so that a poll which can find nothing new (no
    line of theirs committed since) does not ask the database."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}
        self.wakes = 0  # wakes so far: the clock ``nothing_new`` compares with
        self._woken_at: dict[str, int] = {}  # key -> its last wake, oldest first
        self._forgotten = 0  # a key no longer in _woken_at may have been woken up to here
        self._read: dict[str, tuple[int, int, tuple[str, ...]]] = {}  # visitor -> (wakes, line id, keys)

    @contextlib.contextmanager
    def watching(self, keys: Iterable[str]) -> Iterator[asyncio.Future[None]]:
        """A future done when one of ``keys`` is woken; registered before the caller
        reads, so a write committed between the read and the wait is not missed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        keys = list(dict.fromkeys(keys))
        for key in keys:
            self._waiting.setdefault(key, set()).add(future)
        try:
            yield future
        finally:
            for key in keys:
                waiting = self._waiting.get(key)
                if waiting is not None:
                    waiting.discard(future)
                    if not waiting:
                        del self._waiting[key]

    def wake(self, key: str) -> None:
        self.wakes += 1
        self._woken_at.pop(key, None)
        self._woken_at[key] = self.wakes
        if len(self._woken_at) > self.max_keys:
            for old in list(self._woken_at)[:len(self._woken_at) // 2]:
                self._forgotten = max(self._forgotten, self._woken_at.pop(old))
        for future in self._waiting.get(key, ()):
            if not future.done():
                future.set_result(None)

    def written(self, batch: Batch) -> None:
        """A Desk ``on_written`` hook: the conversations whose lines just committed."""
        for item_id in {line.item_id for line in batch.lines if line.kind in _WAKING}:
            self.wake(item_id)

    def read(self, visitor: str, wakes: int, reached: int, keys: Iterable[str]) -> None:
        """``visitor`` read ``keys`` up to line id ``reached``, having started when
        ``wakes`` was the count (a write committed after that may have been missed)."""
        self._read.pop(visitor, None)
        self._read[visitor] = (wakes, reached, tuple(keys))
        if len(self._read) > self.max_keys:
            del self._read[next(iter(self._read))]

    def nothing_new(self, visitor: str, after: int, keys: Iterable[str]) -> bool:
        """True when ``visitor``'s last read reached ``after`` in the same ``keys`` and
        none of them was woken since: a read now would find what that one found."""
        seen = self._read.get(visitor)
        keys = tuple(keys)
        if seen is None or seen[1] != after or seen[2] != keys:
            return False
        return all(self._woken_at.get(key, self._forgotten) <= seen[0] for key in keys)


# built once: a poll asks this many times a second, and building the statement (and
# going through the ORM's session) cost several times the query itself
_THREAD = (select(EventRow.id, EventRow.at, EventRow.detail)
           .where(EventRow.item_id.in_(bindparam("ids", expanding=True)), EventRow.kind.in_(SHOWN),
                  EventRow.id > bindparam("after"))
           .order_by(EventRow.id).limit(bindparam("limit")))


def thread(engine: Engine, conversations: Iterable[str], after: int, limit: int = 200) -> list[dict[str, Any]]:
    """The visitor-visible lines of ``conversations`` after line id ``after``, oldest first."""
    ids = list(conversations)
    if not ids:
        return []
    with engine.connect() as connection:
        rows = connection.execute(_THREAD, {"ids": ids, "after": after, "limit": limit})
        return [{"id": line_id, "at": at, "from": _side(detail), "text": str(detail.get("text", ""))}
                for line_id, at, detail in rows]


def belongs(engine: Engine, conversation_id: str, client: str) -> bool:
    with Session(engine) as session:
        row = session.get(ItemRow, conversation_id)
        return row is not None and row.client == client and row.kind == "chat"


def _side(detail: dict[str, Any]) -> str:
    sender = detail.get("sender")
    return "you" if sender == "client" else "agent" if sender == "agent" else "system"
