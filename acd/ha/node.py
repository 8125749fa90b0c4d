"""One node among several on a PostgreSQL database: what it shares, in one place.

``SharedNode.on(url, ...)`` is None on SQLite (one node, as ever). On PostgreSQL it
holds the listening connection (``notify``), the settings saved on any node
(``shared_settings``), the active node's live picture (``shared_live``), agents'
work changes made on a standby (``agent_work``), clients' owners
(``shared_owners``) and the outbox's turn (``outbox_turn``). ``is_active`` answers
"does this node follow the calls now"; leadership plugs in there (every node is
active until it does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from ..channels.desk import Desk
from ..config import Settings
from ..crm.feed import CrmFeed
from ..crm.sender import OutboxSender
from ..web.accounts import Accounts
from ..web.live_feed import LiveFeed
from .agent_work import AgentWorkOnActive
from .notify import Notifications, is_postgresql, publish
from .outbox_turn import OutboxTurn
from .shared_live import SharedLive
from .shared_owners import SharedOwners
from .shared_settings import SharedSettings

ACCOUNTS = "acd_accounts"  # users or tokens changed: no payload


class SharedNode:
    def __init__(self, url: str, engine: Engine, *, current: Callable[[], Settings],
                 apply: Callable[[Settings], None], is_active: Callable[[], bool],
                 now: Callable[[], float]) -> None:
        self.url = url
        self.engine = engine
        self.is_active = is_active
        self.now = now
        self.notifications = Notifications(url)
        self.settings = SharedSettings(engine, current, apply, now=now)
        self.settings.listen(self.notifications)
        self.live: SharedLive | None = None
        self.outbox: OutboxTurn | None = None
        self.agent_work: AgentWorkOnActive | None = None

    @classmethod
    def on(cls, url: str, engine: Engine, **kw: Any) -> SharedNode | None:
        return cls(url, engine, **kw) if is_postgresql(url) else None

    def share_live(self, picture: Callable[[], dict[str, Any]], feed: LiveFeed) -> SharedLive:
        self.live = SharedLive(self.engine, picture, feed, self.is_active, now=self.now)
        self.live.listen(self.notifications)
        return self.live

    def agent_work_on_active(self, desk: Desk) -> AgentWorkOnActive:
        """Agents' work changes made here while standby are made on the active node."""
        self.agent_work = AgentWorkOnActive(self.engine, desk, self.is_active)
        self.agent_work.listen(self.notifications)
        return self.agent_work

    def share_owners(self, feed: CrmFeed) -> SharedOwners:
        """Clients' responsible persons changed on any node reach every node's index."""
        owners = SharedOwners(self.engine, feed)
        owners.listen(self.notifications)
        return owners

    def share_accounts(self, accounts: Accounts) -> None:
        """A user changed or locked, or a token revoked, on any node: every node stops
        trusting the tokens it had checked (``TOKEN_CACHE_S``) once that commits."""
        accounts.change_listeners.append(lambda session: publish(session.connection(), ACCOUNTS, ""))

        async def forget(_: str | None) -> None:
            accounts.forget_tokens()

        self.notifications.on(ACCOUNTS, forget)

    def deliver(self, sender: OutboxSender) -> OutboxTurn:
        """The outbox's sender runs while this node has the turn, and claims jobs only
        while the turn is known to be its own."""
        self.outbox = OutboxTurn(self.url, sender.run)
        sender.may_claim = self.outbox.fresh
        return self.outbox

    async def run(self) -> None:
        """Listen, publish the live picture while active, and deliver in turn; until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.notifications.run(), name="notify")
            if self.live is not None:
                tasks.create_task(self.live.run(), name="live-publish")
            if self.outbox is not None:
                tasks.create_task(self.outbox.run(), name="outbox-turn")
