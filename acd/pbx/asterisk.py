"""Asterisk as the distributor sees it: ``execute(command)`` out, core events in.

Glue only: the AMI link (connection.py) hands frames to the tracker (tracker.py),
whose events go to ``feed`` (the distributor); the distributor's PBX commands become
AMI actions (actions.py) written at once, in order, on the same link.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from panoramisk.message import Message  # type: ignore[import-untyped]

from ..core.call_keys import call_key, split_call_key
from ..core.commands import Command, Forward, PickUp, RefusePickup, Ring
from ..core.events import CallArrived, DeviceState, DeviceStateChanged, Event, PickupRequested, Resynced
from ..core.model import RoutingConfig
from .actions import translate
from .connection import AmiConnection, Secret, SecretLike, Timing
from .dialplan import Dialplan
from .tracker import Tracker

log = logging.getLogger(__name__)

Feed = Callable[[Event], object]


class AsteriskPbx:
    def __init__(
        self,
        config: RoutingConfig,
        *,
        host: str,
        port: int,
        username: str,
        secret: str | SecretLike | Secret,
        feed: Feed | None = None,
        dialplan: Dialplan | None = None,
        timing: Timing | None = None,
        now: Callable[[], float] = time.time,
        first_server: str | None = None,
        active: Callable[[], bool] | None = None,
    ) -> None:
        """Several Asterisk servers: ``dialplan.server`` is this one's name and
        ``first_server`` the server whose calls keep their plain Uniqueid
        (``core.call_keys``); None: the only server, the core's ids are Uniqueids.
        ``active``: whether this node is the active one (acd/ha): when not, no action
        is written and the server's events are not acted on."""
        self.config = config
        self.active = active
        self.dialplan = dialplan or Dialplan()
        self.server = self.dialplan.server
        self.first_server = first_server
        self.tracker = Tracker(config, self.dialplan)
        self.feed = feed
        # each live AMI event: the tracker's core events, if any, to _emit
        self._on_event: Callable[[Mapping[str, Any]], None] = functools.partial(self.tracker.handle_then, self._emit)
        self.connection = AmiConnection(host, port, username, secret, on_event=self._on_event,
                                        on_resync=self._on_resync, timing=timing,
                                        wanted_events=Tracker.handled_events(), now=now,
                                        on_lost=self._agents_unreachable, may_send=active)

    def attach(self, feed: Feed) -> None:
        """Where core events go (the distributor's ``feed``); call before ``run()``."""
        self.feed = feed

    def reconfigure(self, config: RoutingConfig) -> None:
        self.config = config
        self.tracker.config = config

    async def run(self) -> None:
        self._agents_unreachable()  # until this server's first resync reports their phones
        await self.connection.run()

    def close(self) -> None:
        self.connection.close()

    # ------------------------------------------------------------------ commands out
    def execute(self, command: Command) -> None:
        """The distributor's PbxPort: carry out one command now (its actions are written
        together, in order; their responses are checked later and failures logged)."""
        if self.first_server is not None:
            command = self._to_uniqueids(command)
        if isinstance(command, Ring):
            self.tracker.note_attempt(command.call_id, command.attempt, command.agent_ids)
        elif isinstance(command, Forward):
            self.tracker.note_attempt(command.call_id, command.attempt)
        actions = translate(command, self.tracker, self.config, self.dialplan)
        if not actions:
            return
        # Setvar, Setvar, Redirect leave together: the ring starts one round trip after
        # the decision, not three (the Setvars still land first, see send_all)
        self.connection.send_reported(actions, _report)

    # ------------------------------------------------------------------ events in
    async def _on_resync(self, channels: list[Message], devices: list[Message], listed_at: float) -> None:
        self._emit(self.tracker.resync(channels, devices, listed_at))

    def _agents_unreachable(self) -> None:
        """One of several servers is gone (or not reached yet): its agents are offline for
        every call, so the others' calls ring somebody reachable instead of a dead trunk.
        The next resync reports their phones again. (The only server: nothing rings anyway.)"""
        if self.first_server is None:
            return
        offline: list[Event] = [DeviceStateChanged(a.id, DeviceState.UNAVAILABLE)
                   for a in self.config.agents.values() if a.server == self.server]
        self._emit(offline, keyed=True)

    # ------------------------------------------------------------------ (server, Uniqueid)
    def key(self, uniqueid: str) -> str:
        return uniqueid if self.first_server is None else call_key(self.server, uniqueid, self.first_server)

    def uniqueid(self, call_id: str) -> str:
        return call_id if self.first_server is None else split_call_key(call_id, self.first_server)[1]

    def _keyed(self, event: Event) -> Event:
        """The tracker speaks this server's Uniqueids; the core knows calls by (server, Uniqueid)."""
        if self.first_server is None:  # the only server: its Uniqueids are the core's ids
            if isinstance(event, CallArrived) and event.server != self.server:
                return dataclasses.replace(event, server=self.server)
            return event
        if isinstance(event, Resynced):
            calls = tuple(dataclasses.replace(c, call_id=self.key(c.call_id)) for c in event.calls)
            # callbacks are placed on the first server (serve.py): the others leave them be
            callbacks = event.callbacks if self.server == self.first_server else None
            return dataclasses.replace(event, calls=calls, server=self.server, callbacks=callbacks)
        if isinstance(event, CallArrived):
            return dataclasses.replace(event, call_id=self.key(event.call_id), server=self.server)
        if isinstance(event, PickupRequested):
            return dataclasses.replace(event, request_id=self.key(event.request_id))
        call_id = getattr(event, "call_id", None)
        if isinstance(call_id, str):
            return cast(Event, dataclasses.replace(cast(Any, event), call_id=self.key(call_id)))
        return event

    def _to_uniqueids(self, command: Command) -> Command:
        if self.first_server is None:
            return command
        if isinstance(command, PickUp | RefusePickup):
            command = dataclasses.replace(command, request_id=self.uniqueid(command.request_id))
        call_id = getattr(command, "call_id", None)
        if isinstance(call_id, str):
            return cast(Command, dataclasses.replace(cast(Any, command), call_id=self.uniqueid(call_id)))
        return command

    def _emit(self, events: list[Event], keyed: bool = False) -> None:
        if not events:
            return  # most AMI events only refresh the tracker's picture
        if self.active is not None and not self.active():
            return  # a former leader: the calls are the new one's now
        if not keyed and (self.first_server is not None or CallArrived in map(type, events)):
            events = [self._keyed(e) for e in events]  # the only server: only a CallArrived may change
        if self.feed is None:
            if events:
                log.warning("pbx events dropped: nothing attached", extra={"acd_events": len(events)})
            return
        for event in events:
            try:
                self.feed(event)
            except Exception:  # the events after it happened all the same
                log.exception("pbx event not handled", extra={"acd_event": type(event).__name__})


def _report(action: Mapping[str, str], result: Message) -> None:
    """Each action's answer as it comes: a refused one is logged."""
    # the answer's Response read from panoramisk's storage: for every action, this
    # costs less than its case-folding get()
    if isinstance(result, Message) and result._store.get("response", ("", ""))[1] == "Error":
        # e.g. "Channel does not exist" when the caller hung up meanwhile (01)
        log.info("ami action failed", extra={"ami_action": action.get("Action", ""),
                                             "ami_channel": action.get("Channel", ""),
                                             "ami_message": result.get("Message", "")})
