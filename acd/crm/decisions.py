"""What the CRM does when calls and chats happen: the helpers the routers' adapters call.

Each takes an open session and works inside the caller's transaction: the built-in
CRM change and its outbox jobs commit together or not at all. None of them talks to
an external CRM; the outbox sender does that later, on its own task.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..core.commands import ReportManualTransfer
from ..core.conversation_model import CreateLead, ReportConversationTransfer
from .clients import (
    LEAD,
    find_client,
    find_client_id,
    insert_client,
    link_identities,
    record_missed_call,
    set_owner,
    snapshot,
    snapshot_by_id,
)
from .identity import EMAIL, PHONE, Identity, InvalidIdentity, parse_client, parse_phone
from .models import Client, OutboxJob
from .options import DEFAULT_OPTIONS, CrmOptions
from .outbox import CALL_FINISHED, LEAD_CREATED, OWNER_CHANGED, enqueue


@dataclass(frozen=True, slots=True)
class Interaction:
    """A call or a conversation as the CRM sees it."""

    id: str  # call id (Asterisk Uniqueid) or conversation id
    channel: str  # "phone", "email", "telegram", "form"...
    identities: tuple[Identity, ...]  # most trusted first
    at: float  # when it began
    name: str = ""  # the caller's or sender's name, if given
    line: str = ""  # the number or address it came in on
    queue: str | None = None

    @classmethod
    def call(cls, call_id: str, caller_number: str, at: float, *, region: str, name: str = "", line: str = "",
             queue: str | None = None) -> Interaction:
        phone = parse_phone(caller_number, region)
        return cls(call_id, PHONE, (phone,) if phone else (), at, name, line, queue)

    @property
    def number(self) -> str:
        return next((i.value for i in self.identities if i.kind == PHONE), "")


@dataclass(frozen=True, slots=True)
class ReportChatTransfer:
    """An agent handed a conversation to a colleague by hand (the chat twin of
    :class:`~acd.core.commands.ReportManualTransfer`)."""

    conversation_id: str
    channel: str  # "telegram", "email"...
    user_id: str  # the sender's id on that channel (the address for e-mail)
    from_agent: str | None
    to_agent: str
    kind: str = "chat"

    def identity(self) -> Identity:
        return Identity.email(self.user_id) if self.channel == EMAIL else Identity.messenger(self.channel, self.user_id)


def owner_for(session: Session, *identities: Identity, options: CrmOptions = DEFAULT_OPTIONS) -> str | None:
    """The agent to offer a known client's call or chat to first, or None."""
    if not (options.check_client and options.owner_first):
        return None
    client = find_client(session, *identities)
    return client.owner if client is not None else None


def take_crm_owner(session: Session, identities: Sequence[Identity], owner: str, *, crm: str,
                   now: float) -> Client | None:
    """An external CRM says ``owner`` is responsible for the client behind
    ``identities``: acd's record agrees (no outbox job: the CRM knows already). An
    unknown client stays unknown; acd makes leads when it answers a call."""
    client = find_client(session, *identities)
    if client is not None:
        set_owner(session, client, owner, now=now, reason=crm)
    return client


def recognise(session: Session, identities: Iterable[Identity], *, now: float) -> Client | None:
    """The client behind any of ``identities``, with the others linked to it (the
    Telegram user who gives a phone number becomes one client with both)."""
    wanted = list(identities)
    client = find_client(session, *wanted)
    if client is not None:
        link_identities(session, client, wanted, now=now)
    return client


def on_answered(session: Session, interaction: Interaction, agent: str, options: CrmOptions, *,
                targets: Sequence[str], now: float) -> int | None:
    """An agent took the call or chat: the known client's id (identities linked), or a
    new lead's owned by ``agent`` for an unknown one (if the option is on)."""
    if not options.check_client or not interaction.identities:
        return None
    if len(interaction.identities) > 1:  # several: the others may need linking
        client = recognise(session, interaction.identities, now=now)
        client_id = client.id if client is not None else None
    else:  # a call: its one number is known or not, nothing to link
        client_id = find_client_id(session, *interaction.identities)
    if client_id is None and options.create_lead:
        client_id, _ = _new_lead(session, interaction, agent, targets=targets, now=now)
    return client_id


def on_manual_transfer(session: Session, transfer: ReportManualTransfer, options: CrmOptions, *, region: str,
                       targets: Sequence[str], now: float) -> list[OutboxJob]:
    """The owner follows a call transferred by hand: at most one job per target."""
    phone = parse_phone(transfer.caller_number, region)
    if phone is None:  # anonymous or internal caller: no client to update
        return []
    interaction = Interaction(transfer.call_id, PHONE, (phone,), now)
    return _owner_follows(session, interaction, transfer.to_agent, transfer.from_agent, transfer.kind, options,
                          targets=targets, now=now)


def on_chat_transfer(session: Session, transfer: ReportChatTransfer, options: CrmOptions, *,
                     targets: Sequence[str], now: float) -> list[OutboxJob]:
    try:
        identity = transfer.identity()
    except InvalidIdentity:
        return []
    interaction = Interaction(transfer.conversation_id, transfer.channel, (identity,), now)
    return _owner_follows(session, interaction, transfer.to_agent, transfer.from_agent, transfer.kind, options,
                          targets=targets, now=now)


def on_conversation_transfer(session: Session, report: ReportConversationTransfer, options: CrmOptions, *,
                             region: str, targets: Sequence[str], now: float) -> list[OutboxJob]:
    """The conversation router's transfer report (its ``client`` string parsed)."""
    identity = parse_client(report.client, region)
    if identity is None:
        return []
    interaction = Interaction(report.conversation_id, identity.channel, (identity,), now)
    return _owner_follows(session, interaction, report.to_agent, report.from_agent, "chat", options,
                          targets=targets, now=now)


def on_create_lead(session: Session, command: CreateLead, options: CrmOptions, *, region: str,
                   targets: Sequence[str], now: float) -> list[OutboxJob]:
    """The conversation router's ``CreateLead`` (an e-mail or form from a new sender):
    a lead with the chosen agent as owner, unless the client is known by now."""
    identity = parse_client(command.client, region)
    if identity is None or not (options.check_client and options.create_lead):
        return []
    if find_client_id(session, identity) is not None:
        return []
    interaction = Interaction(command.item_id, command.source.value, (identity,), now, queue=command.queue_id)
    return _new_lead(session, interaction, command.owner_agent, targets=targets, now=now)[1]


def on_missed(session: Session, interaction: Interaction, responsible: str | None, options: CrmOptions, *,
              targets: Sequence[str], now: float) -> list[OutboxJob]:
    """Nobody answered: note it on the client (a lead for an unknown caller, owned by
    the queue's responsible person, as Bitrix24 does) and register the missed call."""
    if not (options.check_client and options.record_missed) or not interaction.identities:
        return []
    jobs: list[OutboxJob] = []
    client = recognise(session, interaction.identities, now=now)
    client_id = client.id if client is not None else None
    if client_id is None and options.create_lead and responsible:
        client_id, jobs = _new_lead(session, interaction, responsible, targets=targets, now=now)
    if client_id is not None:
        record_missed_call(session, client_id, call_id=interaction.id, at=interaction.at, number=interaction.number,
                           responsible=responsible, queue=interaction.queue)
    return jobs + _call_jobs(session, interaction, client_id, None, responsible, 0.0, targets=targets, now=now)


def on_call_finished(session: Session, interaction: Interaction, agent: str, duration_s: float,
                     options: CrmOptions, *, targets: Sequence[str], now: float) -> list[OutboxJob]:
    """An answered call ended: register it with the external CRMs (the call in the
    client's timeline)."""
    if not options.check_client or not interaction.identities or not targets:
        return []  # no external CRM: the built-in one keeps no call log
    client_id = find_client_id(session, *interaction.identities)
    return _call_jobs(session, interaction, client_id, agent, None, duration_s, targets=targets, now=now)


def _owner_follows(session: Session, interaction: Interaction, to_agent: str, from_agent: str | None, kind: str,
                   options: CrmOptions, *, targets: Sequence[str], now: float) -> list[OutboxJob]:
    if not (options.check_client and options.owner_follows_transfer):
        return []
    client = find_client(session, *interaction.identities)
    if client is None:
        # not created on answer (option off then, or the CRM missed it): the lead goes
        # straight to the agent who has the client now
        if not options.create_lead:
            return []
        _, jobs = _new_lead(session, interaction, to_agent, targets=targets, now=now)
        return jobs
    change = set_owner(session, client, to_agent, now=now, reason=f"manual_transfer:{kind}", by=from_agent,
                       ref=interaction.id)
    if change is None:
        return []
    payload: dict[str, Any] = {
        "client": snapshot(client), "owner": change.owner, "previous_owner": change.previous,
        "revision": change.revision, "reason": "manual_transfer", "transfer_kind": kind,
        "channel": interaction.channel, "ref": interaction.id, "occurred_at": now,
        "transfer_updates": options.transfer_updates,
    }
    return enqueue(session, OWNER_CHANGED, payload, targets=targets, now=now, client_id=client.id)


def _new_lead(session: Session, interaction: Interaction, owner: str | None, *, targets: Sequence[str],
              now: float) -> tuple[int, list[OutboxJob]]:
    """A lead for ``interaction``'s identities, which the caller has just found unknown."""
    lead = insert_client(session, interaction.identities, kind=LEAD, owner=owner, name=interaction.name, now=now,
                         detail={"source": f"{interaction.channel}:{interaction.id}"}, unknown=True)
    if not targets:
        return lead.id, []
    payload = {"client": lead.snapshot(), "owner": owner, "channel": interaction.channel, "ref": interaction.id,
               "occurred_at": now}
    return lead.id, enqueue(session, LEAD_CREATED, payload, targets=targets, now=now, client_id=lead.id)


def _call_jobs(session: Session, interaction: Interaction, client_id: int | None, agent: str | None,
               responsible: str | None, duration_s: float, *, targets: Sequence[str], now: float) -> list[OutboxJob]:
    if interaction.channel != PHONE or not targets:
        return []
    payload = {
        "client": snapshot_by_id(session, client_id) if client_id is not None else None,
        "channel": PHONE,
        "call": {"id": interaction.id, "number": interaction.number, "started_at": interaction.at,
                 "duration_s": duration_s, "answered": agent is not None, "agent": agent,
                 "responsible": responsible, "queue": interaction.queue, "line": interaction.line},
        "occurred_at": now,
    }
    order_key = f"client:{client_id}" if client_id is not None else f"call:{interaction.id}"
    return enqueue(session, CALL_FINISHED, payload, targets=targets, now=now, client_id=client_id,
                   order_key=order_key)
