"""The customer-facing connectors of the channel queues, as the settings say now.

Out: the outbox connectors that deliver texts to customers, a Telegram bot per chat
queue with ``[channels.telegram]`` and an SMTP server per mailbox with
``[channels.smtp]`` (``customer_connectors``). In: a ``getUpdates`` poller per chat
queue with ``[channels.telegram]`` and no webhook (``telegram_pollers``).

``LiveConnectors`` keeps both in step with the settings while the service runs: the
pages and the API change a queue's Telegram bot or SMTP server and ``use`` puts the
new connectors in the outbox sender and starts, restarts or stops the pollers, with
no restart of the service. The website widget and Telegram's webhook need nothing of
the kind: they read the settings at each request.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from .smtp import SmtpConnector
from .telegram import TelegramConnector, TelegramPoller

if TYPE_CHECKING:
    from ..config import Settings
    from ..crm.connectors import Connector
    from ..crm.sender import OutboxSender
    from .desk import Desk

_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def customer_connectors(settings: Settings) -> list[Connector]:
    """The outbox connectors that deliver texts to customers. A bot token missing from
    the environment is a ``ConfigError`` naming the queue's ``telegram.token_env``, as a
    CRM webhook's URL is: it stops the start, and a change from the pages is refused
    before anything applies."""
    from ..config import ConfigError

    connectors: list[Connector] = []
    problems: list[tuple[str, str]] = []
    for n, channel in enumerate(settings.channels):
        if channel.telegram is not None:
            item = f'channels[{n}] "{channel.id}".telegram'
            try:
                connectors.append(TelegramConnector(channel.id, channel.telegram, channel.telegram.token() or ""))
            except ValueError as e:
                problems.append((f"{item}.token_env", f"{e}: set it in the service's environment, or name "
                                 "the variable that holds the bot token"))
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


class LiveConnectors:
    """The outbox sender's customer connectors and the Telegram pollers, following the
    settings. ``run`` (a task of the service) runs the pollers until cancelled; ``use``
    may come before it (the pollers then start with it) and at any time after."""

    def __init__(self, desk: Desk, sender: OutboxSender) -> None:
        self.desk = desk
        self.sender = sender
        self.pollers: dict[str, TelegramPoller] = {}  # chat queue -> its poller
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None  # while ``run`` runs
        self._names: set[str] = set()  # the sender's connectors that are ours

    def use(self, settings: Settings, connectors: list[Connector] | None = None) -> None:
        """The connectors of ``settings`` (``customer_connectors``; ConfigError, changing
        nothing, when a token is missing): a changed one is used from its next job, a
        new poller starts, a removed or changed one stops."""
        wanted = {c.name: c for c in (customer_connectors(settings) if connectors is None else connectors)}
        for name in self._names - wanted.keys():
            self.sender.connectors.pop(name, None)
        for name, connector in wanted.items():
            if name not in self._names and name in self.sender.connectors:
                raise ValueError(f"two outbox connectors are named {name!r}")
            self.sender.connectors[name] = connector
        self._names = set(wanted)
        fresh = {p.queue_id: p for p in telegram_pollers(settings, self.desk)}
        for queue_id, old in list(self.pollers.items()):
            new = fresh.get(queue_id)
            if new is not None and (new.settings, new.base) == (old.settings, old.base):
                continue  # unchanged: it goes on polling from where it is
            del self.pollers[queue_id]
            task = self._tasks.pop(queue_id, None)
            if task is not None:
                task.cancel()
        for queue_id, poller in fresh.items():
            if queue_id not in self.pollers:
                self.pollers[queue_id] = poller
                self._start(poller)
        self.sender.wake()  # jobs that waited for a connector go now

    def _start(self, poller: TelegramPoller) -> None:
        if self._group is not None:
            self._tasks[poller.queue_id] = self._group.create_task(poller.run(), name=f"telegram {poller.queue_id}")

    async def run(self) -> None:
        """The pollers, until cancelled."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                for poller in self.pollers.values():
                    self._start(poller)
                await asyncio.Event().wait()
            finally:
                self._group = None
