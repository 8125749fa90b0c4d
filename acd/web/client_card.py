"""The client card: who a client is, who owns them, and their latest calls and chats,
read from the built-in CRM's tables and the histories. Compact on purpose: the agent
workspace shows it beside a conversation, e-mail or form; a clients page may reuse
``client_card`` as is.

Blocking reads: call from a worker thread.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..channels.history import ItemRow
from ..clients.card import phone_variants
from ..crm.clients import find_client
from ..crm.identity import PHONE, Identity, parse_client
from ..store.models import CallRow
from ..store.views import CallSummary

RECENT = 5  # calls and chats shown on the card


def client_card(client: str, *, crm: Engine | None, calls: Engine | None, channels: Engine | None,
                region: str = "DE", recent: int = RECENT) -> dict[str, Any]:
    """The card of the client behind a conversation's or item's ``client`` string:
    ``known`` (the CRM has them), ``name``, ``kind`` (lead or contact), ``owner``,
    ``identities`` ([{kind, value}]), ``calls`` (their latest calls) and ``chats``
    (their latest conversations, e-mails and forms), newest first. ``addresses``: every
    client string they are known by (for ``acd.channels.threads.client_thread``)."""
    identity = parse_client(client, region)
    card: dict[str, Any] = {"client": client, "known": False, "name": "", "kind": None, "owner": None,
                            "identities": [], "calls": [], "chats": [], "addresses": [client]}
    identities = [identity] if identity is not None else []
    if crm is not None and identity is not None:
        try:
            with Session(crm) as session:
                found = find_client(session, identity)
                if found is not None:
                    card.update(known=True, name=found.name, kind=found.kind, owner=found.owner,
                                identities=[{"kind": i.kind, "value": i.value} for i in found.identities])
                    identities = [Identity(i.kind, i.value) for i in found.identities]
        except SQLAlchemyError:  # no CRM tables in this database: a card without the CRM
            pass
    card["addresses"] = sorted({client, *(i.value for i in identities)})
    if calls is not None:
        numbers = {n for i in identities if i.kind == PHONE for n in phone_variants(i.value)}
        if numbers:
            stmt = (select(CallRow).where(CallRow.caller_number.in_(numbers))
                    .order_by(CallRow.arrived_at.desc()).limit(recent))
            with Session(calls) as session:
                card["calls"] = [_call(CallSummary.of(row)) for row in session.scalars(stmt)]
    if channels is not None:
        items = (select(ItemRow).where(ItemRow.client.in_(card["addresses"]))
                 .order_by(ItemRow.created_at.desc()).limit(recent + 1))  # + 1: the card may be shown beside one
        with Session(channels) as session:
            card["chats"] = [{"id": r.item_id, "channel": r.kind, "queue": r.queue_id, "agent": r.agent_id,
                              "status": r.status, "at": r.created_at} for r in session.scalars(items)]
    return card


def _call(call: CallSummary) -> dict[str, Any]:
    return {"call_id": call.call_id, "at": call.arrived_at, "group": call.group_id, "outcome": call.outcome,
            "agent": call.answered_by, "missed": call.missed}
