"""The other channels on the service side: chats, e-mails and CRM forms around the
pure conversation core (``acd.core.conversations``).

Wiring, in the service's one TaskGroup::

    desk = Desk.from_settings(settings, store.engine, clock, crm=crm_feed, calendar=WorkCalendar(clock))
    desk.on_work_state.append(lambda agent, working, reason: ...)   # telephony
    app = create_app(ctx, routers=[channels_router(desk)])
    for connector in customer_connectors(settings): outbox_sender.add(connector)   # replies out
    tg.create_task(desk.run())            # restores, writes what timers change, polls the mailboxes
    for poller in telegram_pollers(settings, desk): tg.create_task(poller.run())   # Telegram in
    ... on stop: await desk.close()       # run() returns
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .desk import CrmHook, Desk, DeskError, Invalid, NotFound, NotSaved, NotYours, Refused, WorkStateHook
from .history import ChannelHistory
from .mailbox import MailboxPoller, parse_message
from .outgoing import Outgoing, routes_from
from .smtp import SmtpConnector
from .telegram import TelegramConnector, TelegramPoller
from .work_calendar import WorkCalendar

if TYPE_CHECKING:
    from ..config import Settings
    from ..crm.connectors import Connector
    from .mailbox import Sleeper


def mailbox_pollers(settings: Settings, desk: Desk, clock: Sleeper | None = None) -> Sequence[MailboxPoller]:
    """One IMAP poller per mailbox queue that has ``[channels.imap]``."""
    return [MailboxPoller(desk, c.id, c.imap, clock) for c in settings.channels if c.imap is not None]


_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def customer_connectors(settings: Settings) -> list[Connector]:
    """The outbox connectors that deliver texts to customers: a Telegram bot per chat
    queue with ``[channels.telegram]``, an SMTP server per mailbox with ``[channels.smtp]``.
    A bot token missing from the environment stops the start (``ConfigError``), as a
    CRM webhook's URL does."""
    from ..config import ConfigError

    connectors: list[Connector] = []
    problems: list[tuple[str, str]] = []
    for n, channel in enumerate(settings.channels):
        if channel.telegram is not None:
            item = f'channels[{n}] "{channel.id}".telegram'
            try:
                connectors.append(TelegramConnector(channel.id, channel.telegram, channel.telegram.token() or ""))
            except ValueError as e:
                problems.append((f"{item}.token_env", str(e)))
            name = channel.telegram.webhook_secret_env
            if name is not None and not _TELEGRAM_SECRET.match(channel.telegram.webhook_secret() or ""):
                problems.append((f"{item}.webhook_secret_env", f"the environment variable {name} must hold the "
                                 "webhook's secret token: 1 to 256 of A-Z, a-z, 0-9, _ and - (Bot API setWebhook)"))
        if channel.smtp is not None:
            connectors.append(SmtpConnector(channel.id, channel.smtp))
    if problems:
        raise ConfigError("<environment>", problems)
    return connectors


def telegram_pollers(settings: Settings, desk: Desk) -> list[TelegramPoller]:
    """One ``getUpdates`` poller per chat queue with ``[channels.telegram]`` and no webhook."""
    return [TelegramPoller(desk, desk.history, c.id, c.telegram, c.telegram.token() or "")
            for c in settings.channels if c.telegram is not None and c.telegram.webhook_secret_env is None]


__all__ = [
    "ChannelHistory", "CrmHook", "Desk", "DeskError", "Invalid", "MailboxPoller", "NotFound", "NotSaved", "NotYours",
    "Outgoing", "Refused", "SmtpConnector", "TelegramConnector", "TelegramPoller", "WorkCalendar", "WorkStateHook",
    "customer_connectors", "mailbox_pollers", "parse_message", "routes_from", "telegram_pollers",
]
