"""What the store's queries return: plain frozen values, safe outside a session.

Times are float seconds since the epoch, as everywhere in acd.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import CallEventRow, CallRow


@dataclass(frozen=True, slots=True)
class CallSummary:
    call_id: str
    did: str
    caller_number: str
    caller_name: str
    group_id: str | None
    arrived_at: float
    answered_at: float | None
    answered_by: str | None
    ended_at: float | None  # None: the call is still live
    # the final outcome: answered, missed, abandoned, voicemail, forwarded, hangup,
    # transferred, ended; None while the call is in progress (ended_at None)
    outcome: str | None
    waited_s: float | None
    hung_up_by: str | None
    picked_up_from: str | None = None
    transferred_to: str | None = None
    forwarded_to: str | None = None
    mailbox: str | None = None
    missed: bool = False
    missed_reason: str | None = None
    tried: tuple[str, ...] = ()  # agents offered the call, in order
    called_back: bool = False
    called_back_at: float | None = None
    called_back_by: str | None = None
    server: str = "main"  # the Asterisk server the call was on

    @classmethod
    def of(cls, row: CallRow) -> CallSummary:
        return cls(**_fields(row))


@dataclass(frozen=True, slots=True)
class CallEvent:
    id: int
    at: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: CallEventRow) -> CallEvent:
        return cls(row.id, row.at, row.kind, dict(row.detail or {}))


@dataclass(frozen=True, slots=True)
class CallDetail(CallSummary):
    """A call with its timeline and decision log, oldest line first."""

    events: tuple[CallEvent, ...] = ()

    @classmethod
    def of(cls, row: CallRow) -> CallDetail:
        return cls(**_fields(row), events=tuple(CallEvent.of(e) for e in row.events))


def _fields(row: CallRow) -> dict[str, Any]:
    return dict(
        call_id=row.call_id,
        server=row.server,
        did=row.did,
        caller_number=row.caller_number,
        caller_name=row.caller_name,
        group_id=row.group_id,
        arrived_at=row.arrived_at,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
        ended_at=row.ended_at,
        outcome=row.outcome if row.ended_at is not None else None,
        waited_s=row.waited_s,
        hung_up_by=row.hung_up_by,
        picked_up_from=row.picked_up_from,
        transferred_to=row.transferred_to,
        forwarded_to=row.forwarded_to,
        mailbox=row.mailbox,
        missed=bool(row.missed),
        missed_reason=row.missed_reason,
        tried=tuple(row.tried or ()),
        called_back=bool(row.called_back),
        called_back_at=row.called_back_at,
        called_back_by=row.called_back_by,
    )
