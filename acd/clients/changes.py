"""Changes a person makes to a client: the responsible person (owner), identities, and
merging two clients into one.

Each runs in the caller's transaction with its outbox jobs (``CrmFeed.apply``), so
both commit or neither. Optimistic concurrency: a change names the client's
``revision`` it was made over (the card shows it); if someone else changed the
owner meanwhile, it is refused with :class:`StaleClient` rather than silently
undoing theirs. The revision check is a conditional UPDATE, which also takes the
row's write lock first, so two changes at once cannot both pass it.

What external CRMs are told (through the outbox, like every owner change):

- an owner change: ``owner.changed`` with ``reason: "changed_by_hand"`` and ``by``;
- a merge: ``owner.changed`` for the kept client (its revision bumped even when the
  owner stays), with ``reason: "merge"`` and ``merged_from``: the removed client's
  id, its snapshot and its records in each CRM, so a webhook receiver can merge on its
  side. The Bitrix24 connector sets the kept record's responsible person only: the
  removed client's record there is neither deleted nor merged (Bitrix24's duplicate
  control does that);
- added or removed identities are not pushed (the CRM's record keeps its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..crm.clients import CONTACT, OwnerChange, link_identities, set_owner, snapshot
from ..crm.identity import CHANNEL_ALIASES, EMAIL, PHONE, Identity, InvalidIdentity
from ..crm.models import Activity, Client, ClientIdentity, ExternalRef, OutboxJob
from ..crm.outbox import DEAD, OWNER_CHANGED, PENDING, enqueue

CHANGED_BY_HAND = "changed_by_hand"
MERGE = "merge"
IMPORT = "import"


class ClientNotFound(LookupError):
    def __init__(self, client_id: int) -> None:
        super().__init__(f"no client {client_id}")
        self.client_id = client_id


class StaleClient(Exception):
    """Someone else changed the client after the revision the change was made over."""

    def __init__(self, client: Client) -> None:
        super().__init__(f"client {client.id} was changed meanwhile (now revision {client.revision}, "
                         f"responsible person {client.owner or 'nobody'})")
        self.client_id = client.id
        self.revision = client.revision
        self.owner = client.owner


def describe(identity: Identity) -> str:
    noun = {PHONE: "phone number", EMAIL: "e-mail address"}.get(identity.kind, f"{identity.channel} id")
    return f"{noun} {identity.user_id}"


def typed_identity(kind: str, value: str, region: str) -> Identity:
    """An identity as a person typed it (``kind``: phone, email or messenger; a
    messenger's value ``channel:id``); InvalidIdentity with a sentence saying why not."""
    value = value.strip()
    if kind == PHONE:
        try:
            return Identity.phone(value, region)
        except InvalidIdentity:
            raise InvalidIdentity(f'"{value[:60]}" is not a phone number a client can be reached at') from None
    if kind == EMAIL:
        try:
            return Identity.email(value)
        except InvalidIdentity:
            raise InvalidIdentity(f'"{value[:60]}" is not an e-mail address') from None
    channel, sep, user_id = value.partition(":")
    channel = channel.strip().lower()
    if not sep or not channel or not user_id.strip():
        raise InvalidIdentity(f'"{value[:60]}" is not a messenger id: write it as channel:id, '
                              'for example "telegram:12345"')
    return Identity.messenger(CHANNEL_ALIASES.get(channel, channel), user_id)


class IdentityTaken(Exception):
    """The identity belongs to another client (two clients are merged by a person)."""

    def __init__(self, identity: Identity, client_id: int, client_name: str) -> None:
        named = f" ({client_name})" if client_name else ""
        super().__init__(f"the {describe(identity)} already belongs to client {client_id}{named}")
        self.identity = identity
        self.client_id = client_id
        self.client_name = client_name


class MergeRefused(Exception):
    """The merge would lose data or make no sense; the message says what to do."""


def lock_client(session: Session, client_id: int, revision: int | None = None) -> Client:
    """The client, write-locked for this transaction; StaleClient if its revision is no
    longer ``revision`` (None: any)."""
    stmt = update(Client).where(Client.id == client_id).values(revision=Client.revision)
    if revision is not None:
        stmt = stmt.where(Client.revision == revision)
    matched = session.execute(stmt.execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    client = session.get(Client, client_id, populate_existing=True)
    if client is None:
        raise ClientNotFound(client_id)
    if not matched:
        raise StaleClient(client)
    return client


def push_owner(session: Session, client: Client, change: OwnerChange, *, reason: str, targets: Sequence[str],
               now: float, **extra: Any) -> list[OutboxJob]:
    """The owner change as ``owner.changed`` jobs, in the caller's transaction."""
    payload: dict[str, Any] = {
        "client": snapshot(client), "owner": change.owner, "previous_owner": change.previous,
        "revision": change.revision, "reason": reason, "occurred_at": now, **extra,
    }
    return enqueue(session, OWNER_CHANGED, payload, targets=targets, now=now, client_id=client.id)


def change_owner(session: Session, client_id: int, owner: str, *, revision: int | None, by: str,
                 targets: Sequence[str], now: float) -> OwnerChange | None:
    """Make ``owner`` responsible for the client and tell the external CRMs; None when
    they already are (nothing pushed)."""
    client = lock_client(session, client_id, revision)
    change = set_owner(session, client, owner, now=now, reason=CHANGED_BY_HAND, by=by)
    if change is not None:
        push_owner(session, client, change, reason=CHANGED_BY_HAND, targets=targets, now=now, by=by)
    return change


def holder(session: Session, identity: Identity) -> Client | None:
    client_id = session.scalar(select(ClientIdentity.client_id).where(
        ClientIdentity.kind == identity.kind, ClientIdentity.value == identity.value))
    return session.get(Client, client_id) if client_id is not None else None


def add_identity(session: Session, client_id: int, identity: Identity, *, by: str, now: float) -> bool:
    """Give the client one more identity; False if it has it already; IdentityTaken if
    another client has it."""
    client = lock_client(session, client_id)
    other = holder(session, identity)
    if other is not None and other.id == client.id:
        return False
    if other is not None:
        raise IdentityTaken(identity, other.id, other.name)
    link_identities(session, client, [identity], now=now, log=False)
    session.add(Activity(client_id=client.id, at=now, kind="identity_added", agent=by,
                         detail={"identity": f"{identity.kind}:{identity.value}"}))
    session.flush()
    return True


def remove_identity(session: Session, client_id: int, identity_id: int, *, by: str, now: float) -> Identity:
    """Take an identity off the client: calls and chats from it are no longer the client's."""
    client = lock_client(session, client_id)
    row = next((i for i in client.identities if i.id == identity_id), None)
    if row is None:
        raise LookupError(f"client {client_id} has no identity {identity_id}")
    identity = Identity(row.kind, row.value)
    client.identities.remove(row)  # delete-orphan: the row goes
    session.add(Activity(client_id=client.id, at=now, kind="identity_removed", agent=by,
                         detail={"identity": f"{identity.kind}:{identity.value}"}))
    session.flush()
    return identity


@dataclass(frozen=True, slots=True)
class Merged:
    kept: Client
    removed: dict[str, Any]  # the removed client's snapshot
    identities: int  # moved to the kept client
    activities: int  # log lines moved
    change: OwnerChange


def merge_clients(session: Session, keep_id: int, other_id: int, *, owner: str, name: str | None = None,
                  revision: int | None = None, other_revision: int | None = None, by: str,
                  targets: Sequence[str], now: float) -> Merged:
    """Merge ``other_id`` into ``keep_id``: its identities (and so its calls, chats,
    e-mails and forms) and its log move to the kept client, which becomes a contact if
    either was one; ``owner`` is responsible for it; the other client is deleted.

    Refused (MergeRefused, nothing changed) when it would lose something silently:
    both clients have different names and ``name`` does not choose, or the other
    client still has changes waiting for an external CRM (a lead created there after
    the merge would come back as a duplicate)."""
    if keep_id == other_id:
        raise MergeRefused("a client cannot be merged with itself")
    keep = lock_client(session, keep_id, revision)
    other = lock_client(session, other_id, other_revision)
    waiting = session.scalar(select(func.count()).select_from(OutboxJob).where(
        OutboxJob.client_id == other.id, OutboxJob.state.in_((PENDING, DEAD)))) or 0
    if waiting:
        raise MergeRefused(
            f"client {other.id} still has {waiting} change(s) waiting for the external CRM: wait until they are "
            "delivered, or retry or resolve the failed ones on the CRM outbox page, then merge")
    if name is None:
        if keep.name and other.name and keep.name.strip().casefold() != other.name.strip().casefold():
            raise MergeRefused(f'both clients have a name ("{keep.name}" and "{other.name}"): choose the one to keep')
        name = keep.name or other.name
    removed = snapshot(other)
    refs = {r.target: {"entity": r.entity, "id": r.external_id}
            for r in session.scalars(select(ExternalRef).where(ExternalRef.client_id == other.id))}
    moved = list(other.identities)
    for identity in moved:
        identity.client = keep
    activities = session.execute(update(Activity).where(Activity.client_id == other.id)
                                 .values(client_id=keep.id).execution_options(synchronize_session=False))
    # delivered jobs are the client's history: they stay with it
    session.execute(update(OutboxJob).where(OutboxJob.client_id == other.id).values(client_id=keep.id)
                    .execution_options(synchronize_session=False))
    for ref in session.scalars(select(ExternalRef).where(ExternalRef.client_id == other.id)):
        session.delete(ref)
    keep.name = name
    if CONTACT in (keep.kind, other.kind):
        keep.kind = CONTACT
    session.add(Activity(client_id=keep.id, at=now, kind="client_merged", agent=by,
                         detail={"merged": removed, "refs": refs}))
    session.flush()
    session.delete(other)
    session.flush()
    change = set_owner(session, keep, owner, now=now, reason=MERGE, by=by)
    if change is None:  # same owner: the CRM is still told, the record has other identities now
        keep.revision += 1
        keep.updated_at = now
        change = OwnerChange(keep.id, keep.owner, owner, keep.revision)
    push_owner(session, keep, change, reason=MERGE, targets=targets, now=now, by=by,
               merged_from={"id": removed["id"], "client": removed, "refs": refs})
    return Merged(keep, removed, len(moved), activities.rowcount, change)  # type: ignore[attr-defined]
