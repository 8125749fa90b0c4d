"""The call history summed for the reports: per local day and hour, per group, per agent.

``summarise`` turns calls (with the agents who took part) into a ``Rollup``: the same
sums whether they are stored in the roll-up tables (``refresh``) or made on the fly for
the calls the tables do not hold yet (``Rollup`` of the newest calls, at report time).
Only ended calls are rolled up for good: ``refresh`` stops at the oldest call still in
progress (a call left without an end for over a day no longer holds it back, and is
summed as it stands).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from ..store.models import CallAgentRow, CallRow
from .tables import HOURS, TABLES, ReportAgentsRow, ReportCallsRow, ReportStateRow, ReportWaitsRow

# every call falls into exactly one (the charts stack them)
OUTCOMES = ("answered", "picked_up", "transferred", "abandoned", "missed", "voicemail", "forwarded", "other")
ANSWERED = ("answered", "picked_up", "transferred")  # a member picked up (pickups count for the group)
MISSED = ("missed", "voicemail", "forwarded")  # nobody answered; the missed-call processing ran
WAIT_CAP_S = 3600  # waits are kept per whole second up to an hour: the service level for any target to 3600 s
STUCK_S = 86400.0  # a call in progress for longer than this no longer holds the roll-up back
STATE = "calls"
CHUNK = 20_000


def outcome_of(outcome: str | None, ended_at: float | None, picked_up_from: str | None) -> str:
    """The one outcome a call counts under (see OUTCOMES)."""
    if ended_at is None:
        return "other"  # still in progress
    if outcome == "answered":
        return "picked_up" if picked_up_from else "answered"
    if outcome in ("transferred", "abandoned", "voicemail", "forwarded"):
        return outcome
    if outcome in ("missed", "hangup", "callback", "called_back"):
        return "missed"  # a call-back request is missed-call processing too, whatever came of it
    return "other"


class LocalTime:
    """Epoch seconds -> (local date, local hour) in the site's zone. Every zone's offset
    is a whole number of quarter hours, so one look-up per quarter hour serves."""

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)
        self._seen: dict[int, tuple[str, int]] = {}

    def __call__(self, at: float) -> tuple[str, int]:
        quarter = int(at // 900)
        found = self._seen.get(quarter)
        if found is None:
            local = datetime.fromtimestamp(quarter * 900, self.zone)
            found = self._seen[quarter] = (local.strftime("%Y-%m-%d"), local.hour)
        return found


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the reports need of one call (a ``calls`` row)."""

    call_id: str
    group_id: str | None
    arrived_at: float
    answered_at: float | None
    answered_by: str | None
    picked_up_from: str | None
    ended_at: float | None
    outcome: str | None
    waited_s: float | None


CALL_COLUMNS = (CallRow.call_id, CallRow.group_id, CallRow.arrived_at, CallRow.answered_at, CallRow.answered_by,
                CallRow.picked_up_from, CallRow.ended_at, CallRow.outcome, CallRow.waited_s)


@dataclass
class Rollup:
    """Sums keyed like the roll-up tables' rows (see tables.py)."""

    # (day, group, outcome) -> [calls, waited_n, waited_sum, waited_max, talk_n, talk_sum, then calls per hour x 24]
    calls: dict[tuple[str, str, str], list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0] * 30))
    # (day, group, answered|abandoned, whole seconds) -> calls
    waits: dict[tuple[str, str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    # (day, agent, group) -> [offers, answers, rang_out, talk_s, pickups, transfers_made, transfers_taken]
    agents: dict[tuple[str, str, str], list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0] * 7))


def summarise(calls: Iterable[CallFacts], links: Iterable[tuple[str, str, str]], local: LocalTime,
              into: Rollup | None = None) -> Rollup:
    """Sum ``calls`` and their ``links`` (call id, agent id, role from ``call_agents``)."""
    rollup = into if into is not None else Rollup()
    where: dict[str, tuple[str, str]] = {}  # call id -> (day, group): the agents' rows
    for c in calls:
        day, hour = local(c.arrived_at)
        group = c.group_id or ""
        where[c.call_id] = (day, group)
        outcome = outcome_of(c.outcome, c.ended_at, c.picked_up_from)
        sums = rollup.calls[(day, group, outcome)]
        sums[0] += 1
        sums[6 + hour] += 1
        if c.waited_s is not None:
            sums[1] += 1
            sums[2] += c.waited_s
            sums[3] = max(sums[3], c.waited_s)
            if outcome in ANSWERED or outcome == "abandoned":
                kind = "abandoned" if outcome == "abandoned" else "answered"
                rollup.waits[(day, group, kind, min(WAIT_CAP_S, math.ceil(c.waited_s)))] += 1
        talk = _talk(c)
        if talk is not None:
            sums[4] += 1
            sums[5] += talk
        if c.answered_by and outcome in ANSWERED:
            agent = rollup.agents[(day, c.answered_by, group)]
            agent[1] += 1
            agent[3] += talk or 0.0
            agent[4] += outcome == "picked_up"
            agent[5] += outcome == "transferred"
    for call_id, agent_id, role in links:
        found = where.get(call_id)
        column = {"offered": 0, "rang_out": 2, "transferred": 6}.get(role)
        if found is not None and column is not None:
            rollup.agents[(found[0], agent_id, found[1])][column] += 1
    return rollup


def _talk(c: CallFacts) -> float | None:
    if c.answered_at is None or c.ended_at is None:
        return None
    return max(0.0, c.ended_at - c.answered_at)


def read_calls(session: Session, since: float, until: float) -> Iterator[list[CallFacts]]:
    """The calls that arrived in [since, until), in chunks, with nothing else held in memory."""
    stmt = (select(*CALL_COLUMNS).where(CallRow.arrived_at >= since, CallRow.arrived_at < until)
            .order_by(CallRow.arrived_at, CallRow.call_id).execution_options(yield_per=CHUNK))
    for part in session.execute(stmt).partitions():
        yield [CallFacts(*row) for row in part]


def read_links(session: Session, calls: list[CallFacts]) -> list[tuple[str, str, str]]:
    """The agents who took part in ``calls`` (one chunk of ``read_calls``, in arrival
    order): one join over the chunk's arrival times, not a look-up per call."""
    if not calls:
        return []
    ids = {c.call_id for c in calls}
    stmt = (select(CallAgentRow.call_id, CallAgentRow.agent_id, CallAgentRow.role)
            .join(CallRow, CallRow.call_id == CallAgentRow.call_id)
            .where(CallRow.arrived_at >= calls[0].arrived_at, CallRow.arrived_at <= calls[-1].arrived_at,
                   CallAgentRow.role.in_(("offered", "rang_out", "transferred"))))
    # a call of the next chunk that arrived at the same instant is that chunk's
    return [(c, a, r) for c, a, r in session.execute(stmt) if c in ids]


def summarise_window(session: Session, since: float, until: float, local: LocalTime) -> Rollup:
    """The calls of [since, until) summed on the fly."""
    rollup = Rollup()
    for chunk in read_calls(session, since, until):
        summarise(chunk, read_links(session, chunk), local, rollup)
    return rollup


def create_tables(engine: Engine) -> None:
    """The roll-up tables on a database made without migrations (tests, ``Store.create_all``)."""
    for table in TABLES:
        table.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]


def rolled_until(session: Session, zone: str) -> float:
    """Up to when the tables hold the calls, for ``zone`` (0: nothing yet)."""
    state = session.get(ReportStateRow, STATE)
    return state.rolled_until if state is not None and state.zone == zone else 0.0


def refresh(engine: Engine, zone: str, now: float) -> float:
    """Add the calls that ended since the last refresh to the roll-up tables (all of
    them again after a change of zone). Returns up to when the tables now hold the calls.
    Two refreshes at once add each call once: the state row is moved from the value
    this one read, or this one adds nothing."""
    with Session(engine) as session, session.begin():
        state = session.get(ReportStateRow, STATE)
        start = state.rolled_until if state is not None and state.zone == zone else 0.0
        held_back = session.scalar(select(func.min(CallRow.arrived_at)).where(
            CallRow.ended_at.is_(None), CallRow.arrived_at >= max(start, now - STUCK_S)))
        until = min(now, held_back) if held_back is not None else now
        if until <= start:
            return start
        if state is None:
            session.add(ReportStateRow(name=STATE, zone=zone, rolled_until=until))
            session.flush()  # a second refresh at once fails on the primary key and adds nothing
        else:
            was = (state.zone, state.rolled_until)
            moved = session.execute(update(ReportStateRow).where(
                ReportStateRow.name == STATE, ReportStateRow.zone == was[0],
                ReportStateRow.rolled_until == was[1]).values(zone=zone, rolled_until=until))
            if not moved.rowcount:  # type: ignore[attr-defined]
                return start
            if was[0] != zone:
                for table in (ReportCallsRow, ReportWaitsRow, ReportAgentsRow):
                    session.execute(delete(table))
        local = LocalTime(zone)
        months: dict[tuple[str, str, str, int], int] = defaultdict(int)  # the waits per month, of every chunk
        for chunk in read_calls(session, start, until):
            _store(session, summarise(chunk, read_links(session, chunk), local), months)
        if months:  # once, not per chunk: a month of a first roll-up would have a row per chunk and key
            session.execute(insert(ReportWaitsRow), [
                {"period": p, "group_id": g, "kind": k, "wait_s": w, "calls": n} for (p, g, k, w), n in months.items()])
        if start:  # the day (and month) the last refresh stopped in got rows from every refresh since
            (day, _), (until_day, _) = local(start), local(until)
            if day < until_day:
                _compact(session, day, day[:7] if day[:7] < until_day[:7] else None)
        return until


# per table: the column of its period, its key's other columns, its sums, its maximum (if any)
_COMPACTED = ((ReportCallsRow, "day", ("group_id", "outcome"),
               ("calls", "waited_n", "waited_sum", "talk_n", "talk_sum", *HOURS), "waited_max"),
              (ReportWaitsRow, "period", ("group_id", "kind", "wait_s"), ("calls",), None),
              (ReportAgentsRow, "day", ("agent_id", "group_id"),
               ("offers", "answers", "rang_out", "talk_s", "pickups", "transfers_made", "transfers_taken"), None))


def _compact(session: Session, day: str, month: str | None) -> None:
    """Sum a day that is over (and its month, if over too) into one row per key: rows
    are added at each refresh, and a report reads every row of its range."""
    for table, period, keys, sums, most in _COMPACTED:
        for value in (day, month) if period == "period" else (day,):
            if value is None:
                continue
            key_columns = [getattr(table, k) for k in keys]
            figures = [*(func.sum(getattr(table, c)) for c in sums),
                       *((func.max(getattr(table, most)),) if most else ())]
            where = getattr(table, period) == value
            rows = session.execute(select(*key_columns, *figures).where(where).group_by(*key_columns)).all()
            session.execute(delete(table).where(where))
            names = [*keys, *sums, *((most,) if most else ())]
            if rows:
                session.execute(insert(table), [{period: value, **dict(zip(names, row, strict=True))} for row in rows])


def _store(session: Session, rollup: Rollup, months: dict[tuple[str, str, str, int], int]) -> None:
    if rollup.calls:
        session.execute(insert(ReportCallsRow), [
            {"day": d, "group_id": g, "outcome": o, "calls": int(s[0]), "waited_n": int(s[1]),
             "waited_sum": s[2], "waited_max": s[3], "talk_n": int(s[4]), "talk_sum": s[5],
             **{column: int(n) for column, n in zip(HOURS, s[6:], strict=True)}}
            for (d, g, o), s in rollup.calls.items()])
    if rollup.waits:
        for (d, g, k, w), n in rollup.waits.items():
            months[(d[:7], g, k, w)] += n
        session.execute(insert(ReportWaitsRow), [
            {"period": d, "group_id": g, "kind": k, "wait_s": w, "calls": n}
            for (d, g, k, w), n in rollup.waits.items()])
    if rollup.agents:
        session.execute(insert(ReportAgentsRow), [
            {"day": d, "agent_id": a, "group_id": g, "offers": int(s[0]), "answers": int(s[1]),
             "rang_out": int(s[2]), "talk_s": s[3], "pickups": int(s[4]), "transfers_made": int(s[5]),
             "transfers_taken": int(s[6])} for (d, a, g), s in rollup.agents.items()])
