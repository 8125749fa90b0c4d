"""Telegram as an open channel, through the Bot API over httpx (two methods are all it
takes: a client library would add a dependency and its own event loop for nothing).

In: ``TelegramPoller`` long-polls ``getUpdates``, or Telegram posts each update to
acd's webhook (``acd.web.telegram_webhook``, checked by its ``secret_token``); either
way ``TelegramIntake`` makes each text message ``Desk.chat_message(queue,
"telegram:<chat id>", text)`` and commits the update's id in the same transaction, as
a ``telegram_update`` line of the queue's cursor item (``telegram:<queue>``). At
start the poller asks from the next id after the last committed one: a restart loses
no update (Telegram keeps every update until asked with a later ``offset``, and
repeats a webhook delivery until it gets a 2xx) and takes none twice. Updates that
are not text (stickers, edits...) move the cursor past them and are not handed out.

Out: ``TelegramConnector`` delivers the outbox's ``message.out`` jobs with
``sendMessage``; a 429 waits for the ``retry_after`` Telegram names; other 4xx (the
user blocked the bot, the chat is gone) are dead at once, 5xx and transport errors
are tried again. Telegram takes no idempotency key: delivery is at least once.

The bot token is part of every Bot API URL: it is registered with the HTTP libraries'
log filter (``acd.crm.connectors.guard_secrets``) and masked in every note and log.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import httpx

from ..connector_settings import TelegramSettings
from ..crm.connectors import MASK, guard_secrets, mask_text, outcome_of
from ..crm.outbox import Envelope, Outcome
from .desk import DeskError, Receipt
from .outgoing import telegram_target

log = logging.getLogger(__name__)

CLIENT_PREFIX = "telegram:"
CURSOR_KIND = "telegram_update"
TEXT_MAX = 4096  # sendMessage's limit (Bot API); longer replies go out in parts


class Chats(Protocol):
    async def chat_message(self, queue_id: str, client: str, text: str,
                           receipt: Receipt | None = None) -> tuple[str, bool]: ...

    async def note(self, item_id: str, kind: str, **detail: Any) -> None: ...


class _Bot:
    def __init__(self, settings: TelegramSettings, token: str) -> None:
        if not token:
            raise ValueError(f"the environment variable {settings.token_env} (the bot token) is not set")
        self.base = f"{settings.api_url.rstrip('/')}/bot{token}/"
        self._replacements = {token: MASK}
        guard_secrets(self._replacements)

    def mask(self, text: str) -> str:
        return mask_text(text, self._replacements)


class TelegramConnector(_Bot):
    def __init__(self, queue_id: str, settings: TelegramSettings, token: str) -> None:
        super().__init__(settings, token)
        self.name = telegram_target(queue_id)

    def __repr__(self) -> str:
        return f"TelegramConnector(name={self.name!r})"

    async def deliver(self, http: httpx.AsyncClient, envelope: Envelope) -> Outcome:
        client = str(envelope.payload.get("client", ""))
        chat_id = client.removeprefix(CLIENT_PREFIX)
        if not client.startswith(CLIENT_PREFIX) or not chat_id.lstrip("-").isdigit():
            return Outcome.dead(f"not a Telegram chat: {client[:80]!r}")
        text = str(envelope.payload.get("text", ""))
        parts = [text[i:i + TEXT_MAX] for i in range(0, len(text), TEXT_MAX)] or [""]
        done = int(envelope.progress.get("parts_sent", 0))  # parts out before a failed attempt
        for n in range(done, len(parts)):
            response = await http.post(self.base + "sendMessage", json={"chat_id": int(chat_id), "text": parts[n]})
            outcome = outcome_of(response)
            if outcome.state != "delivered":
                if response.status_code == 429:
                    outcome = Outcome.again("HTTP 429 (Telegram: too many requests)", 429, _retry_after(response))
                return outcome.with_progress({"parts_sent": n}) if n else outcome
        return Outcome.delivered(200)


class TelegramIntake:
    """Telegram updates into the desk, each once: a text message becomes the chat's
    message with the update's id committed beside it (a ``telegram_update`` line of
    the cursor item); anything else moves the cursor past it. Updates are taken one at
    a time; an id taken before (this run, or in the last ``REMEMBERED`` committed) is
    not taken again, so a webhook delivery Telegram repeats changes nothing."""

    REMEMBERED = 10_000

    def __init__(self, desk: Chats, history: Any, queue_id: str) -> None:
        self.desk = desk
        self.history = history  # ChannelHistory: the committed cursor lines
        self.queue_id = queue_id
        self.cursor_item = f"{CLIENT_PREFIX}{queue_id}"
        self._lock = asyncio.Lock()
        self._taken: dict[int, None] | None = None  # ordered: the oldest are forgotten first

    async def last_taken(self) -> int | None:
        taken = await self._load()
        return max(taken) if taken else None

    async def take(self, update: dict[str, Any]) -> bool:
        """False when the update was taken before (or has no id)."""
        update_id = update.get("update_id")
        if not isinstance(update_id, int):
            return False
        async with self._lock:
            taken = await self._load()
            if update_id in taken:
                return False
            await self._into_desk(update_id, update)
            taken[update_id] = None
            if len(taken) > self.REMEMBERED:
                del taken[next(iter(taken))]
            return True

    async def _load(self) -> dict[int, None]:
        if self._taken is None:
            lines = await asyncio.to_thread(self.history.recent, self.cursor_item, CURSOR_KIND, self.REMEMBERED)
            self._taken = dict.fromkeys(int(line["update_id"]) for line in reversed(lines))
        return self._taken

    async def _into_desk(self, update_id: int, update: dict[str, Any]) -> None:
        message = update.get("message") or {}
        chat_id = (message.get("chat") or {}).get("id")
        text = message.get("text")
        receipt: Receipt = (self.cursor_item, CURSOR_KIND, {"update_id": update_id})
        if isinstance(chat_id, int) and isinstance(text, str) and text.strip():
            try:
                await self.desk.chat_message(self.queue_id, f"{CLIENT_PREFIX}{chat_id}", text[:64 * 1024],
                                             receipt=receipt)
                return
            except DeskError as e:  # refused by the desk: skip it, never block the line behind it
                log.warning("channels.telegram_update_refused",
                            extra={"queue": self.queue_id, "update_id": update_id, "problem": str(e)})
        await self.desk.note(receipt[0], receipt[1], **receipt[2], skipped=True)


class TelegramPoller(_Bot):
    def __init__(self, desk: Chats, history: Any, queue_id: str, settings: TelegramSettings, token: str, *,
                 http: httpx.AsyncClient | None = None, retry_s: float = 5.0) -> None:
        super().__init__(settings, token)
        self.intake = TelegramIntake(desk, history, queue_id)
        self.queue_id = queue_id
        self.settings = settings
        self.retry_s = retry_s
        self._http = http
        self.offset: int | None = None

    async def run(self) -> None:
        """Poll until cancelled; a failed round is logged (token masked) and retried."""
        async with httpx.AsyncClient(timeout=self.settings.poll_timeout_s + 10.0) if self._http is None \
                else _borrowed(self._http) as http:
            while True:
                try:
                    await self.poll_once(http)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # Telegram away, a bad answer: try again shortly
                    log.warning("channels.telegram_poll_failed",
                                extra={"queue": self.queue_id, "error": self.mask(repr(e))[:300]})
                    await asyncio.sleep(self.retry_s)

    async def poll_once(self, http: httpx.AsyncClient, timeout_s: int | None = None) -> int:
        """One ``getUpdates`` from the update after the last committed one (Telegram
        forgets the updates before ``offset``); returns how many were taken."""
        if self.offset is None:
            last = await self.intake.last_taken()
            self.offset = last + 1 if last is not None else None
        params: dict[str, Any] = {"timeout": self.settings.poll_timeout_s if timeout_s is None else timeout_s,
                                  "allowed_updates": '["message"]'}
        if self.offset is not None:
            params["offset"] = self.offset
        response = await http.get(self.base + "getUpdates", params=params)
        if response.status_code == 429:
            await asyncio.sleep(_retry_after(response) or self.retry_s)
            return 0
        response.raise_for_status()
        body = response.json()
        if not body.get("ok"):
            raise RuntimeError(f"getUpdates refused: {str(body.get('description'))[:200]}")
        taken = 0
        for update in body.get("result", []):
            update_id = update.get("update_id")
            if not isinstance(update_id, int) or (self.offset is not None and update_id < self.offset):
                continue  # asked past it already: never twice
            taken += await self.intake.take(update)
            self.offset = update_id + 1
        return taken


def _retry_after(response: httpx.Response) -> float | None:
    try:
        value = response.json().get("parameters", {}).get("retry_after")
    except (ValueError, AttributeError):
        value = None
    if isinstance(value, int | float):
        return float(value)
    header = response.headers.get("retry-after", "")
    return float(header) if header.isdigit() else None


class _borrowed:
    """A client the caller owns: used, not closed."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __aenter__(self) -> httpx.AsyncClient:
        return self.http

    async def __aexit__(self, *exc: object) -> None:
        return None
