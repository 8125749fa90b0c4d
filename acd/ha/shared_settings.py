"""The configuration saved in the web UI, on every node.

With several nodes on one PostgreSQL database, a section saved on any node (queue
groups, numbers, agents, channel queues, pauses...) is written to ``shared_state``
in the same transaction as its NOTIFY; every node then reads the sections again and
applies them live, as the node that saved them did. The TOML file of each node keeps
what is its own (``service``: where it listens and its database; ``ami``: its
Asterisk link); at start the shared sections, when there are any, win over the file's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ..config import ConfigError, Settings
from .notify import Notifications, publish
from .shared_state import SharedStateRow

log = logging.getLogger(__name__)

NAME = "settings"  # its row in shared_state
CHANNEL = "acd_settings"  # the payload: the new version
NODE_LOCAL = frozenset({"service", "ami"})  # each node's own, never shared


def load(engine: Engine) -> tuple[int, dict[str, Any]]:
    """The shared sections and their version (0 and none before the first save)."""
    with Session(engine) as session:
        row = session.scalars(select(SharedStateRow).where(SharedStateRow.name == NAME)).one_or_none()
        return (row.version, dict(row.data)) if row is not None else (0, {})


def save(engine: Engine, sections: Mapping[str, Any], now: float) -> int:
    """Put these sections (a removed one as None) in the shared settings and tell every
    node, in one transaction; the new version."""
    shared = {key: value for key, value in sections.items() if key not in NODE_LOCAL}
    with Session(engine) as session, session.begin():
        # the first save of two nodes at once: one inserts, the other finds the row
        session.execute(insert(SharedStateRow).values(name=NAME, version=0, data={}, updated_at=now)
                        .on_conflict_do_nothing(index_elements=["name"]))
        row = session.get_one(SharedStateRow, NAME, with_for_update=True)  # saves one after the other
        row.data = {**row.data, **shared}
        row.version += 1
        row.updated_at = now
        version = row.version
        session.flush()
        publish(session.connection(), CHANNEL, str(version))
    return version


def overlay(settings: Settings, shared: Mapping[str, Any]) -> Settings:
    """The node's settings with the shared sections in place of its own."""
    sections = {key: value for key, value in shared.items() if key not in NODE_LOCAL}
    return settings.with_changes(sections, source="<the settings saved in the web UI>") if sections else settings


class SharedSettings:
    """One node's side: ``save`` from the web's write path, ``heard`` from LISTEN."""

    def __init__(self, engine: Engine, current: Callable[[], Settings], apply: Callable[[Settings], None], *,
                 now: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.current = current
        self.apply = apply
        self.now = now
        self.version = 0  # the newest version applied here

    def at_start(self, settings: Settings) -> Settings:
        """The settings to start with: the file's, with the sections saved in the web UI."""
        self.version, shared = load(self.engine)
        return overlay(settings, shared)

    def listen(self, notifications: Notifications) -> None:
        notifications.on(CHANNEL, self.heard)

    def save(self, sections: Mapping[str, Any]) -> None:
        """The web's write path, before it applies the change here: a failure here
        (the database away) leaves every node as it was."""
        self.version = max(self.version, save(self.engine, sections, self.now()))

    async def heard(self, payload: str | None) -> None:
        if payload is not None and payload.isdigit() and int(payload) <= self.version:
            return  # this node's own save, or one it has read already
        version, shared = await asyncio.to_thread(load, self.engine)
        if version <= self.version:
            return
        self.version = version
        before = self.current()
        try:
            after = overlay(before, shared)
            if after.to_dict() != before.to_dict():
                self.apply(after)
                log.info("settings.shared_applied", extra={"version": version, "sections": sorted(shared)})
        except ConfigError as e:  # valid where saved, not here (an environment variable missing)
            log.error("settings.shared_not_applied", extra={"version": version, "reason": str(e)})
