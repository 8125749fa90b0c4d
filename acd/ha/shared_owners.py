"""The clients' responsible persons, the same on every node.

Each node keeps every identity's owner in memory (``CrmFeed``: routing asks it on
every new call and chat). A change committed on one node (the clients page, an import,
an owner following a transfer) is NOTIFYed with the identities it touched; the other
nodes put them in their index. A change too large for a notification (an import), and
a reconnection after which some may have been missed, make the nodes load every owner again.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from sqlalchemy import Engine

from ..crm.feed import CrmFeed
from .notify import NOTIFY_MAX_BYTES, Notifications, publish

log = logging.getLogger(__name__)

CHANNEL = "acd_crm_owners"


class SharedOwners:
    def __init__(self, engine: Engine, feed: CrmFeed) -> None:
        self.engine = engine
        self.feed = feed
        self.node = uuid.uuid4().hex  # its own notifications come back to it too
        feed.owner_listeners.append(self.changed)

    def listen(self, notifications: Notifications) -> None:
        notifications.on(CHANNEL, self.heard)

    def changed(self, owners: Mapping[tuple[str, str], str] | None, gone: AbstractSet[tuple[str, str]]) -> None:
        """This node committed a change (in the committing thread): tell the others.
        Never raises: the change is committed whatever becomes of the notification."""
        reload = json.dumps({"from": self.node, "reload": True})
        message = reload if owners is None else json.dumps(
            {"from": self.node, "owners": [[kind, value, owner] for (kind, value), owner in owners.items()],
             "gone": [[kind, value] for kind, value in gone]})
        if len(message.encode()) > NOTIFY_MAX_BYTES:
            message = reload
        try:
            with self.engine.begin() as connection:
                publish(connection, CHANNEL, message)
        except Exception:  # the others learn it when they next load every owner
            log.exception("crm.owners_not_shared")

    async def heard(self, payload: str | None) -> None:
        message: dict[str, Any] = json.loads(payload) if payload is not None else {"reload": True}
        if message.get("from") == self.node:
            return
        if message.get("reload"):
            await self.feed.reload_owners()
            return
        self.feed.learn_owners({(kind, value): owner for kind, value, owner in message["owners"]},
                               {(kind, value) for kind, value in message["gone"]})
