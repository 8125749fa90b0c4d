"""Replies to customers' e-mails over SMTP (aiosmtplib), from the mailbox's address.

``SmtpConnector`` delivers the outbox's ``email.reply`` jobs (``acd.channels.outgoing``)
to the mailbox's SMTP server: From the mailbox, To the customer, ``Re:`` the subject,
our own Message-ID (made once per job, so a repeat after a lost answer carries the
same one and the customer's mail program shows it once), In-Reply-To the customer's
message and References the thread (RFC 5322 3.6.4). A refused recipient or a
permanent (5xx) answer is dead at once; a server away or a 4xx is tried again.
The password is read from the environment variable the settings name, at each send.
"""

from __future__ import annotations

import email.utils
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx

from ..connector_settings import SmtpSettings
from ..crm.connectors import MASK, mask_text
from ..crm.outbox import Envelope, Outcome
from .outgoing import smtp_target


def reply_message(sender: str, payload: dict[str, Any], *, date: float | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(payload["to"])
    msg["Subject"] = str(payload.get("subject", ""))
    msg["Date"] = email.utils.formatdate(date, localtime=False)
    msg["Message-ID"] = f"<{payload['message_id']}>"
    if payload.get("in_reply_to"):
        msg["In-Reply-To"] = f"<{payload['in_reply_to']}>"
    references = [r for r in payload.get("references", []) if r]
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    msg.set_content(str(payload.get("text", "")))
    return msg


class SmtpConnector:
    def __init__(self, queue_id: str, settings: SmtpSettings) -> None:
        self.name = smtp_target(queue_id)
        self.settings = settings

    def __repr__(self) -> str:
        return f"SmtpConnector(name={self.name!r}, host={self.settings.host!r})"

    def mask(self, text: str) -> str:
        password = self.settings.password()
        return mask_text(text, {password: MASK}) if password else text

    async def deliver(self, http: httpx.AsyncClient, envelope: Envelope) -> Outcome:
        s = self.settings
        password = s.password()
        if s.username is not None and password is None:
            return Outcome.again(f"the environment variable {s.password_env} (the SMTP password) is not set")
        message = reply_message(s.address, envelope.payload)
        try:
            errors, answer = await aiosmtplib.send(
                message, hostname=s.host, port=s.port, username=s.username, password=password,
                use_tls=s.security == "ssl", start_tls=s.security == "starttls",
                timeout=s.timeout_s)
        except aiosmtplib.SMTPRecipientsRefused as e:
            return Outcome.dead(f"the server refused the recipient: {e}")
        except aiosmtplib.SMTPResponseException as e:
            if 500 <= e.code < 600 and e.code != 554:  # permanent, except "transaction failed" (often a greylist)
                return Outcome.dead(f"SMTP {e.code}: {e.message}", e.code)
            return Outcome.again(f"SMTP {e.code}: {e.message}", e.code)
        except (aiosmtplib.SMTPException, OSError) as e:  # away, timed out, TLS failed
            return Outcome.again(f"{type(e).__name__}: {e}")
        if errors:
            return Outcome.dead(f"refused recipients: {', '.join(errors)}")
        return Outcome.delivered(note=answer[:200])
