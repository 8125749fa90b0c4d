"""The chats, e-mails and forms summed per local month of their creation (``report_items``),
so that a long range reads a row per month, queue, kind and agent, not every item.

An item changes after it is created (an agent takes it, answers it, moves it to another
queue), so a month is never final: each refresh rebuilds every month holding an item
changed since the last refresh (``updated_at``, indexed), with a margin for a write that
was committed after the refresh that came before it. Months not rolled up yet (no state
for the site's zone) are read from the items themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from ..channels.history import ItemRow
from .tables import ReportItemsRow, ReportStateRow

STATE = "items"
MARGIN_S = 3600.0  # an item line is written within seconds of its time: an hour is more than enough
KEYS = ("kind", "queue_id", "agent_id")

# one group of items: (count, responded, seconds to first response summed, the longest)
Sums = tuple[int, int, float, float | None]


def month_start(month: str, zone: str) -> float:
    """Epoch seconds of local midnight on the first of ``month`` (YYYY-MM)."""
    year, number = (int(part) for part in month.split("-"))
    return datetime.combine(date(year, number, 1), time(), ZoneInfo(zone)).timestamp()


def next_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    months = [first]
    while months[-1] < last:
        months.append(next_month(months[-1]))
    return months


def summed(session: Session, keys: Iterable[str], start: float, end: float, kinds: Iterable[str] | None = None,
           queue: str | None = None) -> dict[tuple[str | None, ...], Sums]:
    """The items created in [start, end) of ``kinds`` (and ``queue``), summed by ``keys``."""
    columns = [getattr(ItemRow, k) for k in keys]
    response = ItemRow.first_response_at - ItemRow.created_at
    stmt = select(*columns, func.count(), func.count(ItemRow.first_response_at), func.sum(response),
                  func.max(response)).where(ItemRow.created_at >= start, ItemRow.created_at < end).group_by(*columns)
    if kinds is not None:
        stmt = stmt.where(ItemRow.kind.in_(tuple(kinds)))
    if queue is not None:
        stmt = stmt.where(ItemRow.queue_id == queue)
    return {tuple(row[:len(columns)]): (int(row[-4]), int(row[-3]), float(row[-2] or 0.0),
                                        None if row[-1] is None else float(row[-1]))
            for row in session.execute(stmt)}


def rolled(session: Session, keys: Iterable[str], months: list[str], kinds: Iterable[str],
           queue: str | None = None) -> dict[tuple[str | None, ...], Sums]:
    """``summed`` for whole ``months``, from ``report_items``."""
    t = ReportItemsRow
    columns = [getattr(t, k) for k in keys]
    stmt = select(*columns, func.sum(t.items), func.sum(t.responded), func.sum(t.response_sum),
                  func.max(t.response_max)).where(t.month >= months[0], t.month <= months[-1],
                                                  t.kind.in_(tuple(kinds))).group_by(*columns)
    if queue is not None:
        stmt = stmt.where(t.queue_id == queue)
    return {tuple(v or None if k == "agent_id" else v for k, v in zip(keys, row, strict=False)):
            (int(row[-4]), int(row[-3]), float(row[-2] or 0.0), None if row[-1] is None else float(row[-1]))
            for row in session.execute(stmt)}


def merge(into: dict[tuple[str | None, ...], Sums], more: dict[tuple[str | None, ...], Sums]) -> None:
    for key, (n, responded, total, longest) in more.items():
        was = into.get(key)
        if was is None:
            into[key] = (n, responded, total, longest)
        else:
            most = [v for v in (was[3], longest) if v is not None]
            into[key] = (was[0] + n, was[1] + responded, was[2] + total, max(most) if most else None)


def is_rolled(session: Session, zone: str) -> bool:
    state = session.get(ReportStateRow, STATE)
    return state is not None and state.zone == zone


def refresh(engine: Engine, zone: str, now: float) -> None:
    """Rebuild the months of the items changed since the last refresh (all of them the
    first time, or after a change of zone). Two refreshes at once: the state row is moved
    from the value this one read, or this one does nothing."""
    with Session(engine) as session, session.begin():
        state = session.get(ReportStateRow, STATE)
        if state is None or state.zone != zone:
            first, last = session.execute(select(func.min(ItemRow.created_at), func.max(ItemRow.created_at))).one()
        else:
            first, last = session.execute(select(func.min(ItemRow.created_at), func.max(ItemRow.created_at))
                                          .where(ItemRow.updated_at >= state.rolled_until - MARGIN_S)).one()
        if state is None:
            session.add(ReportStateRow(name=STATE, zone=zone, rolled_until=now))
            session.flush()  # a second refresh at once fails on the primary key and adds nothing
        else:
            moved = session.execute(update(ReportStateRow).where(
                ReportStateRow.name == STATE, ReportStateRow.zone == state.zone,
                ReportStateRow.rolled_until == state.rolled_until).values(zone=zone, rolled_until=now))
            if not moved.rowcount:  # type: ignore[attr-defined]
                return
            if state.zone != zone:
                session.execute(delete(ReportItemsRow))
        if first is None:
            return
        local_month = LocalMonth(zone)
        months = months_between(local_month(first), local_month(last))
        session.execute(delete(ReportItemsRow).where(ReportItemsRow.month.in_(months)))
        for month in months:
            found = summed(session, KEYS, month_start(month, zone), month_start(next_month(month), zone))
            if found:
                session.execute(insert(ReportItemsRow), [
                    {"month": month, "kind": k, "queue_id": q, "agent_id": a or "", "items": n, "responded": r,
                     "response_sum": total, "response_max": longest}
                    for (k, q, a), (n, r, total, longest) in found.items()])


class LocalMonth:
    """Epoch seconds -> the local month (YYYY-MM) in ``zone``."""

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)

    def __call__(self, at: float) -> str:
        return datetime.fromtimestamp(at, self.zone).strftime("%Y-%m")
