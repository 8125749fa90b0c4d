"""Drive the pure router with an injected clock: events in, commands out, timers fired
in time order as the test advances the clock. No sockets, no sleeps, no mocks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from acd.core.commands import CancelTimer, Command, Record, StartTimer
from acd.core.events import DeviceState, DeviceStateChanged, Event, TimerFired
from acd.core.model import Agent, MissedCallPolicy, Mode, QueueGroup, RoutingConfig
from acd.core.router import Router


def agents(*ids: str, **mobiles: str) -> dict[str, Agent]:
    return {
        i: Agent(id=i, name=i.title(), endpoint=f"PJSIP/{100 + n}", extension=str(100 + n),
                 mobile=mobiles.get(i, ""))
        for n, i in enumerate(ids, start=1)
    }


def config(*groups: QueueGroup, agent_ids: tuple[str, ...] = ("anna", "boris", "clara", "dmitri"),
           mobiles: dict[str, str] | None = None, **numbers: str) -> RoutingConfig:
    return RoutingConfig(
        agents=agents(*agent_ids, **(mobiles or {})),
        groups={g.id: g for g in groups},
        numbers=numbers or {"5000": groups[0].id},
    )


def group(mode: Mode = Mode.STRICT, members: tuple[str, ...] = ("anna", "boris", "clara"), **kw: Any) -> QueueGroup:
    missed = kw.pop("missed", MissedCallPolicy())
    return QueueGroup(id=kw.pop("id", "sales"), name="Sales", members=members, mode=mode, missed=missed, **kw)


class Harness:
    def __init__(self, cfg: RoutingConfig, now: float = 1_000.0) -> None:
        self.router = Router(cfg)
        self.now = now
        self.timers: dict[str, float] = {}
        self.log: list[Command] = []
        for agent_id in cfg.agents:
            self.send(DeviceStateChanged(agent_id, DeviceState.NOT_INUSE))

    def send(self, event: Event) -> list[Command]:
        out = self.router.handle(event, self.now)
        for cmd in out:
            if isinstance(cmd, StartTimer):
                self.timers[cmd.key] = self.now + cmd.delay_s
            elif isinstance(cmd, CancelTimer):
                self.timers.pop(cmd.key, None)
        self.log.extend(out)
        return out

    def advance(self, seconds: float) -> list[Command]:
        """Move the clock, firing every timer that falls due, in order."""
        end = self.now + seconds
        out: list[Command] = []
        while True:
            due = sorted((at, key) for key, at in self.timers.items() if at <= end + 1e-9)
            if not due:
                break
            at, key = due[0]
            del self.timers[key]
            self.now = at
            out.extend(self.send(TimerFired(key)))
        self.now = end
        return out

    def records(self, kind: str | None = None, call_id: str | None = None) -> list[Record]:
        return [c for c in self.log if isinstance(c, Record)
                and (kind is None or c.kind == kind) and (call_id is None or c.call_id == call_id)]


def only(commands: list[Command], kind: type) -> list[Any]:
    return [c for c in commands if isinstance(c, kind)]


__all__ = ["Harness", "agents", "config", "group", "only", "replace"]
