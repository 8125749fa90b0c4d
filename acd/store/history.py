"""How the core's ``Record`` lines become the call history.

Every record is appended to ``call_events`` as it is (kind, time, detail), whatever
its kind: the timeline and decision log. Some kinds also keep the call's row in
``calls`` up to date, and ``call_agents`` (who took part, for "calls of agent X"):

==============  =====================================================================
kind            calls columns (and call_agents rows) it updates
==============  =====================================================================
arrived         new row: did, caller_number, caller_name, group_id, arrived_at = at
recovered       new row if the call is unknown (seen on the PBX after a restart):
                did, caller_number, group_id, arrived_at = at
considered      decision "ring": call_agents(agent, offered); "skip": event only
ringing         call_agents(agent, offered)
no_answer       call_agents(agent, rang_out): the agent's phone rang out (or never rang)
answered        answered_at, answered_by = agent (the first answer only),
                picked_up_from, waited_s; outcome = answered (a forward answered
                outside keeps outcome forwarded); call_agents(agent, answered)
missed          missed = true, missed_reason = reason, tried += tried (in order),
                waited_s (unless answered). Not the outcome: a caller who keeps
                waiting may still be answered
voicemail       outcome = voicemail, mailbox, waited_s (unless answered)
forwarded       outcome = forwarded, forwarded_to = number, waited_s (unless answered)
rerouted        group_id = group (missed-call forward to another group)
transferred     outcome = transferred, transferred_to = to_agent;
                call_agents(to_agent, transferred)
hangup          outcome = hangup if none yet (the ACD hung up), waited_s (unless answered)
abandoned       outcome = abandoned, ended_at = at, hung_up_by = caller, waited_s,
                tried += tried, missed = true (the core follows with "missed")
ended           ended_at = at, hung_up_by = by; if no outcome yet: missed (missed and
                never answered) or ended
callback_requested  outcome = callback, missed = false (the request replaces the
                missed-call processing; "missed" follows if it runs out of attempts)
callback_attempt    outcome "answered": called_back = true, called_back_by = agent,
                outcome = called_back; call_agents(agent, answered)
callback        the request's whole state: callback_requests row (event only otherwise)
callback_number_asked, callback_number_refused, callback_refused
                event only: the caller typed a number for a callback, or got none
anything else   event only (waiting, failed, pickup, pickup_refused,
                agent_left, transfer_failed, forward_failed, and kinds added later)
==============  =====================================================================

The outcome is final once ``ended_at`` is set; before that the call is in progress
and the views show no outcome (a talking call's "answered" may still become
"transferred").

A record for a call without a row (its "arrived" was never stored) makes a stub row
with ``arrived_at`` = the record's time, so that no line of history is refused.
The call-back list is ``missed AND answered_at IS NULL AND ended_at IS NOT NULL``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from functools import cache
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, insert, select, tuple_, update
from sqlalchemy.orm import Session

from ..core.commands import Record
from .models import MAIN_SERVER, CallAgentRow, CallbackRow, CallEventRow, CallRow, GroupOfferRow

CALLS, EVENTS, LINKS, OFFERS = (cast(Table, row.__table__) for row in (CallRow, CallEventRow, CallAgentRow,
                                                                        GroupOfferRow))


@dataclass(frozen=True, slots=True)
class Offer:
    """An agent was offered a call of a group at ``at`` (epoch seconds): evenly rotation."""

    group_id: str
    agent_id: str
    at: float


def write(session: Session, records: Iterable[Record], offers: Iterable[Offer] = ()) -> None:
    """Apply records and offers in ``session`` (the caller commits: one transaction).

    Runs on every history batch (hundreds of records a second at 100 calls/s), on a
    worker thread that shares the GIL with call routing (bench/first_ring.py: a call
    whose ring overlaps a batch waits for it): so the calls rows of a batch are read in
    one query as plain tuples, changed in memory, and written with one INSERT and an
    UPDATE per set of changed columns; its events and agent links with one multi-row
    INSERT each. No ORM object, no unit of work (they took most of the batch's time)."""
    records = list(records)
    batch = _Batch(session, {r.call_id for r in records})
    with session.no_autoflush:  # the callback requests' rows (ORM, rare): one flush
        for record in records:
            batch.apply(record)
        save_offers(session, offers)
    batch.finish()


def save_offer(session: Session, offer: Offer) -> None:
    save_offers(session, [offer])


OFFERS_PER_QUERY = 500  # (group, agent) pairs looked up at once: two bound values each


def save_offers(session: Session, offers: Iterable[Offer]) -> None:
    """The latest offer of each (group, agent) pair, their rows read in one query rather
    than one look-up each (a batch holds hundreds at 100 calls/s, read on the worker
    thread that shares the GIL with call routing)."""
    latest: dict[tuple[str, str], float] = {}
    for offer in offers:
        key = (offer.group_id, offer.agent_id)
        latest[key] = max(offer.at, latest.get(key, offer.at))
    keys = list(latest)
    connection = session.connection()
    for start in range(0, len(keys), OFFERS_PER_QUERY):
        chunk = keys[start:start + OFFERS_PER_QUERY]
        stored = {(g, a): at for g, a, at in connection.execute(_OFFERS_OF, {"pairs": chunk})}
        new, later = [], []
        for key in chunk:
            at, before = latest[key], stored.get(key)
            if before is None:
                new.append({"group_id": key[0], "agent_id": key[1], "last_offered_at": at})
            elif before < at:  # a late retry never moves the rotation back
                later.append({"g": key[0], "a": key[1], "at": at})
        if new:
            connection.execute(_NEW_OFFER, new)
        if later:
            connection.execute(_LATER_OFFER, later)


# the history's statements, built once: a statement built per batch costs its
# construction and its cache key again on the thread that shares the GIL with routing
_OFFERS_OF = (select(OFFERS.c.group_id, OFFERS.c.agent_id, OFFERS.c.last_offered_at)
              .where(tuple_(OFFERS.c.group_id, OFFERS.c.agent_id).in_(bindparam("pairs", expanding=True))))
_NEW_OFFER = insert(OFFERS)
_LATER_OFFER = (update(OFFERS).where(OFFERS.c.group_id == bindparam("g"), OFFERS.c.agent_id == bindparam("a"))
                .values(last_offered_at=bindparam("at")))
_CALLS_OF = select(CALLS).where(CALLS.c.call_id.in_(bindparam("ids", expanding=True)))
_NEW_CALL, _NEW_EVENT, _NEW_LINK = insert(CALLS), insert(EVENTS), insert(LINKS)
_LINKS_OF = (select(LINKS.c.call_id, LINKS.c.agent_id, LINKS.c.role)
             .where(LINKS.c.call_id.in_(bindparam("ids", expanding=True))))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _json_safe(detail: dict[str, Any]) -> dict[str, Any]:
    # the core sends plain values, taken as they are (most details); anything else (an
    # enum, a tuple, a list) goes through JSON and is stored as it reads back, or as text
    if all(type(key) is str and type(value) in _PLAIN for key, value in detail.items()):
        return dict(detail)
    safe: dict[str, Any] = json.loads(json.dumps(detail, default=str))
    return safe


@dataclass(slots=True)
class _Call:
    """A calls row as plain attributes (models.CallRow's columns, in the table's order):
    read as a tuple, changed by the records, written back by statements."""

    call_id: str
    server: str
    did: str
    caller_number: str
    caller_name: str
    group_id: str | None
    arrived_at: float
    answered_at: float | None
    answered_by: str | None
    picked_up_from: str | None
    transferred_to: str | None
    forwarded_to: str | None
    mailbox: str | None
    ended_at: float | None
    outcome: str | None
    waited_s: float | None
    hung_up_by: str | None
    missed: bool
    missed_reason: str | None
    tried: list[str]
    called_back: bool
    called_back_at: float | None
    called_back_by: str | None


CALL_COLUMNS = tuple(f.name for f in fields(_Call))
_values_of = attrgetter(*CALL_COLUMNS)  # a _Call's values as a tuple, in CALL_COLUMNS' order


@cache
def _update_call(columns: tuple[str, ...]) -> Update:
    """UPDATE calls SET (these columns) for one call: built once per set of columns."""
    return (update(CALLS).where(CALLS.c.call_id == bindparam("id_"))
            .values({column: bindparam(column) for column in columns}))


class _Batch:
    """One transaction's worth of records: the calls rows it touches, loaded at once,
    and the event and agent-link rows it adds, inserted at once by ``finish``."""

    def __init__(self, session: Session, call_ids: set[str]) -> None:
        self.session = session
        self.connection = session.connection()
        # call id -> its row as stored (a call new in this batch has none)
        self.stored: dict[str, tuple[Any, ...]] = {
            row[0]: tuple(row) for row in self.connection.execute(_CALLS_OF, {"ids": list(call_ids)})
        } if call_ids else {}
        self.rows: dict[str, _Call] = {call_id: _Call(*values) for call_id, values in self.stored.items()}
        self.links: set[tuple[str, str, str]] = set()
        self.events: list[dict[str, Any]] = []
        self.callbacks: dict[str, CallbackRow] = {}  # callback_requests rows touched (no flush between)

    def apply(self, record: Record) -> None:
        detail = _json_safe(record.detail)
        row = self._row(record, detail)
        self.events.append({"call_id": row.call_id, "server": row.server, "at": record.at,
                            "kind": record.kind[:32], "detail": detail})
        change = _UPDATES.get(record.kind)
        if change is not None:
            change(self, row, record, detail)

    def finish(self) -> None:
        new: list[dict[str, Any]] = []
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for call_id, row in self.rows.items():
            values, before = _values_of(row), self.stored.get(call_id)
            if before is None:
                new.append(dict(zip(CALL_COLUMNS, values, strict=True)))
            elif values != before:
                # only what the records changed: a tick on the call-back list made
                # meanwhile (mark_called_back) is not written back over
                columns = tuple(c for c, v, b in zip(CALL_COLUMNS, values, before, strict=True) if v != b)
                params = {c: getattr(row, c) for c in columns}
                params["id_"] = call_id
                changed.setdefault(columns, []).append(params)
        if new:  # the calls rows first: events and links refer to them
            self.connection.execute(_NEW_CALL, new)
        for columns, rows in changed.items():
            self.connection.execute(_update_call(columns), rows)
        if self.events:
            self.connection.execute(_NEW_EVENT, self.events)
        if self.links:
            ids = list({call_id for call_id, _, _ in self.links})
            known = {(c, a, r) for c, a, r in self.connection.execute(_LINKS_OF, {"ids": ids})}
            new_links = [{"call_id": c, "agent_id": a, "role": r} for c, a, r in sorted(self.links - known)]
            if new_links:
                self.connection.execute(_NEW_LINK, new_links)

    def _row(self, record: Record, detail: dict[str, Any]) -> _Call:
        row = self.rows.get(record.call_id)
        if row is None:
            row = _Call(call_id=record.call_id, server=_text(detail.get("server"))[:64] or MAIN_SERVER,
                        did="", caller_number="", caller_name="", group_id=None, arrived_at=record.at,
                        answered_at=None, answered_by=None, picked_up_from=None, transferred_to=None,
                        forwarded_to=None, mailbox=None, ended_at=None, outcome=None, waited_s=None,
                        hung_up_by=None, missed=False, missed_reason=None, tried=[], called_back=False,
                        called_back_at=None, called_back_by=None)
            if record.kind in ("arrived", "recovered"):
                row.did = _text(detail.get("did"))
                row.caller_number = _text(detail.get("caller_number"))
                row.caller_name = _text(detail.get("caller_name"))
                row.group_id = detail.get("group") or None
            self.rows[record.call_id] = row
        return row

    def link(self, row: _Call, agent: Any, role: str) -> None:
        if not agent:
            return
        self.links.add((row.call_id, str(agent)[:64], role))


# ------------------------------------------------------------------ per-kind updates (the table above)
def _arrived(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    # a stub made by an earlier record gets the caller's data now
    row.did = row.did or _text(d.get("did"))
    row.caller_number = row.caller_number or _text(d.get("caller_number"))
    row.caller_name = row.caller_name or _text(d.get("caller_name"))
    row.group_id = row.group_id or d.get("group") or None
    if d.get("server"):
        row.server = _text(d["server"])[:64]


def _considered(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    if d.get("decision") == "ring":
        b.link(row, d.get("agent"), "offered")


def _ringing(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    b.link(row, d.get("agent"), "offered")


def _no_answer(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    b.link(row, d.get("agent"), "rang_out")


def _answered(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    if row.answered_at is None:
        row.answered_at = r.at
        row.answered_by = d.get("agent") or None
        row.picked_up_from = d.get("picked_up_from") or None
        if d.get("waited_s") is not None:
            row.waited_s = float(d["waited_s"])
    if row.outcome != "forwarded":
        row.outcome = "answered"
    b.link(row, d.get("agent"), "answered")


def _merge_tried(row: _Call, tried: Any) -> None:
    if isinstance(tried, list):
        merged = list(row.tried or [])
        merged += [str(a) for a in tried if str(a) not in merged]
        row.tried = merged  # a new list: the JSON column notices a new value, not a mutation


def _missed(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    row.missed = True
    row.missed_reason = _text(d.get("reason"))[:200] or None
    _merge_tried(row, d.get("tried"))
    _waited(row, d)


def _waited(row: _Call, d: dict[str, Any]) -> None:
    """How long the caller waited, as of the latest step before an answer."""
    if row.answered_at is None and d.get("waited_s") is not None:
        row.waited_s = float(d["waited_s"])


def _voicemail(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    row.outcome = "voicemail"
    row.mailbox = d.get("mailbox") or None
    _waited(row, d)


def _forwarded(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    row.outcome = "forwarded"
    row.forwarded_to = d.get("number") or None
    _waited(row, d)


def _rerouted(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    row.group_id = d.get("group") or row.group_id


def _transferred(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    row.outcome = "transferred"
    row.transferred_to = d.get("to_agent") or None
    b.link(row, d.get("to_agent"), "transferred")


def _hangup(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    if row.outcome is None:
        row.outcome = "hangup"
    _waited(row, d)


def _abandoned(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    row.outcome = "abandoned"
    row.missed = True  # a caller who gave up is to be called back, whatever comes next
    row.missed_reason = row.missed_reason or "caller hung up while waiting"
    row.ended_at = r.at if row.ended_at is None else row.ended_at
    row.hung_up_by = "caller"
    if d.get("waited_s") is not None:
        row.waited_s = float(d["waited_s"])
    _merge_tried(row, d.get("tried"))


def _ended(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    row.ended_at = r.at if row.ended_at is None else row.ended_at
    row.hung_up_by = row.hung_up_by or _text(d.get("by"))[:16] or None
    if row.outcome is None:
        row.outcome = "missed" if row.missed and row.answered_at is None else "ended"


def _callback_requested(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    row.outcome = "callback"
    row.missed, row.missed_reason = False, None
    _waited(row, d)


def _callback_attempt(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    if d.get("outcome") == "answered":
        row.called_back, row.called_back_by = True, _text(d.get("agent"))[:64] or None
        row.outcome = "called_back"
        b.link(row, d.get("agent"), "answered")


def _callback(b: _Batch, row: _Call, r: Record, d: dict[str, Any]) -> None:
    """Upsert the request's row from the whole state the core recorded."""
    cb = b.callbacks.get(r.call_id) or b.session.get(CallbackRow, r.call_id)
    if cb is None:
        cb = CallbackRow(request_id=r.call_id)
        b.session.add(cb)
    b.callbacks[r.call_id] = cb
    cb.group_id = _text(d.get("group"))[:64]
    cb.number = _text(d.get("number"))[:64]
    cb.did = _text(d.get("did"))[:64]
    cb.place = float(d.get("place") or 0.0)
    cb.requested_at = float(d.get("requested_at") or r.at)
    cb.state = _text(d.get("state"))[:16]
    cb.attempts = int(d.get("attempts") or 0)
    cb.tries = int(d.get("tries") or 0)
    cb.counted = bool(d.get("counted"))
    cb.agent_id = _text(d.get("agent"))[:64] or None
    cb.not_before = float(d.get("not_before") or 0.0)
    cb.outcomes = [str(o) for o in d.get("outcomes") or []]
    cb.updated_at = r.at


_UPDATES: dict[str, Callable[[_Batch, _Call, Record, dict[str, Any]], None]] = {
    "callback_requested": _callback_requested,
    "callback_attempt": _callback_attempt,
    "callback": _callback,
    "arrived": _arrived,
    "recovered": _arrived,
    "considered": _considered,
    "ringing": _ringing,
    "no_answer": _no_answer,
    "answered": _answered,
    "missed": _missed,
    "voicemail": _voicemail,
    "forwarded": _forwarded,
    "rerouted": _rerouted,
    "transferred": _transferred,
    "hangup": _hangup,
    "abandoned": _abandoned,
    "ended": _ended,
}
