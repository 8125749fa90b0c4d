"""Callback requests as the store keeps them (the ``callback`` records of the core).

``open_requests`` gives the router back what it had before a restart; ``requests``
lists them for the API and pages (live ones and history alike).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..core.events import StoredCallback
from .database import Store
from .models import CallbackRow

OPEN_STATES = ("waiting", "calling", "connecting", "uncertain")


@dataclass(frozen=True, slots=True)
class CallbackView:
    request_id: str
    group_id: str
    number: str
    state: str
    attempts: int
    outcomes: tuple[str, ...]
    requested_at: float
    updated_at: float
    not_before: float
    agent_id: str | None


def open_requests(store: Store) -> tuple[StoredCallback, ...]:
    stmt = select(CallbackRow).where(CallbackRow.state.in_(OPEN_STATES)).order_by(CallbackRow.place)
    with store.session() as session:
        return tuple(
            StoredCallback(r.request_id, r.group_id, r.number, r.place, r.requested_at, attempts=r.attempts,
                           tries=r.tries, state=r.state, counted=r.counted, not_before=r.not_before,
                           outcomes=tuple(r.outcomes or ()), did=r.did)
            for r in session.scalars(stmt))


def requests(store: Store, *, limit: int = 100, offset: int = 0, open_only: bool = False) -> list[CallbackView]:
    """Newest first."""
    stmt = select(CallbackRow).order_by(CallbackRow.requested_at.desc(), CallbackRow.request_id)
    if open_only:
        stmt = stmt.where(CallbackRow.state.in_(OPEN_STATES))
    with store.session() as session:
        return [CallbackView(r.request_id, r.group_id, r.number, r.state, r.attempts, tuple(r.outcomes or ()),
                             r.requested_at, r.updated_at, r.not_before, r.agent_id)
                for r in session.scalars(stmt.limit(limit).offset(offset))]
