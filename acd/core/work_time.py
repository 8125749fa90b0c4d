"""Agents' work time, pure: may agent X get work at ``now``, and when may that change?

A ``WorkSchedule`` is configuration (working hours per weekday and recurring breaks,
in the agent's time zone); ``WorkTime`` holds what agents did (clock in/out, breaks,
one-off scheduled breaks) and answers from both. Time is epoch seconds passed in;
local times come from ``zoneinfo``, so daylight-saving changes are the zone's.

Rules:
- An agent without a schedule is not tracked: working unless on a break taken by hand
  (a pause, issue 14: it stops every agent); clock events are kept, and count as soon
  as a schedule is configured.
- A tracked agent works when clocked in (unless the schedule says clocking in is not
  required), not on a break (started by hand or scheduled: recurring or one-off), and
  inside one of the day's working-hour intervals (unless the schedule has no hours).
- Intervals are half-open ``[start, end)`` in local time; an end at or before the start
  runs past midnight into the next day (``22:00-06:00``); start == end is 24 hours.
- Clocking out ends a break taken by hand; clocking in starts without one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Interval = tuple[time, time]
Intervals = Mapping[int, tuple[Interval, ...]]  # weekday (0 = Monday) -> intervals

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HORIZON_DAYS = 8  # a weekly schedule changes within a week, or never


@dataclass(frozen=True, slots=True)
class WorkSchedule:
    time_zone: str = "UTC"
    hours: Intervals | None = None  # None: no fixed hours (clock in/out and breaks only)
    breaks: Intervals = field(default_factory=dict)  # recurring scheduled breaks (lunch)
    clock_in_required: bool = True

    def __post_init__(self) -> None:
        ZoneInfo(self.time_zone)  # an unknown zone fails here, not at the first decision

    @classmethod
    def weekly(cls, days: str = "mon-fri", hours: str = "09:00-18:00", breaks: str = "",
               time_zone: str = "UTC", clock_in_required: bool = True) -> WorkSchedule:
        """``weekly("mon-fri", "09:00-18:00", breaks="13:00-14:00", time_zone="Europe/Berlin")``.
        ``days`` is a comma list of days or ranges; ``hours``/``breaks`` comma lists of spans."""
        weekdays = _parse_days(days)
        shifts, pauses = _parse_spans(hours), _parse_spans(breaks)
        return cls(time_zone, {d: shifts for d in weekdays}, {d: pauses for d in weekdays if pauses},
                   clock_in_required)

    def in_hours(self, now: float) -> bool:
        return self.hours is None or _inside(self.hours, self.time_zone, now)

    def in_break(self, now: float) -> bool:
        return bool(self.breaks) and _inside(self.breaks, self.time_zone, now)

    def boundaries(self, now: float) -> Iterator[float]:
        """Starts and ends of hours and breaks from the day before ``now`` over the horizon."""
        for table in (self.hours or {}, self.breaks):
            for start, end in _spans(table, self.time_zone, now, range(-1, _HORIZON_DAYS)):
                yield start
                yield end


def on_break(reason: str = "") -> str:
    """The words of a break by hand, with the agent's reason: "on a break: lunch"."""
    return f"on a break: {reason}" if reason else "on a break"


@dataclass(slots=True)
class _Clock:
    clocked_in: bool = False
    on_break: bool = False
    break_reason: str = ""
    breaks: list[tuple[float, float]] = field(default_factory=list)  # one-off, epoch


class WorkTime:
    def __init__(self, schedules: Mapping[str, WorkSchedule | None] | None = None) -> None:
        self._schedules: dict[str, WorkSchedule] = {}
        self._clocks: dict[str, _Clock] = {}
        self.set_schedules(schedules or {})

    def set_schedules(self, schedules: Mapping[str, WorkSchedule | None]) -> None:
        self._schedules = {agent: s for agent, s in schedules.items() if s is not None}

    def tracked(self, agent_id: str) -> bool:
        return agent_id in self._schedules

    # ------------------------------------------------------------------ what agents do
    def clock_in(self, agent_id: str) -> None:
        clock = self._clock(agent_id)
        clock.clocked_in, clock.on_break = True, False

    def clock_out(self, agent_id: str) -> None:
        clock = self._clock(agent_id)
        clock.clocked_in, clock.on_break = False, False

    def start_break(self, agent_id: str, reason: str = "") -> None:
        clock = self._clock(agent_id)
        clock.on_break, clock.break_reason = True, reason

    def end_break(self, agent_id: str) -> None:
        clock = self._clock(agent_id)
        clock.on_break, clock.break_reason = False, ""

    def schedule_break(self, agent_id: str, starts_at: float, ends_at: float) -> None:
        if ends_at > starts_at:
            self._clock(agent_id).breaks.append((starts_at, ends_at))
            self._clock(agent_id).breaks.sort()

    # ------------------------------------------------------------------ answers
    def why_not_working(self, agent_id: str, now: float) -> str | None:
        """None when the agent works at ``now``, else the reason (words of the history)."""
        schedule = self._schedules.get(agent_id)
        clock = self._clocks.get(agent_id) or _Clock()
        if schedule is None:  # a pause counts for everyone; hours and clocking in only when tracked
            return on_break(clock.break_reason) if clock.on_break else None
        if not schedule.in_hours(now):
            return "outside working hours"
        if schedule.clock_in_required and not clock.clocked_in:
            return "not clocked in"
        if clock.on_break:
            return on_break(clock.break_reason)
        if any(start <= now < end for start, end in clock.breaks) or schedule.in_break(now):
            return "on a scheduled break"
        return None

    def is_working(self, agent_id: str, now: float) -> bool:
        return self.why_not_working(agent_id, now) is None

    def next_change(self, agent_id: str, now: float) -> float | None:
        """The first moment after ``now`` at which ``is_working`` flips by the clock alone
        (a shift or a break starting or ending); None when nothing scheduled changes it."""
        schedule = self._schedules.get(agent_id)
        if schedule is None:
            return None
        clock = self._clocks.get(agent_id)
        if clock is not None:
            clock.breaks = [(s, e) for s, e in clock.breaks if e > now]  # forget past breaks
        one_off = [t for span in (clock.breaks if clock else []) for t in span]
        working = self.is_working(agent_id, now)
        for moment in sorted({t for t in (*schedule.boundaries(now), *one_off) if t > now}):
            if self.is_working(agent_id, moment) != working:
                return moment
        return None

    # ------------------------------------------------------------------ restart
    def snapshot(self) -> dict[str, Any]:
        return {agent: {"clocked_in": c.clocked_in, "on_break": c.on_break, "break_reason": c.break_reason,
                        "breaks": [list(b) for b in c.breaks]}
                for agent, c in self._clocks.items()}

    def restore(self, data: Mapping[str, Any]) -> None:
        self._clocks = {
            agent: _Clock(bool(c["clocked_in"]), bool(c["on_break"]), str(c.get("break_reason", "")),
                          [(float(s), float(e)) for s, e in c["breaks"]])
            for agent, c in data.items()
        }

    def _clock(self, agent_id: str) -> _Clock:
        clock = self._clocks.get(agent_id)
        if clock is None:
            clock = self._clocks[agent_id] = _Clock()
        return clock


# ---------------------------------------------------------------------- local time
def _spans(table: Intervals, zone: str, now: float, offsets: range) -> Iterator[tuple[float, float]]:
    tz = ZoneInfo(zone)
    today = datetime.fromtimestamp(now, tz).date()
    for offset in offsets:
        day = today + timedelta(days=offset)
        for start, end in table.get(day.weekday(), ()):
            yield _epoch(day, start, tz), _epoch(day if end > start else day + timedelta(days=1), end, tz)


def _inside(table: Intervals, zone: str, now: float) -> bool:
    # yesterday's interval may run past midnight into today
    return any(start <= now < end for start, end in _spans(table, zone, now, range(-1, 1)))


def _epoch(day: date, at: time, tz: ZoneInfo) -> float:
    return datetime.combine(day, at, tzinfo=tz).timestamp()


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.replace(" ", "").lower().split(","):
        first, _, last = part.partition("-")
        a, b = _DAYS.index(first[:3]), _DAYS.index((last or first)[:3])
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return sorted(set(days))


def _parse_spans(text: str) -> tuple[Interval, ...]:
    spans: list[Interval] = []
    for part in filter(None, text.replace(" ", "").split(",")):
        start, _, end = part.partition("-")
        spans.append((time.fromisoformat(start), time.fromisoformat(end)))
    return tuple(spans)
