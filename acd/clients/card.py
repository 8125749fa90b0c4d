"""The client card: who the client is, who is responsible, how to reach them, and what
happened lately (calls, chats, e-mails, forms, the CRM's own log), newest first.

:func:`client_card` returns plain JSON-ready values, for the clients page, its API and
the agent workspace alike. Calls are found by the client's phone numbers, and chats,
e-mails and forms by any of its identities: the history keeps the number or address
as it came in, so each identity is looked for in the forms it may have been written
in (:func:`phone_variants`). Moving an identity to another client (a merge) moves its
history with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import phonenumbers
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from ..channels.history import ItemRow
from ..crm.clients import find_client, identities_of
from ..crm.identity import CHANNEL_ALIASES, EMAIL, PHONE, Identity, parse_client
from ..crm.models import Activity, Client
from ..store.models import CallRow

HISTORY_LIMIT = 20  # lines of each kind on a card
MAX_HISTORY_LIMIT = 100
CHANNEL_KINDS = ("chat", "email", "form")
_MARKS = " -()./"


def phone_variants(e164: str) -> list[str]:
    """The forms a PBX or a form may have kept a number in: ``+49301234567``,
    ``0049301234567``, ``49301234567``, ``0301234567`` (dialled at home), ``301234567``."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return [e164]
    national = "".join(ch for ch in phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
                       if ch.isdigit())
    nsn = phonenumbers.national_significant_number(number)
    return list(dict.fromkeys([e164, "00" + e164[1:], e164[1:], national, nsn]))


def client_strings(identity: Identity) -> list[str]:
    """How the channels may have written this identity as an item's client (lower case)."""
    if identity.kind == PHONE:
        forms = phone_variants(identity.value)
        return [*forms, *(f"tel:{f}" for f in forms), *(f"phone:{f}" for f in forms)]
    if identity.kind == EMAIL:
        return [identity.value, f"mailto:{identity.value}", f"email:{identity.value}"]
    aliases = [short for short, name in CHANNEL_ALIASES.items() if name == identity.channel]
    return [f"{channel}:{identity.user_id}".lower() for channel in (identity.channel, *aliases)]


def owner_json(owner: str | None, agents: dict[str, str] | None) -> dict[str, Any] | None:
    if owner is None:
        return None
    return {"id": owner, "name": (agents or {}).get(owner, owner)}


def client_summary(client: Client, agents: dict[str, str] | None = None) -> dict[str, Any]:
    """One line of a result list: enough to recognise the client."""
    return {
        "id": client.id, "kind": client.kind, "name": client.name, "owner": owner_json(client.owner, agents),
        "revision": client.revision, "updated_at": client.updated_at,
        "identities": [identity_json(i.id, Identity(i.kind, i.value)) for i in client.identities],
    }


def shown(identity: Identity) -> str:
    """How a person reads it: a phone number grouped ("+49 30 1234567"), the rest as kept."""
    if identity.kind != PHONE:
        return identity.user_id
    try:
        number = phonenumbers.parse(identity.value, None)
    except phonenumbers.NumberParseException:
        return identity.value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def identity_json(identity_id: int | None, identity: Identity) -> dict[str, Any]:
    return {"id": identity_id, "kind": identity.kind, "value": identity.value, "channel": identity.channel,
            "user_id": identity.user_id, "shown": shown(identity)}


def client_card(session: Session, client_id: int, *, history: Session | None = None,
                agents: dict[str, str] | None = None, limit: int = HISTORY_LIMIT) -> dict[str, Any] | None:
    """The card of ``client_id``, or None if there is no such client.

    ``session`` reads the CRM's tables; ``history`` the calls and channel items (the
    same session when omitted: in the service they share one database). ``agents``
    maps agent ids to names for the responsible person. Each list holds at most
    ``limit`` lines, newest first."""
    client = session.get(Client, client_id)
    if client is None:
        return None
    limit = max(1, min(limit, MAX_HISTORY_LIMIT))
    history = history if history is not None else session
    identities = identities_of(client)
    card = client_summary(client, agents)
    card["created_at"] = client.created_at
    card["calls"] = recent_calls(history, identities, limit)
    items = recent_items(history, identities, limit)
    for kind in CHANNEL_KINDS:
        card[f"{kind}s"] = items[kind]
    card["activities"] = [
        {"at": a.at, "kind": a.kind, "by": a.agent, "detail": a.detail}
        for a in session.scalars(select(Activity).where(Activity.client_id == client.id)
                                 .order_by(Activity.at.desc(), Activity.id.desc()).limit(limit))]
    return card


def card_for(session: Session, client: str, *, region: str = "DE", history: Session | None = None,
             agents: dict[str, str] | None = None, limit: int = HISTORY_LIMIT) -> dict[str, Any] | None:
    """The card of the client a conversation or item names (its ``client`` string:
    "tg:42", an e-mail address, a phone number as written), or None if unknown."""
    identity = parse_client(client, region)
    found = find_client(session, identity) if identity is not None else None
    if found is None:
        return None
    return client_card(session, found.id, history=history, agents=agents, limit=limit)


def _has(session: Session, table: str) -> bool:
    # the history tables are in the service's database; a CRM kept elsewhere has none
    return inspect(session.connection()).has_table(table)


def recent_calls(session: Session, identities: Iterable[Identity], limit: int) -> list[dict[str, Any]]:
    numbers = [form for i in identities if i.kind == PHONE for form in phone_variants(i.value)]
    if not numbers or not _has(session, CallRow.__tablename__):
        return []
    rows = session.scalars(select(CallRow).where(CallRow.caller_number.in_(numbers))
                           .order_by(CallRow.arrived_at.desc()).limit(limit))
    return [{"call_id": r.call_id, "arrived_at": r.arrived_at, "number": r.caller_number, "line": r.did,
             "group": r.group_id, "answered_by": r.answered_by, "waited_s": r.waited_s, "ended_at": r.ended_at,
             "outcome": r.outcome if r.ended_at is not None else None, "missed": bool(r.missed)} for r in rows]


def _compact(column: Any) -> Any:
    """The column lower-cased without the spaces and marks people write numbers with
    ("+49 30 123-45 67" as "+4930123456"): an item keeps its client as it came."""
    text = func.lower(column)
    for mark in _MARKS:
        text = func.replace(text, mark, "")
    return text


def _compacted(text: str) -> str:
    """:func:`_compact` in Python, for the values compared with it."""
    text = text.lower()
    for mark in _MARKS:
        text = text.replace(mark, "")
    return text


def recent_items(session: Session, identities: Iterable[Identity], limit: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in CHANNEL_KINDS}
    strings = list(dict.fromkeys(_compacted(s) for i in identities for s in client_strings(i)))
    if not strings or not _has(session, ItemRow.__tablename__):
        return out
    for kind in CHANNEL_KINDS:
        rows = session.scalars(select(ItemRow).where(ItemRow.kind == kind, _compact(ItemRow.client).in_(strings))
                               .order_by(ItemRow.created_at.desc()).limit(limit))
        out[kind] = [{"id": r.item_id, "queue": r.queue_id, "client": r.client, "agent": r.agent_id,
                      "status": r.status, "created_at": r.created_at, "closed_at": r.closed_at,
                      "subject": str((r.detail or {}).get("subject", ""))[:200]} for r in rows]
    return out

