"""Drive the pure conversation router with an injected clock (no tests in this file).

Like ``harness.py`` for calls: events in, commands out, timers fired in time order as
the test advances the clock. The desk also keeps the adapter's view of who holds what
(from Offer/Withdraw commands and closes), so tests can check limits from the outside.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from acd.core.commands import CancelTimer, StartTimer
from acd.core.conversation_model import (
    AgentSettings,
    ChannelQueue,
    ConversationArrived,
    ConversationClosed,
    ConversationCommand,
    ConversationConfig,
    ConversationEvent,
    Offer,
    TimelineRecord,
    Withdraw,
)
from acd.core.conversations import ConversationRouter
from acd.core.events import TimerFired
from acd.core.model import Mode
from acd.core.work_time import WorkSchedule

AGENTS = ("anna", "boris", "clara", "dmitri")
MONDAY_10_UTC = datetime(2024, 3, 4, 10, 0, tzinfo=ZoneInfo("UTC")).timestamp()


def at(text: str, zone: str = "UTC") -> float:
    """Epoch seconds of a local time, e.g. ``at("2024-03-04 09:00", "Europe/Berlin")``."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def chat(mode: Mode = Mode.STRICT, members: tuple[str, ...] = ("anna", "boris", "clara"), **kw: Any) -> ChannelQueue:
    return ChannelQueue(id=kw.pop("id", "telegram"), name=kw.pop("name", "Telegram"), members=members, mode=mode, **kw)


def setup(*queues: ChannelQueue, agents: tuple[str, ...] = AGENTS, capacity: dict[str, int] | None = None,
          schedules: dict[str, WorkSchedule] | None = None) -> ConversationConfig:
    capacity, schedules = capacity or {}, schedules or {}
    return ConversationConfig(
        agents={a: AgentSettings(capacity=capacity.get(a), schedule=schedules.get(a)) for a in agents},
        queues={q.id: q for q in queues},
    )


class Desk:
    def __init__(self, cfg: ConversationConfig, now: float = MONDAY_10_UTC,
                 router: ConversationRouter | None = None) -> None:
        self.router = router or ConversationRouter(cfg)
        self.now = now
        self.timers: dict[str, float] = {}
        self.log: list[ConversationCommand] = []
        self.holding: dict[str, set[str]] = {}  # agent -> conversations, as the adapter sees it

    def send(self, event: ConversationEvent) -> list[ConversationCommand]:
        out = self.router.handle(event, self.now)
        if isinstance(event, ConversationClosed):
            for held in self.holding.values():
                held.discard(event.conversation_id)
        self.apply(out)
        return out

    def apply(self, out: list[ConversationCommand]) -> None:
        for cmd in out:
            if isinstance(cmd, StartTimer):
                self.timers[cmd.key] = self.now + cmd.delay_s
            elif isinstance(cmd, CancelTimer):
                self.timers.pop(cmd.key, None)
            elif isinstance(cmd, Offer):
                for agent_id in cmd.agent_ids:
                    self.holding.setdefault(agent_id, set()).add(cmd.conversation_id)
            elif isinstance(cmd, Withdraw):
                for agent_id in cmd.agent_ids:
                    self.holding.setdefault(agent_id, set()).discard(cmd.conversation_id)
        self.log.extend(out)

    def arrive(self, cid: str = "c1", queue: str = "telegram", client: str = "", owner: str | None = None,
               ) -> list[ConversationCommand]:
        return self.send(ConversationArrived(cid, queue, client or f"tg:{cid}", owner))

    def advance(self, seconds: float) -> list[ConversationCommand]:
        """Move the clock, firing every timer that falls due, in order."""
        end = self.now + seconds
        out: list[ConversationCommand] = []
        while True:
            due = sorted((when, key) for key, when in self.timers.items() if when <= end + 1e-9)
            if not due:
                break
            when, key = due[0]
            del self.timers[key]
            self.now = max(self.now, when)
            out.extend(self.send(TimerFired(key)))
        self.now = end
        return out

    def records(self, kind: str | None = None, item: str | None = None) -> list[TimelineRecord]:
        return [c for c in self.log if isinstance(c, TimelineRecord)
                and (kind is None or c.kind == kind) and (item is None or c.item_id == item)]

    def holder(self, cid: str) -> set[str]:
        return {a for a, held in self.holding.items() if cid in held}


def only(commands: list[ConversationCommand], kind: type) -> list[Any]:
    return [c for c in commands if isinstance(c, kind)]


def offered_to(commands: list[ConversationCommand]) -> list[tuple[str, ...]]:
    return [c.agent_ids for c in commands if isinstance(c, Offer)]
