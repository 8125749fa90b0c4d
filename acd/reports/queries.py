"""The reports: figures over the call history and the other channels' history.

Every report is a ``Report``: named columns and rows of plain values (seconds as
numbers), the same for the page, the API and the CSV. Days and hours are those of the
site's time zone; a date range covers whole local days, first to last included.
Definitions (README and the page's help say them in words):

- offered: a call that reached a queue group; answered: a member picked up (pickups
  count for the group); abandoned: the caller hung up before anyone answered; missed:
  nobody answered and the missed-call processing ran (voicemail, forward, hang up).
- wait: from arrival to the answer (or to hanging up, for the abandoned); ASA: the mean
  wait of answered calls.
- service level: answered within the group's target / (answered + abandoned after the
  target + missed); abandoned within the target count in neither part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import agent_times, items, rollup
from .rollup import ANSWERED, MISSED, OUTCOMES, LocalTime, Rollup
from .tables import HOURS, ReportAgentsRow, ReportAgentTimesRow, ReportCallsRow, ReportWaitsRow

CHANNELS = ("calls", "chat", "email", "form")
MAX_DAYS = 3700  # ten years: a range longer than that is refused

OUTCOME_LABELS = {"answered": "Answered", "picked_up": "Picked up", "transferred": "Transferred",
                  "abandoned": "Abandoned", "missed": "Missed", "voicemail": "Voicemail",
                  "forwarded": "Forwarded", "other": "Other"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: str = "count"  # count | seconds | percent | text


@dataclass
class Report:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class GroupInfo:
    name: str
    target_s: int = 20  # service level: answered within this many seconds
    wrapup_s: float = 0.0


@dataclass(frozen=True)
class Site:
    """What the reports need of the configuration: names, targets, the time zone."""

    zone: str = "UTC"
    groups: Mapping[str, GroupInfo] = field(default_factory=dict)
    agents: Mapping[str, str] = field(default_factory=dict)  # id -> name
    queues: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, kind)


@dataclass(frozen=True)
class Filters:
    first: date
    last: date
    group: str | None = None  # a queue group's or a chat queue's, mailbox's, form's id
    channel: str | None = None  # one of CHANNELS; None: all

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("the range ends before it starts")
        if (self.last - self.first).days >= MAX_DAYS:
            raise ValueError(f"the range is longer than {MAX_DAYS} days")
        if self.channel is not None and self.channel not in CHANNELS:
            raise ValueError(f"channel: one of {', '.join(CHANNELS)}")

    @property
    def calls(self) -> bool:
        return self.channel in (None, "calls")

    def kinds(self) -> tuple[str, ...]:
        return ("chat", "email", "form") if self.channel is None else \
            (self.channel,) if self.channel != "calls" else ()

    def days(self) -> list[str]:
        return [(self.first + timedelta(n)).isoformat() for n in range((self.last - self.first).days + 1)]

    def window(self, zone: str) -> tuple[float, float]:
        """[start, end) in epoch seconds: local midnight of the first day to that after the last."""
        tz = ZoneInfo(zone)
        return (datetime.combine(self.first, time(), tz).timestamp(),
                datetime.combine(self.last + timedelta(1), time(), tz).timestamp())


NAMES = ("hourly", "daily", "groups", "agents", "queues", "distribution")


class Reports:
    """The reports over one database (the call history's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_tables(self) -> None:
        rollup.create_tables(self.engine)

    def refresh(self, zone: str, now: float) -> float:
        """Roll up the calls ended since the last time (the reports do it themselves)."""
        for other in (items.refresh, agent_times.refresh):
            try:
                other(self.engine, zone, now)
            except IntegrityError:  # the first roll-up, started twice at once: the other one adds them
                pass
        try:
            return rollup.refresh(self.engine, zone, now)
        except IntegrityError:
            return 0.0

    def run(self, names: Iterable[str], site: Site, f: Filters, now: float) -> dict[str, Report]:
        self.refresh(site.zone, now)
        with Session(self.engine) as session:
            window = _Window(session, site, f, now)
            return {name: getattr(window, name)() for name in names}


class _Window:
    """One request's reports: the roll-up tables plus the calls they do not hold yet."""

    def __init__(self, session: Session, site: Site, f: Filters, now: float) -> None:
        self.session, self.site, self.f, self.now = session, site, f, now
        self.start, self.end = f.window(site.zone)
        self._live: Rollup | None = None

    @property
    def live(self) -> Rollup:
        if self._live is None:
            since = max(self.start, rollup.rolled_until(self.session, self.site.zone))
            self._live = rollup.summarise_window(self.session, since, self.end, LocalTime(self.site.zone)) \
                if since < self.end else Rollup()
        return self._live

    def _in(self, day: str, group: str) -> bool:
        return self.f.first.isoformat() <= day <= self.f.last.isoformat() and self.f.group in (None, group)

    def _calls(self, *keys: str) -> dict[tuple[Any, ...], list[float]]:
        """report_calls summed by ``keys`` (day, group_id, outcome), the live part added:
        [calls, waited_n, waited_sum, waited_max, talk_n, talk_sum, calls per hour x 24]."""
        sums: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0] * 30)
        if not self.f.calls:
            return sums
        t = ReportCallsRow
        columns = [getattr(t, k) for k in keys]
        figures = [func.sum(t.calls), func.sum(t.waited_n), func.sum(t.waited_sum), func.max(t.waited_max),
                   func.sum(t.talk_n), func.sum(t.talk_sum), *(func.sum(getattr(t, h)) for h in HOURS)]
        stmt = select(*columns, *figures).where(
            t.day >= self.f.first.isoformat(), t.day <= self.f.last.isoformat()).group_by(*columns)
        if self.f.group is not None:
            stmt = stmt.where(t.group_id == self.f.group)
        for row in self.session.execute(stmt):
            _add(sums[tuple(row[:len(keys)])], [float(v or 0) for v in row[len(keys):]])
        position = {"day": 0, "group_id": 1, "outcome": 2}
        for key, values in self.live.calls.items():
            if self._in(key[0], key[1]):
                _add(sums[tuple(key[position[k]] for k in keys)], values)
        return sums

    # ------------------------------------------------------------------ calls per hour and per day
    def hourly(self) -> Report:
        sums = self._calls("outcome")
        rows = [_by_outcome({"hour": f"{h:02d}:00"}, {o: sums[(o,)][6 + h] for o in OUTCOMES}) for h in range(24)]
        return Report("hourly", "Calls by hour of the day", [Column("hour", "Hour", "text"), *_outcome_columns()],
                      rows)

    def daily(self) -> Report:
        sums = self._calls("day", "outcome")
        rows = [_by_outcome({"day": d}, {o: sums[(d, o)][0] for o in OUTCOMES}) for d in self.f.days()]
        return Report("daily", "Calls per day", [Column("day", "Day", "text"), *_outcome_columns()], rows)

    # ------------------------------------------------------------------ per queue group
    def groups(self) -> Report:
        sums = self._calls("group_id", "outcome")
        waits = self._waits()
        ids = [g for g in self.site.groups if self.f.group in (None, g)]
        ids += sorted({g for g, _ in sums} - set(ids) - {""})
        rows = []
        for g in ids if self.f.calls else []:
            info = self.site.groups.get(g, GroupInfo(g))
            by = {o: sums.get((g, o), [0.0] * 30) for o in OUTCOMES}
            answered = _total(by, ANSWERED)
            abandoned, missed = by["abandoned"], _total(by, MISSED)
            everything = _total(by, OUTCOMES)
            within = sum(n for (group, kind, w), n in waits.items() if group == g and kind == "answered"
                         and w <= info.target_s)
            late_abandons = sum(n for (group, kind, w), n in waits.items() if group == g and kind == "abandoned"
                                and w > info.target_s)
            counted = answered[0] + late_abandons + missed[0]
            rows.append({
                "group": info.name, "offered": int(everything[0]), "answered": int(answered[0]),
                "abandoned": int(abandoned[0]), "abandoned_wait_avg": _mean(abandoned[2], abandoned[1]),
                "abandoned_wait_max": abandoned[3] if abandoned[1] else None, "missed": int(missed[0]),
                "target_s": info.target_s, "service_level": round(100 * within / counted, 1) if counted else None,
                "asa": _mean(answered[2], answered[1]), "wait_avg": _mean(everything[2], everything[1]),
                "wait_max": everything[3] if everything[1] else None, "talk_avg": _mean(answered[5], answered[4]),
            })
        return Report("groups", "Queue groups", [
            Column("group", "Queue group", "text"), Column("offered", "Offered"), Column("answered", "Answered"),
            Column("abandoned", "Abandoned"), Column("abandoned_wait_avg", "Avg wait before abandoning", "seconds"),
            Column("abandoned_wait_max", "Longest wait before abandoning", "seconds"), Column("missed", "Missed"),
            Column("target_s", "Target", "seconds"), Column("service_level", "Service level", "percent"),
            Column("asa", "ASA", "seconds"), Column("wait_avg", "Avg wait", "seconds"),
            Column("wait_max", "Longest wait", "seconds"), Column("talk_avg", "Avg talk time", "seconds")], rows)

    def _waits(self) -> dict[tuple[str, str, int], int]:
        """Answered and abandoned calls per (group, kind, whole seconds waited): whole
        months of the range from the monthly rows, the days at either end from the daily."""
        t = ReportWaitsRow
        months, days = _periods(self.f.first, self.f.last)
        found: dict[tuple[str, str, int], int] = defaultdict(int)
        for periods in (months, days):
            for start in range(0, len(periods), 500):  # bounded IN lists
                stmt = select(t.group_id, t.kind, t.wait_s, func.sum(t.calls)).where(
                    t.period.in_(periods[start:start + 500])).group_by(t.group_id, t.kind, t.wait_s)
                if self.f.group is not None:
                    stmt = stmt.where(t.group_id == self.f.group)
                for g, kind, w, n in self.session.execute(stmt):
                    found[(g, kind, w)] += int(n)
        for (day, g, kind, w), n in self.live.waits.items():
            if self._in(day, g):
                found[(g, kind, w)] += n
        return found

    # ------------------------------------------------------------------ per agent
    def agents(self) -> Report:
        calls: dict[str, list[float]] = defaultdict(lambda: [0.0] * 8)  # the 7 sums of report_agents, wrap-up
        if self.f.calls:
            t = ReportAgentsRow
            stmt = select(t.agent_id, t.group_id, func.sum(t.offers), func.sum(t.answers), func.sum(t.rang_out),
                          func.sum(t.talk_s), func.sum(t.pickups), func.sum(t.transfers_made),
                          func.sum(t.transfers_taken)).where(
                t.day >= self.f.first.isoformat(), t.day <= self.f.last.isoformat()).group_by(t.agent_id, t.group_id)
            if self.f.group is not None:
                stmt = stmt.where(t.group_id == self.f.group)
            rows: list[tuple[str, str, list[float]]] = [
                (a, g, [float(v or 0) for v in sums]) for a, g, *sums in self.session.execute(stmt)]
            rows += [(a, g, sums) for (day, a, g), sums in self.live.agents.items() if self._in(day, g)]
            for agent, group, sums in rows:
                _add(calls[agent], [*sums, sums[1] * self.site.groups.get(group, GroupInfo(group)).wrapup_s])
        chats = self._chats_by_agent()
        times = self._agent_times()
        ids = [a for a in self.site.agents if a in calls or a in chats or a in times or self.f.group is None]
        ids += sorted((set(calls) | set(chats)) - set(ids))
        out = []
        for a in ids:
            s = calls.get(a, [0.0] * 8)
            chat = chats.get(a, (0, None))
            clocked, on_break = times.get(a, (0.0, 0.0))
            out.append({
                "agent": self.site.agents.get(a, a), "offers": int(s[0]), "answers": int(s[1]),
                "rang_out": int(s[2]), "talk": s[3], "pickups": int(s[4]), "transfers_made": int(s[5]),
                "transfers_taken": int(s[6]), "clocked_in": clocked, "on_break": on_break, "wrap_up": s[7],
                "available": max(0.0, clocked - on_break - s[3] - s[7]) if clocked else 0.0,
                "chats": chat[0], "chat_response_avg": chat[1],
            })
        return Report("agents", "Agents", [
            Column("agent", "Agent", "text"), Column("offers", "Calls offered"), Column("answers", "Answered"),
            Column("rang_out", "Rang out"), Column("talk", "Talk time", "seconds"), Column("pickups", "Pickups made"),
            Column("transfers_made", "Transferred on"), Column("transfers_taken", "Transfers taken"),
            Column("clocked_in", "Clocked in", "seconds"), Column("available", "Available", "seconds"),
            Column("on_break", "On a break", "seconds"), Column("wrap_up", "Wrap-up", "seconds"),
            Column("chats", "Chats"), Column("chat_response_avg", "Avg first response (chats)", "seconds")], out)

    def _items(self, *keys: str) -> list[tuple[Any, ...]]:
        """The chats, e-mails and forms created in the range, by ``keys`` (columns of
        channel_items): count, responded, response sum, response max. Whole months come
        from report_items once rolled up, the days at either end from the items."""
        kinds = self.f.kinds()
        if not kinds:
            return []
        found: dict[tuple[Any, ...], items.Sums] = {}
        months, _ = _periods(self.f.first, self.f.last)
        spans = [(self.start, self.end)]
        if months and items.is_rolled(self.session, self.site.zone):
            items.merge(found, items.rolled(self.session, keys, months, kinds, self.f.group))
            spans = [(self.start, items.month_start(months[0], self.site.zone)),
                     (items.month_start(items.next_month(months[-1]), self.site.zone), self.end)]
        for start, end in spans:
            if start < end:
                items.merge(found, items.summed(self.session, keys, start, end, kinds, self.f.group))
        return [(*key, *sums) for key, sums in found.items()]

    def _chats_by_agent(self) -> dict[str, tuple[int, float | None]]:
        if "chat" not in self.f.kinds():
            return {}
        found: dict[str, tuple[int, float | None]] = {}
        for agent, kind, n, responded, total, _ in self._items("agent_id", "kind"):
            if agent is not None and kind == "chat":
                found[agent] = (int(n), _mean(float(total or 0), responded))
        return found

    def _agent_times(self) -> dict[str, tuple[float, float]]:
        """(clocked in, on a break) seconds within the range, from the agents' own lines:
        the days rolled up in report_agent_times, then the lines of the rest of the range
        and the last of each kind before it (the state at its start)."""
        if not self.site.agents:
            return {}
        found: dict[str, tuple[float, float]] = {}
        rolled = agent_times.rolled_until(self.session, self.site.zone)
        if rolled > self.start:
            t = ReportAgentTimesRow
            stmt = select(t.agent_id, func.sum(t.clocked_s), func.sum(t.break_s)).where(
                t.day >= self.f.first.isoformat(), t.day <= self.f.last.isoformat(),
                t.agent_id.in_(list(self.site.agents))).group_by(t.agent_id)
            found = {a: (float(c), float(b)) for a, c, b in self.session.execute(stmt)}
        start = max(self.start, rolled)
        if start < self.end:
            until = min(self.end, self.now)
            for agent, steps in agent_times.lines(self.session, start, self.end, self.site.agents).items():
                clocked, on_break = agent_times.spent(steps, [(start, max(start, until))])[0]
                was = found.get(agent, (0.0, 0.0))
                found[agent] = (was[0] + clocked, was[1] + on_break)
        return found

    # ------------------------------------------------------------------ chat queues, mailboxes, forms
    def queues(self) -> Report:
        rows = []
        for queue, kind, n, responded, total, longest in sorted(self._items("queue_id", "kind")):
            rows.append({"queue": self.site.queues.get(queue, (queue, kind))[0], "kind": KIND_LABELS.get(kind, kind),
                         "items": int(n), "responded": int(responded),
                         "response_avg": _mean(float(total or 0), responded),
                         "response_max": float(longest) if longest is not None else None})
        return Report("queues", "Chat queues, mailboxes and forms", [
            Column("queue", "Queue", "text"), Column("kind", "Channel", "text"), Column("items", "Items"),
            Column("responded", "Responded"), Column("response_avg", "Avg time to first response", "seconds"),
            Column("response_max", "Longest time to first response", "seconds")], rows)

    def distribution(self) -> Report:
        found = self._items("queue_id", "agent_id")
        totals: dict[str, int] = defaultdict(int)
        for queue, _, n, *_ in found:
            totals[queue] += int(n)
        rows = [{"queue": self.site.queues.get(q, (q, ""))[0],
                 "agent": self.site.agents.get(a, a) if a else "nobody yet",
                 "items": int(n), "share": round(100 * int(n) / totals[q], 1),
                 "response_avg": _mean(float(total or 0), responded)}
                for q, a, n, responded, total, _ in sorted(found, key=lambda r: (r[0], r[1] or ""))]
        return Report("distribution", "Distribution across agents", [
            Column("queue", "Queue", "text"), Column("agent", "Agent", "text"), Column("items", "Items"),
            Column("share", "Share of the queue", "percent"),
            Column("response_avg", "Avg time to first response", "seconds")], rows)


KIND_LABELS = {"chat": "chat", "email": "e-mail", "form": "form"}


def _outcome_columns() -> list[Column]:
    return [*(Column(o, OUTCOME_LABELS[o]) for o in OUTCOMES), Column("total", "Total")]


def _by_outcome(row: dict[str, Any], counts: dict[str, float]) -> dict[str, Any]:
    row.update({o: int(counts[o]) for o in OUTCOMES})
    row["total"] = sum(int(counts[o]) for o in OUTCOMES)
    return row


def _add(into: list[float], values: list[float]) -> None:
    """Add a report_calls sum (its 4th figure, the longest wait, is a maximum) or an agent's."""
    for i, v in enumerate(values):
        into[i] = max(into[i], v) if i == 3 and len(into) == 30 else into[i] + v


def _periods(first: date, last: date) -> tuple[list[str], list[str]]:
    """The whole months within [first, last] (YYYY-MM), and the days outside them."""
    months: list[str] = []
    days: list[str] = []
    day = first
    while day <= last:
        month_end = (day.replace(day=28) + timedelta(4)).replace(day=1) - timedelta(1)
        if day.day == 1 and month_end <= last:
            months.append(day.isoformat()[:7])
            day = month_end + timedelta(1)
        else:
            days.append(day.isoformat())
            day += timedelta(1)
    return months, days


def _total(by: dict[str, list[float]], outcomes: Iterable[str]) -> list[float]:
    total = [0.0] * 30
    for o in outcomes:
        _add(total, by[o])
    return total


def _mean(total: float, n: float | int) -> float | None:
    return round(total / n, 1) if n else None

