"""The distributor: feeds events to the pure router and carries out its commands.

It is the only place where the core meets the adapters: PBX commands go to the AMI
adapter, timers to the event loop, records to the history writer, manual transfers
to whoever listens (the CRM), the number of calls each agent talks on to the other
channels (``phone_calls_listeners``: one capacity across channels), pauses and
supervisor alerts to the desk that keeps agents' work time (``pause_listeners``). Everything runs
on the event loop's thread, one event at a time, so the router needs no locks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from .clock import Clock
from .core.commands import (
    AlertSupervisors,
    CancelTimer,
    Command,
    PauseAgent,
    Record,
    ReportManualTransfer,
    ReportPhoneCalls,
    ResumeAgent,
    Ring,
    StartTimer,
)
from .core.events import Event, TimerFired
from .core.model import RoutingConfig
from .core.router import Router
from .timers import Timers

log = logging.getLogger(__name__)


class PbxPort(Protocol):
    def execute(self, command: Command) -> None: ...


class HistoryPort(Protocol):
    def add(self, records: list[Record]) -> None: ...

    def offered(self, group_id: str, agent_ids: tuple[str, ...], at: float) -> None: ...


Listener = Callable[[Event | None, list[Command]], None]


class Distributor:
    def __init__(self, router: Router, clock: Clock, pbx: PbxPort, history: HistoryPort) -> None:
        self.router = router
        self.clock = clock
        self.pbx = pbx
        self.history = history
        self.timers = Timers(clock, self._timer_fired)
        # False on a node that is not active for the PBX (acd/ha): the calls' timers are
        # the active node's to run
        self.owns_calls: Callable[[], bool] = lambda: True
        self.transfer_listeners: list[Callable[[ReportManualTransfer], None]] = []
        self.phone_calls_listeners: list[Callable[[str, int], None]] = []  # (agent id, calls talking on)
        self.pause_listeners: list[Callable[[PauseAgent | ResumeAgent | AlertSupervisors], None]] = []
        self.listeners: list[Listener] = []  # live views: every event and what it caused

    def feed(self, event: Event) -> list[Command]:
        now = self.clock.now()
        try:
            commands = self.router.handle(event, now)
        except Exception:  # a routing bug must not take the service (and every other call) down
            log.exception("router failed", extra={"event": repr(event)})
            return []
        self._execute(commands, now)
        for view in self.listeners:
            self._safely(view, event, commands)
        return commands

    def _timer_fired(self, key: str) -> None:
        if self.owns_calls():
            self.feed(TimerFired(key))
        else:
            log.info("timer ignored: not the active node", extra={"timer": key})

    def reconfigure(self, config: RoutingConfig) -> list[Command]:
        """New settings from the API: the next step of every call follows them."""
        now = self.clock.now()
        commands = self.router.reconfigure(config, now)
        self._execute(commands, now)
        for view in self.listeners:
            self._safely(view, None, commands)
        return commands

    def _execute(self, commands: list[Command], now: float) -> None:
        records: list[Record] = []
        timers = self.timers
        for command in commands:
            kind = command.__class__  # the commonest commands first, by class
            if kind is Record:
                records.append(command)  # type: ignore[arg-type]
                if command.kind == "state_corrected":  # type: ignore[union-attr]
                    log.warning("agent state corrected",
                                extra={"call_id": command.call_id, **command.detail})  # type: ignore[union-attr]
            elif kind is CancelTimer:
                timers.cancel(command.key)  # type: ignore[union-attr]
            elif kind is StartTimer:
                timers.start(command.key, command.delay_s)  # type: ignore[union-attr]
            elif isinstance(command, Record):
                records.append(command)
                if command.kind == "state_corrected":  # the watchdog believed the phone over acd
                    log.warning("agent state corrected", extra={"call_id": command.call_id, **command.detail})
            elif isinstance(command, PauseAgent | ResumeAgent | AlertSupervisors):
                for pause in self.pause_listeners:
                    self._safely(pause, command)
            elif isinstance(command, StartTimer):
                self.timers.start(command.key, command.delay_s)
            elif isinstance(command, CancelTimer):
                self.timers.cancel(command.key)
            elif isinstance(command, ReportManualTransfer):
                for listener in self.transfer_listeners:
                    self._safely(listener, command)
            elif isinstance(command, ReportPhoneCalls):
                for tell in self.phone_calls_listeners:
                    self._safely(tell, command.agent_id, command.calls)
            else:
                try:
                    self.pbx.execute(command)
                except Exception:  # one command the adapter cannot carry out: the rest still are
                    log.exception("pbx command failed", extra={"command": type(command).__name__,
                                                                "call_id": getattr(command, "call_id", "")})
                if isinstance(command, Ring):  # noted once the ring is on its way (bench/first_ring.py)
                    call = self.router.calls.get(command.call_id)
                    if call is not None and call.group is not None:
                        self.history.offered(call.group.id, command.agent_ids, now)
        if records:
            self.history.add(records)

    @staticmethod
    def _safely(fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("listener failed")
