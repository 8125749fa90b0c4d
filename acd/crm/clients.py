"""Clients, their identities and owners in the built-in CRM.

Functions take an open :class:`~sqlalchemy.orm.Session` and never commit: the caller
wraps a change and its outbox jobs in one transaction (``with session.begin():``).

Clients are created with plain INSERTs (:func:`insert_client`), not the ORM's unit of
work: a lead per new caller is written on a worker thread that shares the GIL with
routing, and the ORM's bookkeeping was most of that thread's time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from .identity import EMAIL, MESSENGER, PHONE, Identity
from .models import Activity, Client, ClientIdentity

LEAD = "lead"
CONTACT = "contact"
# session.info key: while set (by acd.crm.feed), the owners of the clients inserted
# without the ORM, (identity kind, value) -> owner, which the ORM's flush events miss
NEW_OWNERS = "acd.crm.new_owners"


# built once: a statement built per call costs more than running it (values(), cache key)
_HOLDERS = select(ClientIdentity.kind, ClientIdentity.value, ClientIdentity.client_id).where(
    ClientIdentity.value.in_(bindparam("values", expanding=True)))
_INSERT_CLIENT = insert(cast(Table, Client.__table__))
_INSERT_IDENTITY = insert(cast(Table, ClientIdentity.__table__))
_INSERT_ACTIVITY = insert(cast(Table, Activity.__table__))


@dataclass(frozen=True, slots=True)
class OwnerChange:
    client_id: int
    previous: str | None
    owner: str
    revision: int


def find_client(session: Session, *identities: Identity) -> Client | None:
    """The client holding the first of ``identities`` that is known (the caller gives
    them in order of trust), or None."""
    client_id = find_client_id(session, *identities)
    return session.get(Client, client_id) if client_id is not None else None


def find_client_id(session: Session, *identities: Identity) -> int | None:
    """:func:`find_client`'s id alone: one SELECT, no object loaded."""
    if not identities:
        return None
    rows = session.execute(_HOLDERS, {"values": list({i.value for i in identities})}).all()
    owners = {(kind, value): client_id for kind, value, client_id in rows}
    return next((c for i in identities if (c := owners.get((i.kind, i.value))) is not None), None)


@dataclass(frozen=True, slots=True)
class NewClient:
    """A client just inserted (:func:`insert_client`): its values, no ORM object."""

    id: int
    kind: str
    name: str
    owner: str | None
    identities: tuple[Identity, ...]  # those linked to it (one taken by another client is not)

    def snapshot(self) -> dict[str, Any]:
        return snapshot_of(self.id, self.kind, self.name, self.owner, 0, self.identities)


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
    new = insert_client(session, identities, kind=kind, owner=owner, name=name, now=now, detail=detail)
    client = session.get(Client, new.id)
    assert client is not None  # inserted in this transaction
    return client


def insert_client(
    session: Session,
    identities: Iterable[Identity],
    *,
    kind: str = CONTACT,
    owner: str | None = None,
    name: str = "",
    now: float,
    detail: dict[str, Any] | None = None,
    unknown: bool = False,
) -> NewClient:
    """A new client with its identities and its log's first line, in three INSERTs.
    Identities that belong to another client stay there (as :func:`link_identities`);
    ``unknown``: the caller has just seen that none of them is known (one SELECT less)."""
    if kind not in (LEAD, CONTACT):
        raise ValueError(f"a client is a {LEAD} or a {CONTACT}, not {kind!r}")
    wanted = list(dict.fromkeys(identities))
    if wanted and not unknown:
        taken = _taken(session, wanted)
        wanted = [i for i in wanted if (i.kind, i.value) not in taken]
    connection = session.connection()
    client_id: int = connection.execute(_INSERT_CLIENT, {
        "kind": kind, "name": name, "owner": owner, "revision": 0, "created_at": now, "updated_at": now,
    }).inserted_primary_key[0]
    if wanted:
        connection.execute(_INSERT_IDENTITY, [
            {"client_id": client_id, "kind": i.kind, "value": i.value, "added_at": now} for i in wanted])
    connection.execute(_INSERT_ACTIVITY, {"client_id": client_id, "at": now, "kind": f"{kind}_created",
                                          "agent": owner, "detail": detail or {}})
    noted = session.info.get(NEW_OWNERS)
    if noted is not None and owner is not None:
        noted.update({(i.kind, i.value): owner for i in wanted})
    return NewClient(client_id, kind, name, owner, tuple(wanted))


def create_lead(
    session: Session, identities: Iterable[Identity], owner: str | None, *, now: float, name: str = "",
    source: str = "",
) -> Client:
    """A lead for an unknown caller or sender, owned by the agent who answered."""
    return add_client(session, identities, kind=LEAD, owner=owner, name=name, now=now, detail={"source": source})


def _taken(session: Session, identities: Iterable[Identity]) -> set[tuple[str, str]]:
    return {
        (kind, value)
        for kind, value, _ in session.execute(_HOLDERS, {"values": list({i.value for i in identities})})
    }


def link_identities(
    session: Session, client: Client, identities: Iterable[Identity], *, now: float, log: bool = True
) -> list[Identity]:
    """Attach the identities not known yet to ``client`` ("chat tracking": the Telegram
    user gave a phone number). One that belongs to another client is left there: two
    known clients are merged by a person, never guessed. Returns the newly linked ones."""
    wanted = list(dict.fromkeys(identities))
    if not wanted:
        return []
    taken = _taken(session, wanted)
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
    session: Session, client_id: int, *, call_id: str, at: float, number: str = "", responsible: str | None = None,
    queue: str | None = None,
) -> Activity:
    activity = Activity(client_id=client_id, at=at, kind="missed_call", agent=responsible,
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


def snapshot_by_id(session: Session, client_id: int) -> dict[str, Any] | None:
    """:func:`snapshot` in two SELECTs, no object loaded; None if there is no such client."""
    row = session.execute(select(Client.kind, Client.name, Client.owner, Client.revision)
                          .where(Client.id == client_id)).one_or_none()
    if row is None:
        return None
    ids = session.execute(select(ClientIdentity.kind, ClientIdentity.value).where(
        ClientIdentity.client_id == client_id).order_by(ClientIdentity.id))
    return snapshot_of(client_id, *row, [Identity(kind, value) for kind, value in ids])


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
