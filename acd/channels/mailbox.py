"""Mailbox queues over IMAP: new messages become ``EmailReceived`` items.

``MailboxPoller`` (one per ``[[channels]]`` mailbox with ``[channels.imap]``) logs in
with ``aioimaplib`` every ``poll_seconds``, fetches the unseen messages without
marking them (``BODY.PEEK[]``), hands each to ``Desk.email_received`` and only then
flags it ``\\Seen``. The desk takes a Message-ID once (in memory and in the history
table), so a message fetched again after a crash between the two steps, or sent to
two of our mailboxes, is not handed out twice. A message without a Message-ID gets
one from the hash of its bytes (same message, same id).

The password is read from the environment variable the configuration names, at each
login, and never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Protocol

import aioimaplib

from ..config import ImapSettings
from .desk import DeskError

log = logging.getLogger(__name__)

_FETCH_LINE = re.compile(rb"^\d+ FETCH .*\bUID (\d+)")


@dataclass(frozen=True, slots=True)
class Mail:
    message_id: str
    sender: str
    subject: str
    body: str
    references: str = ""  # the thread's Message-IDs (References, else In-Reply-To), for our reply's


def parse_message(raw: bytes) -> Mail:
    """Message-ID, From, Subject and the text body of one RFC 5322 message."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    message_id = str(msg.get("Message-ID", "")).strip().strip("<>").strip()
    if not message_id or any(c.isspace() for c in message_id):
        message_id = f"sha256-{hashlib.sha256(raw).hexdigest()}@acd.invalid"
    sender = str(msg.get("Reply-To") or msg.get("From") or "")
    body_part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        try:
            body = str(body_part.get_content())
        except (LookupError, ValueError):  # an unknown charset: keep what can be read
            payload = body_part.get_payload(decode=True)
            body = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    references = " ".join(str(msg.get("References") or msg.get("In-Reply-To") or "").split())
    return Mail(message_id, sender, str(msg.get("Subject", "")), body, references)


class Inbox(Protocol):
    async def email_received(self, queue_id: str, message_id: str, sender: str, subject: str = "",
                             body: str = "", references: str = "") -> tuple[str, bool]: ...


class Sleeper(Protocol):
    async def sleep(self, delay_s: float) -> None: ...


class MailboxPoller:
    search: tuple[str, ...] = ("UNSEEN",)  # IMAP SEARCH criteria of new mail

    def __init__(self, desk: Inbox, queue_id: str, imap: ImapSettings, clock: Sleeper | None = None,
                 timeout_s: float = 30.0) -> None:
        self.desk = desk
        self.queue_id = queue_id
        self.imap = imap
        self.clock = clock
        self.timeout_s = timeout_s

    async def run(self) -> None:
        """Poll until cancelled; a failed round is logged and retried next round."""
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the server is down, the login failed...: try again later
                log.warning("channels.imap_poll_failed",
                            extra={"queue": self.queue_id, "host": self.imap.host, "error": repr(e)})
            if self.clock is not None:
                await self.clock.sleep(self.imap.poll_seconds)
            else:
                await asyncio.sleep(self.imap.poll_seconds)

    async def poll_once(self) -> int:
        """One round: log in, take the unseen messages, log out. Returns how many were new."""
        password = self.imap.password()
        if password is None:
            log.error("channels.imap_password_missing",
                      extra={"queue": self.queue_id, "variable": self.imap.password_env})
            return 0
        imap = self.imap
        client: Any = (aioimaplib.IMAP4_SSL(imap.host, imap.port, timeout=self.timeout_s) if imap.ssl
                       else aioimaplib.IMAP4(imap.host, imap.port, timeout=self.timeout_s))
        await client.wait_hello_from_server()
        try:
            _ok(await client.login(imap.username, password), "login")
            _ok(await client.select(imap.mailbox), "select")
            found = _ok(await client.uid_search(*self.search, charset=None), "search")
            uids = [u for line in found.lines[:1] for u in bytes(line).split() if u.isdigit()]
            new = 0
            for uid in uids:
                raw = _literal(_ok(await client.uid("fetch", uid.decode(), "(BODY.PEEK[])"), "fetch"))
                if raw is None:
                    continue
                if await self._take(raw):
                    new += 1
                _ok(await client.uid("store", uid.decode(), "+FLAGS", "(\\Seen)"), "store")
            return new
        finally:
            try:
                await client.logout()
            except Exception:  # the connection is gone: nothing to log out of
                pass

    async def _take(self, raw: bytes) -> bool:
        mail = parse_message(raw)
        try:
            _, duplicate = await self.desk.email_received(self.queue_id, mail.message_id, mail.sender,
                                                          mail.subject, mail.body, mail.references)
        except DeskError as e:  # e.g. no usable sender address: leave it for a person to read
            log.warning("channels.imap_message_refused",
                        extra={"queue": self.queue_id, "message_id": mail.message_id, "problem": str(e)})
            return False
        return not duplicate


def _ok(response: Any, what: str) -> Any:
    if response.result != "OK":
        raise RuntimeError(f"IMAP {what} failed: {response.result}")
    return response


def _literal(response: Any) -> bytes | None:
    """The message bytes in a FETCH response (the literal after the ``FETCH`` line)."""
    for line in response.lines:
        if isinstance(line, bytearray):
            return bytes(line)
    return None
