"""Texts to customers, made durable: an agent's reply (or any text the desk says to a
customer) becomes an outbox job in the same transaction as the timeline line that
records it, so a reply acknowledged to the agent cannot be lost.

The outbox is the one the CRM uses (``acd.crm.outbox``, table ``crm_outbox``; its
sender ``acd.crm.sender.OutboxSender``): it was built for external CRMs and now
carries customers' messages too: one job per message, ``target`` the connector that
delivers it (``telegram:<queue>``, ``smtp:<mailbox>``), ``order_key`` the
conversation, so a conversation's messages go out in order and a dead one holds the
later ones back (visible on the outbox page, retried from there); retries with
back-off, at least once, with the job's idempotency key where the far side takes one
(an e-mail's own Message-ID, made once per job).

Which connector a text takes is the queue's (``Routes``); a chat whose customer has no
push connector (the website widget, which reads the committed timeline itself, or a
chat that came in through the API) gets no job: the timeline line is its delivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ..crm.outbox import enqueue

if TYPE_CHECKING:
    from ..config import Settings

MESSAGE_OUT = "message.out"  # a chat message to a customer
EMAIL_REPLY = "email.reply"  # an e-mail answering a customer's e-mail

Change = Callable[[Session], object]  # made in the desk's transaction


@dataclass(frozen=True, slots=True)
class Route:
    """Texts to customers of this queue whose client id starts with ``prefix``
    (``telegram:``; ``""`` for every one) go to the connector named ``target``."""

    target: str
    prefix: str = ""


def telegram_target(queue_id: str) -> str:
    return f"telegram:{queue_id}"


def smtp_target(queue_id: str) -> str:
    return f"smtp:{queue_id}"


def routes_from(settings: Settings) -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for channel in settings.channels:
        if channel.telegram is not None:
            routes[channel.id] = Route(telegram_target(channel.id), "telegram:")
        elif channel.smtp is not None:
            routes[channel.id] = Route(smtp_target(channel.id))
    return routes


class Outgoing:
    def __init__(self, routes: Mapping[str, Route] | None = None) -> None:
        self.routes: Mapping[str, Route] = dict(routes or {})

    def route(self, queue_id: str, client: str) -> Route | None:
        route = self.routes.get(queue_id)
        return route if route is not None and client.startswith(route.prefix) else None

    def chat_text(self, conversation_id: str, queue_id: str, client: str, text: str, *, now: float,
                  detail: Mapping[str, Any] | None = None) -> Change | None:
        """The job delivering ``text`` to the customer of a chat, or None when the
        customer's side reads the timeline itself."""
        route = self.route(queue_id, client)
        if route is None:
            return None
        payload = {"conversation": conversation_id, "queue": queue_id, "client": client, "text": text,
                   **(detail or {})}
        return _job(MESSAGE_OUT, payload, route.target, f"conversation:{conversation_id}", now)

    def email_reply(self, item_id: str, queue_id: str, to: str, text: str, *, now: float, subject: str,
                    in_reply_to: str, references: Iterable[str] = (), agent: str | None = None,
                    domain: str = "acd.invalid") -> tuple[str, Change] | None:
        """The job sending a reply to the customer's e-mail ``item_id`` and the
        Message-ID it carries (ours, made once: a repeat is recognisable by it)."""
        route = self.route(queue_id, to)
        if route is None:
            return None
        message_id = f"{uuid.uuid4().hex}@{domain}"
        payload = {"item": item_id, "queue": queue_id, "to": to, "text": text, "subject": reply_subject(subject),
                   "message_id": message_id, "in_reply_to": in_reply_to,
                   "references": [*dict.fromkeys([*references, in_reply_to])], "agent": agent}
        return message_id, _job(EMAIL_REPLY, payload, route.target, f"email:{item_id}", now)


def reply_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    return subject if subject.lower().startswith("re:") else f"Re: {subject}".rstrip()


def _job(event: str, payload: dict[str, Any], target: str, order_key: str, now: float) -> Change:
    def change(session: Session) -> object:
        return enqueue(session, event, payload, targets=[target], now=now, order_key=order_key)

    return change
