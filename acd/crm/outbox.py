"""The outbox: changes waiting to be pushed to external CRMs, and texts waiting to be
delivered to customers (``acd.channels.outgoing``), in the database.

:func:`enqueue` runs inside the transaction of the change itself. Delivery is
at-least-once: every job carries an idempotency key made once and stored, so a repeat
after a crash or a lost answer carries the same key.

Jobs with the same ``(target, order_key)`` (one client in one CRM) go out in order: a
later one waits until the earlier is delivered. A dead job holds the client's later
jobs too (:func:`waiting_behind` says which, for the outbox page), or the CRM would
get ``owner.changed`` for a lead it never got. When a person retries the dead job,
it is re-based on the client's current state (:func:`retry`): it carries today's
owner and revision, never the owner of the day it was made, so a retry cannot put a
stale owner back even where a later change went out first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, aliased

from .clients import snapshot
from .models import Client, ExternalRef, OutboxJob

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
STATES = (PENDING, DELIVERED, DEAD)

OWNER_CHANGED = "owner.changed"
LEAD_CREATED = "lead.created"
CALL_FINISHED = "call.finished"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One job as handed to a connector (a plain value, usable outside the session)."""

    id: int
    key: str
    target: str
    order_key: str
    client_id: int | None
    event: str
    payload: dict[str, Any]
    attempts: int  # attempts made before this one
    progress: dict[str, Any]
    ref: tuple[str, str] | None  # the client's (entity, id) in the target CRM, if known


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a delivery attempt came to."""

    state: str  # DELIVERED | PENDING (try again) | DEAD
    note: str = ""
    status: int | None = None
    retry_after: float | None = None  # seconds, from the CRM's Retry-After
    progress: dict[str, Any] = field(default_factory=dict)
    ref: tuple[str, str] | None = None
    # False: the CRM only asked us to slow down (a rate limit): the attempt is not one
    # of the job's max_attempts, so a busy CRM never kills a job
    counted: bool = True

    @classmethod
    def delivered(cls, status: int | None = None, ref: tuple[str, str] | None = None, note: str = "") -> Outcome:
        return cls(DELIVERED, note, status, ref=ref)

    @classmethod
    def again(cls, note: str, status: int | None = None, retry_after: float | None = None, *,
              counted: bool = True) -> Outcome:
        return cls(PENDING, note, status, retry_after, counted=counted)

    @classmethod
    def dead(cls, note: str, status: int | None = None) -> Outcome:
        return cls(DEAD, note, status)

    def with_progress(self, progress: dict[str, Any]) -> Outcome:
        return replace(self, progress=progress)


def enqueue(
    session: Session,
    event: str,
    payload: dict[str, Any],
    *,
    targets: Iterable[str],
    now: float,
    client_id: int | None = None,
    order_key: str | None = None,
) -> list[OutboxJob]:
    """One job per target, in the caller's transaction."""
    if order_key is None:
        order_key = f"client:{client_id}" if client_id is not None else f"once:{uuid.uuid4().hex}"
    jobs = [
        OutboxJob(
            idempotency_key=uuid.uuid4().hex, target=target, order_key=order_key, client_id=client_id, event=event,
            payload=payload, state=PENDING, attempts=0, next_attempt_at=now, created_at=now, updated_at=now,
            progress={},
        )
        for target in dict.fromkeys(targets)
    ]
    session.add_all(jobs)
    session.flush()
    return jobs


def enqueue_many(session: Session, event: str, payloads: Iterable[tuple[int, dict[str, Any]]], *,
                 targets: Iterable[str], now: float) -> int:
    """:func:`enqueue` for many clients at once, one multi-row INSERT (an import);
    ``payloads``: (client id, payload) pairs. Returns the number of jobs."""
    targets = list(dict.fromkeys(targets))
    rows = [{"idempotency_key": uuid.uuid4().hex, "target": target, "order_key": f"client:{client_id}",
             "client_id": client_id, "event": event, "payload": payload, "state": PENDING, "attempts": 0,
             "next_attempt_at": now, "created_at": now, "updated_at": now, "progress": {}}
            for client_id, payload in payloads for target in targets]
    if rows:
        session.execute(insert(OutboxJob), rows)
    return len(rows)


def list_outbox(session: Session, state: str | None = None, *, target: str | None = None,
                limit: int = 100) -> list[OutboxJob]:
    """Jobs, newest first; ``state`` one of pending/delivered/dead (None: all)."""
    if state is not None and state not in STATES:
        raise ValueError(f"state must be one of {STATES}")
    stmt = select(OutboxJob).order_by(OutboxJob.id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(OutboxJob.state == state)
    if target is not None:
        stmt = stmt.where(OutboxJob.target == target)
    return list(session.scalars(stmt))


def retry(session: Session, job_id: int, *, now: float) -> OutboxJob:
    """Give a dead job a fresh set of attempts (e.g. after fixing a user mapping). The
    key stays the same. It goes out after the client's jobs still waiting before it,
    and carries the client as it is now (:func:`rebase`)."""
    job = session.get(OutboxJob, job_id)
    if job is None:
        raise LookupError(f"no outbox job {job_id}")
    if job.state != DEAD:
        raise ValueError(f"outbox job {job_id} is {job.state}, only a dead job can be retried")
    rebase(session, job, now=now)
    job.state = PENDING
    job.attempts = 0
    job.next_attempt_at = now
    job.updated_at = now
    return job


def rebase(session: Session, job: OutboxJob, *, now: float) -> None:
    """Bring the client in ``job``'s payload up to date: its snapshot, and for a lead or
    an owner change the owner and revision of now. A job retried long after it was
    made then tells the CRM the current owner, whatever went out in between."""
    client = session.get(Client, job.client_id) if job.client_id is not None else None
    if client is None or not isinstance(job.payload, dict) or "client" not in job.payload:
        return
    payload = {**job.payload, "client": snapshot(client), "rebased_at": now}
    if job.event == OWNER_CHANGED:
        payload |= {"owner": client.owner, "revision": client.revision}
    elif job.event == LEAD_CREATED:
        payload["owner"] = client.owner
    job.payload = payload


def waiting_behind(session: Session, jobs: Iterable[OutboxJob]) -> dict[int, int]:
    """For each pending job of ``jobs`` that waits behind a dead job of its client (same
    target and order key), the id of that dead job."""
    pending = [j for j in jobs if j.state == PENDING]
    if not pending:
        return {}
    dead = session.execute(
        select(OutboxJob.target, OutboxJob.order_key, func.min(OutboxJob.id))
        .where(OutboxJob.state == DEAD, OutboxJob.order_key.in_({j.order_key for j in pending}))
        .group_by(OutboxJob.target, OutboxJob.order_key)
    ).all()
    first_dead = {(target, order_key): job_id for target, order_key, job_id in dead}
    return {j.id: blocker for j in pending
            if (blocker := first_dead.get((j.target, j.order_key))) is not None and blocker < j.id}


def due(session: Session, now: float, *, limit: int) -> list[Envelope]:
    """Pending jobs due at ``now`` that head their (target, order_key) line: no earlier
    job of theirs is pending or dead."""
    earlier = aliased(OutboxJob)
    blocked = (
        select(earlier.id)
        .where(
            earlier.target == OutboxJob.target,
            earlier.order_key == OutboxJob.order_key,
            earlier.id < OutboxJob.id,
            earlier.state.in_((PENDING, DEAD)),
        )
        .exists()
    )
    jobs = session.scalars(
        select(OutboxJob)
        .where(OutboxJob.state == PENDING, OutboxJob.next_attempt_at <= now, ~blocked)
        .order_by(OutboxJob.next_attempt_at, OutboxJob.id)
        .limit(limit)
    ).all()
    refs = _refs(session, {(j.client_id, j.target) for j in jobs if j.client_id is not None})
    return [
        Envelope(j.id, j.idempotency_key, j.target, j.order_key, j.client_id, j.event, dict(j.payload), j.attempts,
                 dict(j.progress or {}), refs.get((j.client_id, j.target)))
        for j in jobs
    ]


def next_due_at(session: Session, after: float) -> float | None:
    """When the next pending job falls due after ``after`` (a back-off ending)."""
    return session.scalar(
        select(func.min(OutboxJob.next_attempt_at)).where(OutboxJob.state == PENDING, OutboxJob.next_attempt_at > after)
    )


def remember_ref(session: Session, client_id: int, target: str, ref: tuple[str, str]) -> None:
    row = session.scalar(select(ExternalRef).where(ExternalRef.client_id == client_id, ExternalRef.target == target))
    if row is None:
        session.add(ExternalRef(client_id=client_id, target=target, entity=ref[0], external_id=ref[1]))
    else:
        row.entity, row.external_id = ref


def _refs(session: Session, keys: set[tuple[int | None, str]]) -> dict[tuple[int | None, str], tuple[str, str]]:
    if not keys:
        return {}
    rows = session.scalars(select(ExternalRef).where(ExternalRef.client_id.in_({c for c, _ in keys})))
    return {(r.client_id, r.target): (r.entity, r.external_id) for r in rows if (r.client_id, r.target) in keys}
