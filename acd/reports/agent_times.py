"""How long each agent was clocked in and on a break, from their own lines (``agent:<id>``
items: clocked_in/out, break_started/ended), summed per local day (``report_agent_times``)
so that a long range reads a row per agent and day, not every line.

The lines are only ever added, at the time they happen: a day is rolled up once it has
ended (an hour's margin for a line written late), and never changes after that.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from ..channels.history import EventRow
from .tables import ReportAgentTimesRow, ReportStateRow

STATE = "agent_times"
MARGIN_S = 3600.0
KINDS = ("clocked_in", "clocked_out", "break_started", "break_ended")
PREFIX = "agent:"
AFTER_PREFIX = "agent;"  # the next string after every "agent:..." (';' follows ':')


def _agents(ids: Iterable[str] | None) -> Any:
    e = EventRow
    if ids is None:
        return (e.item_id >= PREFIX) & (e.item_id < AFTER_PREFIX)
    return e.item_id.in_([f"{PREFIX}{a}" for a in ids])


def lines(session: Session, start: float, end: float, agents: Iterable[str] | None = None
          ) -> dict[str, list[tuple[float, str]]]:
    """Each agent's lines of [start, end), after the last of each kind before ``start``
    (the state at its start); every agent, or only ``agents``."""
    e = EventRow
    who = _agents(None if agents is None else list(agents))
    before = select(e.item_id, e.kind, func.max(e.at)).where(who, e.kind.in_(KINDS), e.at < start
                                                              ).group_by(e.item_id, e.kind)
    inside = select(e.item_id, e.kind, e.at).where(who, e.kind.in_(KINDS), e.at >= start, e.at < end)
    found: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for item_id, kind, at in [*session.execute(before), *session.execute(inside)]:
        found[item_id.removeprefix(PREFIX)].append((at, kind))
    for steps in found.values():
        steps.sort()
    return found


def spent(steps: list[tuple[float, str]], windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(clocked in, on a break) seconds within each of ``windows`` (in order, end to end),
    from one agent's sorted lines; the state after the last line holds to the last window's end."""
    out = [[0.0, 0.0] for _ in windows]
    starts = [start for start, _ in windows]
    first, until = windows[0][0], windows[-1][1]
    clocked = on_break = False
    for (at, kind), (following, _) in zip(steps, [*steps[1:], (until, "")], strict=True):
        if kind in ("clocked_in", "clocked_out"):
            clocked = kind == "clocked_in"
        else:
            on_break = kind == "break_started"
        low, high = max(at, first), min(following, until)
        n = max(0, bisect_right(starts, low) - 1)
        while (clocked or on_break) and n < len(windows) and windows[n][0] < high:
            overlap = min(high, windows[n][1]) - max(low, windows[n][0])
            if overlap > 0:
                out[n][0] += overlap if clocked else 0.0
                out[n][1] += overlap if on_break else 0.0
            n += 1
    return [(c, b) for c, b in out]


def midnight(day: date, zone: ZoneInfo) -> float:
    return datetime.combine(day, time(), zone).timestamp()


def rolled_until(session: Session, zone: str) -> float:
    """Local midnight up to which the days are in report_agent_times, for ``zone`` (0: none)."""
    state = session.get(ReportStateRow, STATE)
    return state.rolled_until if state is not None and state.zone == zone else 0.0


def refresh(engine: Engine, zone: str, now: float) -> None:
    """Roll up the days that ended (an hour ago) since the last refresh (every day again
    after a change of zone). Two refreshes at once: the state row is moved from the value
    this one read, or this one does nothing."""
    tz = ZoneInfo(zone)
    with Session(engine) as session, session.begin():
        state = session.get(ReportStateRow, STATE)
        start = state.rolled_until if state is not None and state.zone == zone else 0.0
        if not start:
            first = session.scalar(select(func.min(EventRow.at)).where(_agents(None), EventRow.kind.in_(KINDS)))
            if first is None:
                return
            start = midnight(datetime.fromtimestamp(first, tz).date(), tz)
        until = midnight(datetime.fromtimestamp(now - MARGIN_S, tz).date(), tz)
        if until <= start:
            return
        if state is None:
            session.add(ReportStateRow(name=STATE, zone=zone, rolled_until=until))
            session.flush()  # a second refresh at once fails on the primary key and adds nothing
        else:
            moved = session.execute(update(ReportStateRow).where(
                ReportStateRow.name == STATE, ReportStateRow.zone == state.zone,
                ReportStateRow.rolled_until == state.rolled_until).values(zone=zone, rolled_until=until))
            if not moved.rowcount:  # type: ignore[attr-defined]
                return
            if state.zone != zone:
                session.execute(delete(ReportAgentTimesRow))
        days: list[tuple[str, float, float]] = []
        day = datetime.fromtimestamp(start, tz).date()
        while (begins := midnight(day, tz)) < until:
            days.append((day.isoformat(), begins, midnight(day + timedelta(1), tz)))
            day += timedelta(1)
        rows = []
        for agent, steps in lines(session, start, until).items():
            for (name, _, ends), (clocked, on_break) in zip(days, spent(steps, [(b, e) for _, b, e in days]),
                                                             strict=True):
                if ends > steps[0][0]:  # from the agent's first line on: the reports list who had one
                    rows.append({"day": name, "agent_id": agent, "clocked_s": clocked, "break_s": on_break})
        for chunk in range(0, len(rows), 10_000):
            session.execute(insert(ReportAgentTimesRow), rows[chunk:chunk + 10_000])
