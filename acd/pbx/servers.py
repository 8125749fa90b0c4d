"""Several Asterisk servers behind one PbxPort: each command goes to the server its
call is on, each server's events reach the core with the server in their call ids.

One ``AsteriskPbx`` (one AMI connection, one tracker) per server. A call is on the
server it arrived on (``core.call_keys``); a pickup from a phone is on the picker's
server; callbacks are placed on the first server, which rings a member on another
server through its trunk. Losing one server's link touches only that server's calls
and makes its agents offline (``AsteriskPbx._agents_unreachable``); the others keep
routing. A server not reached yet is the same: its agents are offline until its first resync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from ..core.call_keys import split_call_key
from ..core.commands import CallBack, Command, PickUp, RefusePickup
from ..core.model import RoutingConfig
from .asterisk import AsteriskPbx, Feed

log = logging.getLogger(__name__)


class AsteriskServers:
    def __init__(self, servers: Sequence[AsteriskPbx]) -> None:
        if not servers:
            raise ValueError("at least one Asterisk server")
        self.servers = {pbx.server: pbx for pbx in servers}
        self.first = servers[0]

    def __iter__(self) -> Iterator[AsteriskPbx]:
        return iter(self.servers.values())

    def attach(self, feed: Feed) -> None:
        for pbx in self.servers.values():
            pbx.attach(feed)

    def reconfigure(self, config: RoutingConfig) -> None:
        for pbx in self.servers.values():
            pbx.reconfigure(config)

    def close(self) -> None:
        for pbx in self.servers.values():
            pbx.close()

    def server_of(self, call_id: str) -> str:
        """The server a call id (or a phone's pickup request id) belongs to."""
        return split_call_key(call_id, self.first.server)[0]

    def execute(self, command: Command) -> None:
        """The distributor's PbxPort: the command goes to the server concerned."""
        if isinstance(command, CallBack):
            pbx = self.first
        elif isinstance(command, PickUp | RefusePickup) and getattr(command, "via", "phone") != "web":
            pbx = self.servers.get(self.server_of(command.request_id), self.first)
            if isinstance(command, PickUp) and self.server_of(command.call_id) != pbx.server:
                # PickupChan reaches only channels on the picker's own server
                command = RefusePickup(command.request_id, "the call rings on another Asterisk server")
        else:
            call_id = getattr(command, "call_id", None)
            server = self.server_of(call_id) if isinstance(call_id, str) else self.first.server
            found = self.servers.get(server)
            if found is None:
                log.warning("command for an unknown server", extra={"acd_call": call_id, "acd_server": server})
                return
            pbx = found
        pbx.execute(command)
