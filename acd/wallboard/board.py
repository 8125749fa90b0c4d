"""The wallboard: per queue group and chat queue, what is happening now and today.

Now comes from the routers' state (callers waiting, agents' states, conversations
waiting); today from ``DayFigures``, which this module feeds with every record the
routers emit (as the distributor's and the desk's listener) and, at start, with the
day's history from the database (``rebuild``): an acd restart keeps the day's figures.
"today" begins at midnight in ``[service] time_zone``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..channels.history import EventRow, ItemRow
from ..config import GroupSettings, Settings
from ..core.agents import AgentStatus
from ..core.call import Phase
from ..core.commands import Record
from ..core.conversation_model import ChannelKind, TimelineRecord
from ..core.events import DeviceState
from ..core.router import Router
from ..store.models import CallEventRow, CallRow
from .day_figures import DayFigures

log = logging.getLogger(__name__)

# the agents' states as supervisors say them, in the order the tiles show them
AGENT_STATES = ("available", "on a call", "ringing", "wrap-up", "on a break", "offline")
_OFFLINE = {DeviceState.UNAVAILABLE, DeviceState.INVALID}
_FREE = {DeviceState.NOT_INUSE, DeviceState.UNKNOWN}
_IN_LINE = (Phase.RINGING, Phase.WAITING)  # callers still waiting for a member
_BREAKS = ("on a break", "on a scheduled break")
DEFAULT_TARGET_S = 20.0  # ServiceLevelSettings' default, for a group no longer configured


def agent_state(status: AgentStatus, now: float) -> str:
    """One of AGENT_STATES for an agent's telephony status."""
    if status.calls:
        return "on a call"
    if status.ringing:
        return "ringing"
    if not status.working:
        # "on a break", "on a break: lunch" (acd.core.work_time), "on a scheduled break"
        return "on a break" if status.work_reason.startswith(_BREAKS) else "offline"
    if status.device in _OFFLINE:
        return "offline"
    if status.wrapup_until > now:
        return "wrap-up"
    if status.device not in _FREE:
        return "on a call"  # a call the ACD did not place (a direct or outgoing call)
    return "available"


def day_start(now: float, zone: str) -> float:
    """Midnight of ``now``'s day in ``zone``, as epoch seconds."""
    tz = ZoneInfo(zone)
    local = datetime.fromtimestamp(now, tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz).timestamp()


def next_day_start(start: float, zone: str) -> float:
    tz = ZoneInfo(zone)
    day = datetime.fromtimestamp(start, tz).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


class Wallboard:
    def __init__(self, router: Callable[[], Router], settings: Callable[[], Settings], now: Callable[[], float],
                 conversations: Any = None) -> None:
        """``conversations``: the channels' desk (acd.channels.Desk), for the chat queues."""
        self.router = router
        self.settings = settings
        self.now = now
        self.desk = conversations
        self._targets_of: Settings | None = None
        self._targets: dict[str, float] = {}
        # a standby shows the active node's wallboard (acd.ha.shared_live); None: its own
        self.shared: Callable[[], dict[str, Any] | None] | None = None
        self.figures = self._new_day(now())

    # ------------------------------------------------------------------ the day
    def _zone(self) -> str:
        return self.settings().service.time_zone

    def _new_day(self, now: float) -> DayFigures:
        start = day_start(now, self._zone())
        self._day_ends = next_day_start(start, self._zone())
        return DayFigures(start)

    def _today(self, at: float) -> DayFigures:
        if at >= self._day_ends:
            self.figures = self._new_day(at)
        return self.figures

    def _group_target(self, group_id: str | None) -> float:
        settings = self.settings()
        if settings is not self._targets_of:  # every record asks: a dict per settings, not a search
            self._targets_of = settings
            self._targets = {g.id: float(g.service_level.answer_within_seconds) for g in settings.groups}
        return self._targets.get(group_id or "", DEFAULT_TARGET_S)

    # ------------------------------------------------------------------ feeding
    def call_records(self, event: object = None, commands: list[Any] | None = None) -> None:
        """A Distributor listener: fold the records the router just emitted."""
        for command in commands or ():
            if isinstance(command, Record):
                self.call_record(command.call_id, command.at, command.kind, command.detail)

    def call_record(self, call_id: str, at: float, kind: str, detail: dict[str, Any]) -> None:
        figures = self._today(at)
        group = figures.group_of(call_id) if kind != "arrived" else detail.get("group")
        figures.call_record(call_id, at, kind, detail, self._group_target(group))

    def chat_records(self, event: object = None, commands: list[Any] | None = None) -> None:
        """A Desk listener: fold the conversations' timeline records."""
        for command in commands or ():
            if isinstance(command, TimelineRecord):
                self._today(command.at).chat_record(command.item_id, command.at, command.kind, command.detail)

    def rebuild(self, engine: Engine) -> int:
        """Fold the day's history again (at start); returns the records read."""
        now = self.now()
        fresh = self._new_day(now)
        self.figures = fresh
        read = 0
        with Session(engine) as session:
            rows = session.execute(
                select(CallEventRow.call_id, CallEventRow.at, CallEventRow.kind, CallEventRow.detail)
                .join(CallRow, CallRow.call_id == CallEventRow.call_id)
                .where(CallRow.arrived_at >= fresh.day_start)
                .order_by(CallEventRow.id))
            for call_id, at, kind, detail in rows:
                self.call_record(call_id, at, kind, dict(detail or {}))
                read += 1
            read += self._rebuild_chats(session, fresh)
        log.info("wallboard rebuilt from the history", extra={"records": read, "since": fresh.day_start})
        return read

    def _rebuild_chats(self, session: Session, figures: DayFigures) -> int:
        if self.desk is None:  # no channels side: its tables may not exist
            return 0
        read = 0
        rows = session.execute(
            select(EventRow.item_id, EventRow.at, EventRow.kind, EventRow.detail)
            .join(ItemRow, ItemRow.item_id == EventRow.item_id)
            .where(ItemRow.created_at >= figures.day_start, ItemRow.kind == "chat",
                   EventRow.kind.in_(("arrived", "answered", "closed")))
            .order_by(EventRow.id))
        for item_id, at, kind, detail in rows:
            figures.chat_record(item_id, at, kind, dict(detail or {}))
            read += 1
        return read

    # ------------------------------------------------------------------ the picture
    def snapshot(self) -> dict[str, Any]:
        if self.shared is not None and (picture := self.shared()) is not None:
            return dict(picture)
        now = self.now()
        figures = self._today(now)
        router = self.router()
        settings = self.settings()
        agents = {a: agent_state(router.agents.status(a), now) for a in router.config.agents}
        waits: dict[str, list[float]] = {}
        for call in router.calls.values():
            if call.group_id is not None and call.phase in _IN_LINE:
                waits.setdefault(call.group_id, []).append(now - call.arrived_at)
        return {
            "now": now,
            "day_start": figures.day_start,
            "time_zone": settings.service.time_zone,
            "groups": [self._group(g, waits.get(g.id, []), figures, agents) for g in settings.groups],
            "chat_queues": self._chat_queues(figures, now),
            "agents": [{"id": a.id, "name": a.name, "state": agents.get(a.id, "offline"),
                        "reason": router.agents.status(a.id).work_reason} for a in settings.agents],
        }

    def _group(self, g: GroupSettings, waits: list[float], figures: DayFigures,
               agents: dict[str, str]) -> dict[str, Any]:
        day = figures.group(g.id)
        target = g.service_level
        states = {s: 0 for s in AGENT_STATES}
        for member in dict.fromkeys(g.members):
            states[agents.get(member, "offline")] += 1
        longest = round(max(waits), 1) if waits else 0.0
        sl = day.service_level()
        alerts = []
        if longest > target.longest_wait_alert_seconds:
            alerts.append(("red", f"a caller has waited over {target.longest_wait_alert_seconds} s"))
        elif longest > target.answer_within_seconds:
            alerts.append(("amber", f"a caller has waited over {target.answer_within_seconds} s"))
        if sl is not None and sl < target.goal_percent:
            alerts.append(("red", f"service level under the goal of {target.goal_percent} %"))
        level = "red" if any(a[0] == "red" for a in alerts) else "amber" if alerts else "ok"
        return {
            "id": g.id, "name": g.name,
            "waiting": len(waits), "longest_wait_s": longest,
            "agents": states,
            "service_level_percent": sl, "goal_percent": target.goal_percent,
            "answer_within_s": target.answer_within_seconds,
            "longest_wait_alert_s": target.longest_wait_alert_seconds,
            "offered": day.offered, "answered": day.answered, "abandoned": day.abandoned, "missed": day.missed,
            "answered_within_target": day.answered_within, "abandoned_after_target": day.abandoned_after_target,
            "asa_s": day.asa_s(),
            "level": level, "alerts": [text for _, text in alerts],
        }

    def _chat_queues(self, figures: DayFigures, now: float) -> list[dict[str, Any]]:
        desk = self.desk
        if desk is None:
            return []
        router = desk.router
        out = []
        for queue in router.config.queues.values():
            if queue.kind is not ChannelKind.CHAT:
                continue
            waiting = [now - router.conversations[c].arrived_at for c in router.waiting(queue.id)]
            at_limit = 0
            for member in dict.fromkeys(queue.members):
                agent = router.config.agents.get(member)
                state = router.availability.agents.get(member)
                if agent is not None and state is not None and state.load >= (agent.capacity or queue.capacity):
                    at_limit += 1
            day = figures.chat(queue.id)
            out.append({
                "id": queue.id, "name": queue.name,
                "waiting": len(waiting), "longest_wait_s": round(max(waiting), 1) if waiting else 0.0,
                "agents_at_limit": at_limit, "members": len(dict.fromkeys(queue.members)),
                "arrived": day.arrived, "first_response_s": day.first_response_s(),
                "level": "amber" if waiting else "ok",
                "alerts": ["conversations wait for a free agent"] if waiting else [],
            })
        return out
