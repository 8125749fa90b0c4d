"""Asterisk as the distributor sees it: ``execute(command)`` out, core events in.

Glue only: the AMI link (connection.py) hands frames to the tracker (tracker.py),
whose events go to ``feed`` (the distributor); the distributor's PBX commands become
AMI actions (actions.py) written at once, in order, on the same link.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from panoramisk.message import Message  # type: ignore[import-untyped]

from ..core.commands import Command, Forward, Ring
from ..core.events import Event
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
        active: Callable[[], bool] | None = None,
    ) -> None:
        """``active``: whether this node is active for the server (acd/ha): when not,
        no action is written and the server's events are not acted on."""
        self.config = config
        self.active = active
        self.dialplan = dialplan or Dialplan()
        self.tracker = Tracker(config, self.dialplan)
        self.feed = feed
        self.connection = AmiConnection(host, port, username, secret, on_event=self._on_event,
                                        on_resync=self._on_resync, timing=timing,
                                        wanted_events=Tracker.handled_events(), now=now,
                                        may_send=active)

    def attach(self, feed: Feed) -> None:
        """Where core events go (the distributor's ``feed``); call before ``run()``."""
        self.feed = feed

    def reconfigure(self, config: RoutingConfig) -> None:
        self.config = config
        self.tracker.config = config

    async def run(self) -> None:
        await self.connection.run()

    def close(self) -> None:
        self.connection.close()

    # ------------------------------------------------------------------ commands out
    def execute(self, command: Command) -> None:
        """The distributor's PbxPort: carry out one command now (its actions are written
        together, in order; their responses are checked later and failures logged)."""
        if isinstance(command, Ring):
            self.tracker.note_attempt(command.call_id, command.attempt, command.agent_ids)
        elif isinstance(command, Forward):
            self.tracker.note_attempt(command.call_id, command.attempt)
        actions = translate(command, self.tracker, self.config, self.dialplan)
        if not actions:
            return
        # Setvar, Setvar, Redirect leave together: the ring starts one round trip after
        # the decision, not three (the Setvars still land first, see send_all)
        for action, future in zip(actions, self.connection.send_all(actions), strict=False):
            future.add_done_callback(_report(action))

    # ------------------------------------------------------------------ events in
    async def _on_resync(self, channels: list[Message], devices: list[Message], listed_at: float) -> None:
        self._emit(self.tracker.resync(channels, devices, listed_at))

    async def _on_event(self, message: Message) -> None:
        self._emit(self.tracker.handle(message))

    def _emit(self, events: list[Event]) -> None:
        if self.active is not None and not self.active():
            return  # a former leader: the calls are the new one's now
        if self.feed is None:
            if events:
                log.warning("pbx events dropped: nothing attached", extra={"acd_events": len(events)})
            return
        for event in events:
            try:
                self.feed(event)
            except Exception:  # the events after it happened all the same
                log.exception("pbx event not handled", extra={"acd_event": type(event).__name__})


def _report(action: Mapping[str, str]) -> Callable[[asyncio.Future[Message]], None]:
    def done(future: asyncio.Future[Message]) -> None:
        if future.cancelled():
            return
        result = future.result()
        if isinstance(result, Message) and result.get("Response") == "Error":
            # e.g. "Channel does not exist" when the caller hung up meanwhile (01)
            log.info("ami action failed", extra={"ami_action": action.get("Action", ""),
                                                 "ami_channel": action.get("Channel", ""),
                                                 "ami_message": result.get("Message", "")})
    return done
