"""The live view (``/live``, the wallboard) the same on every node.

Only the active node follows the calls, so only its picture is true. While active, a
node writes its picture to ``shared_state`` (one row, replaced) after each change, at
most every ``min_interval_s`` and at least every ``every_s`` (waiting times count up),
and NOTIFYs its version; the other nodes read the row when told and show that picture.
The row can be large (every call, agent and open chat); the notification carries only
its version. A picture a second: one holds every open conversation, thousands under
load, and five a second (the pages' pace) cost as much CPU as the chats themselves
(issue 16, bench/http_assign.py on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ..web.live_feed import LiveFeed
from .notify import Notifications, publish
from .shared_state import SharedStateRow

log = logging.getLogger(__name__)

NAME = "live"  # its row in shared_state
CHANNEL = "acd_live"  # the payload: the new version


def write(engine: Engine, picture: dict[str, Any], now: float) -> int:
    """Replace the shared picture and tell the other nodes; its new version."""
    with Session(engine) as session, session.begin():
        row = insert(SharedStateRow).values(name=NAME, version=1, data=picture, updated_at=now)
        version = session.execute(row.on_conflict_do_update(
            index_elements=["name"],
            set_={"version": SharedStateRow.version + 1, "data": row.excluded.data, "updated_at": now},
        ).returning(SharedStateRow.version)).scalar_one()
        publish(session.connection(), CHANNEL, str(version))
    return int(version)


def read(engine: Engine) -> tuple[int, dict[str, Any] | None]:
    with Session(engine) as session:
        row = session.scalars(select(SharedStateRow).where(SharedStateRow.name == NAME)).one_or_none()
        return (row.version, dict(row.data)) if row is not None else (0, None)


class SharedLive:
    def __init__(self, engine: Engine, picture: Callable[[], dict[str, Any]], feed: LiveFeed,
                 is_active: Callable[[], bool], *, now: Callable[[], float] = time.time,
                 every_s: float = 1.0, min_interval_s: float = 1.0) -> None:
        """``picture``: this node's own picture (called while active); ``feed``: wakes
        this node's live streams when another node's picture arrives."""
        self.engine = engine
        self.picture = picture
        self.feed = feed
        self.is_active = is_active
        self.now = now
        self.every_s = every_s
        self.min_interval_s = min_interval_s
        self.version = 0
        self.latest: dict[str, Any] | None = None  # the active node's picture, as last read

    def listen(self, notifications: Notifications) -> None:
        notifications.on(CHANNEL, self.heard)

    def shown(self, part: str) -> dict[str, Any] | None:
        """What a standby shows for ``part`` ("live", "wallboard"): the active node's
        picture; None on the active node (it shows its own)."""
        if self.is_active() or self.latest is None:
            return None
        found = self.latest.get(part)
        return found if isinstance(found, dict) else None

    async def run(self) -> None:
        """Publish this node's picture while it is active, until cancelled."""
        async for _ in self.feed.changes_or_every(self.every_s, self.min_interval_s):
            if not self.is_active():
                continue
            try:
                await asyncio.to_thread(write, self.engine, self.picture(), self.now())
            except Exception:  # the database away for a moment: the next change tries again
                log.exception("live.publish_failed")

    async def heard(self, payload: str | None) -> None:
        if self.is_active():
            return
        if payload is not None and payload.isdigit() and int(payload) <= self.version:
            return
        version, picture = await asyncio.to_thread(read, self.engine)
        if picture is None or version <= self.version:
            return
        self.version, self.latest = version, picture
        self.feed()  # this node's live streams send the new picture
