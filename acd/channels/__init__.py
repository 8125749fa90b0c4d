"""The other channels on the service side: chats, e-mails and CRM forms around the
pure conversation core (``acd.core.conversations``).

Wiring, in the service's one TaskGroup::

    desk = Desk.from_settings(settings, store.engine, clock, crm=crm_feed, calendar=WorkCalendar(clock))
    desk.on_work_state.append(lambda agent, working, reason: ...)   # telephony
    app = create_app(ctx, routers=[channels_router(desk)])
    connectors = LiveConnectors(desk, outbox_sender)   # replies out, Telegram in
    connectors.use(settings)              # again with each change of the settings: no restart
    tg.create_task(desk.run())            # restores, writes what timers change, polls the mailboxes
    tg.create_task(connectors.run())      # the Telegram pollers
    ... on stop: await desk.close()       # run() returns
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .customer_connectors import LiveConnectors, customer_connectors, telegram_pollers
from .desk import CrmHook, Desk, DeskError, Invalid, NotFound, NotSaved, NotYours, Refused, WorkStateHook
from .history import ChannelHistory
from .mailbox import MailboxPoller, parse_message
from .outgoing import Outgoing, routes_from
from .smtp import SmtpConnector
from .telegram import TelegramConnector, TelegramPoller
from .work_calendar import WorkCalendar

if TYPE_CHECKING:
    from ..config import Settings
    from .mailbox import Sleeper


def mailbox_pollers(settings: Settings, desk: Desk, clock: Sleeper | None = None) -> Sequence[MailboxPoller]:
    """One IMAP poller per mailbox queue that has ``[channels.imap]``."""
    return [MailboxPoller(desk, c.id, c.imap, clock) for c in settings.channels if c.imap is not None]


__all__ = [
    "ChannelHistory", "CrmHook", "Desk", "DeskError", "Invalid", "LiveConnectors", "MailboxPoller", "NotFound",
    "NotSaved", "NotYours", "Outgoing", "Refused", "SmtpConnector", "TelegramConnector", "TelegramPoller",
    "WorkCalendar", "WorkStateHook", "customer_connectors", "mailbox_pollers", "parse_message", "routes_from",
    "telegram_pollers",
]
