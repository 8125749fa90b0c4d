"""Clients, their identities and owners in the built-in CRM.

Functions take an open :class:`~sqlalchemy.orm.Session` and never commit: the caller
wraps a change and its outbox jobs in one transaction (``with session.begin():``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .identity import EMAIL, MESSENGER, PHONE, Identity
from .models import Activity, Client, ClientIdentity

LEAD = "lead"
CONTACT = "contact"


@dataclass(frozen=True, slots=True)
class OwnerChange:
    client_id: int
    previous: str | None
    owner: str
    revision: int


def find_client(session: Session, *identities: Identity) -> Client | None:
    """The client holding the first of ``identities`` that is known (the caller gives
    them in order of trust), or None."""
    if not identities:
        return None
    rows = session.execute(
        select(ClientIdentity.kind, ClientIdentity.value, ClientIdentity.client_id).where(
            ClientIdentity.value.in_({i.value for i in identities})
        )
    ).all()
    owners = {(kind, value): client_id for kind, value, client_id in rows}
    for identity in identities:
        client_id = owners.get((identity.kind, identity.value))
        if client_id is not None:
            return session.get(Client, client_id)
    return None


def add_client(
    session: Session,
    identities: Iterable[Identity],
    *,
    kind: str = CONTACT,
    owner: str | None = None,
    name: str = "",
    now: float,
    detail: dict[str, Any] | None = None,
) -> Client:
    if kind not in (LEAD, CONTACT):
        raise ValueError(f"a client is a {LEAD} or a {CONTACT}, not {kind!r}")
    client = Client(kind=kind, name=name, owner=owner, revision=0, created_at=now, updated_at=now)
    session.add(client)
    session.flush()  # the id is needed for identities, activities and outbox order
    link_identities(session, client, identities, now=now, log=False)
    session.add(Activity(client_id=client.id, at=now, kind=f"{kind}_created", agent=owner, detail=detail or {}))
    return client


def create_lead(
    session: Session, identities: Iterable[Identity], owner: str | None, *, now: float, name: str = "",
    source: str = "",
) -> Client:
    """A lead for an unknown caller or sender, owned by the agent who answered."""
    return add_client(session, identities, kind=LEAD, owner=owner, name=name, now=now, detail={"source": source})


def link_identities(
    session: Session, client: Client, identities: Iterable[Identity], *, now: float, log: bool = True
) -> list[Identity]:
    """Attach the identities not known yet to ``client`` ("chat tracking": the Telegram
    user gave a phone number). One that belongs to another client is left there: two
    known clients are merged by a person, never guessed. Returns the newly linked ones."""
    wanted = list(dict.fromkeys(identities))
    if not wanted:
        return []
    taken = {
        (kind, value)
        for kind, value in session.execute(
            select(ClientIdentity.kind, ClientIdentity.value).where(ClientIdentity.value.in_({i.value for i in wanted}))
        )
    }
    linked = [i for i in wanted if (i.kind, i.value) not in taken]
    for identity in linked:
        client.identities.append(ClientIdentity(kind=identity.kind, value=identity.value, added_at=now))
    if linked and log:
        session.add(Activity(client_id=client.id, at=now, kind="identity_linked", agent=None,
                             detail={"identities": [f"{i.kind}:{i.value}" for i in linked]}))
    return linked


def set_owner(
    session: Session, client: Client, owner: str, *, now: float, reason: str, by: str | None = None,
    ref: str | None = None,
) -> OwnerChange | None:
    """Make ``owner`` responsible for ``client``; None when it already is (so a repeated
    report of the same transfer pushes nothing)."""
    if client.owner == owner:
        return None
    previous = client.owner
    client.owner = owner
    client.revision += 1
    client.updated_at = now
    session.add(Activity(client_id=client.id, at=now, kind="owner_changed", agent=by,
                         detail={"from": previous, "to": owner, "reason": reason, "ref": ref}))
    session.flush()
    return OwnerChange(client.id, previous, owner, client.revision)


def record_missed_call(
    session: Session, client: Client, *, call_id: str, at: float, number: str = "", responsible: str | None = None,
    queue: str | None = None,
) -> Activity:
    activity = Activity(client_id=client.id, at=at, kind="missed_call", agent=responsible,
                        detail={"call_id": call_id, "number": number, "queue": queue})
    session.add(activity)
    return activity


def activities(session: Session, client_id: int) -> list[Activity]:
    return list(session.scalars(select(Activity).where(Activity.client_id == client_id).order_by(Activity.id)))


def identities_of(client: Client) -> list[Identity]:
    return [Identity(i.kind, i.value) for i in client.identities]


def snapshot(client: Client) -> dict[str, Any]:
    """The client as sent to external CRMs (what they need to find or create it)."""
    return snapshot_of(client.id, client.kind, client.name, client.owner, client.revision, identities_of(client))


def snapshot_of(client_id: int, kind: str, name: str, owner: str | None, revision: int,
                ids: Iterable[Identity]) -> dict[str, Any]:
    """:func:`snapshot` from the values (clients written in bulk have no objects)."""
    ids = list(ids)
    return {
        "id": client_id,
        "kind": kind,
        "name": name,
        "owner": owner,
        "revision": revision,
        "phones": [i.value for i in ids if i.kind == PHONE],
        "emails": [i.value for i in ids if i.kind == EMAIL],
        "messengers": [{"channel": i.channel, "user_id": i.user_id} for i in ids if i.kind == MESSENGER],
    }
