"""Device state: what DeviceStateChange, DeviceStateList and PJSIPShowEndpoints report.

A PJSIP device aggregates its channels (Down: NOT_INUSE, Ringing: RINGING, anything
else: INUSE, both: RINGINUSE, held: ONHOLD); a qualified endpoint that is unreachable is
UNAVAILABLE (13). MWI:<mailbox> is INUSE while new messages wait (12).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .channels import RINGING, Channel

if TYPE_CHECKING:
    from .pbx import Endpoint, Mailbox
    from .protocol import Pairs


class DeviceStates:
    channels: dict[str, Channel]
    _on_device: dict[str, list[Channel]]
    endpoints: dict[str, Endpoint]
    mailboxes: dict[str, Mailbox]
    _dev_last: dict[str, str]
    _dev_pending: list[str]
    _dev_scheduled: bool

    def emit(self, name: str, cls: str, pairs: Pairs) -> None:
        raise NotImplementedError

    def device_changed(self, device: str) -> None:
        """Re-evaluate a device's state after the current step (Asterisk's devstate
        taskprocessor does the same, so a Ring->Up answer shows one INUSE, 01)."""
        if device.startswith("Local/"):
            return
        if device not in self._dev_pending:
            self._dev_pending.append(device)
        if not self._dev_scheduled:
            self._dev_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_devices)

    def _flush_devices(self) -> None:
        self._dev_scheduled = False
        pending, self._dev_pending = self._dev_pending, []
        for device in pending:
            state = self.device_state(device)
            if self._dev_last.get(device, "NOT_INUSE") != state:
                self._dev_last[device] = state
                self.emit("DeviceStateChange", "call", [("Device", device), ("State", state)])

    def device_state(self, device: str) -> str:
        if device.startswith("MWI:"):
            box = self.mailboxes.get(device[4:])
            return "INUSE" if box is not None and box.new > 0 else "NOT_INUSE"
        name = device.split("/", 1)[-1]
        ep = self.endpoints.get(name)
        if ep is not None and not ep.usable:
            return "UNAVAILABLE"
        # a device's own channels, as chan_pjsip reads its endpoint's channels, rather than
        # a look at every channel (hundreds at 100 calls/s: bench/first_ring.py)
        states = [c for c in self._on_device.get(device, ()) if not c.hungup]
        if any(c.held for c in states):
            return "ONHOLD"
        busy = any(c.state not in (0, RINGING) for c in states)
        ringing = any(c.state == RINGING for c in states)
        if busy and ringing:
            return "RINGINUSE"
        if busy:
            return "INUSE"
        if ringing:
            return "RINGING"
        return "NOT_INUSE"

    def local_device_event(self, chan: Channel, state: str) -> None:
        # 10: Local devices are published per half and never de-duplicated
        self.emit("DeviceStateChange", "call", [("Device", chan.device), ("State", state)])

    def set_reachable(self, endpoint: Endpoint, reachable: bool, rtt_usec: int = 800) -> None:
        """A qualify result changed (01, 02): PeerStatus, ContactStatus and device state."""
        if endpoint.reachable == reachable:
            return
        endpoint.reachable = reachable
        status = "Reachable" if reachable else "Unreachable"
        if reachable:
            self.device_changed(f"PJSIP/{endpoint.name}")
        self.emit("PeerStatus", "system", [
            ("ChannelType", "PJSIP"), ("Peer", f"PJSIP/{endpoint.name}"), ("PeerStatus", status),
        ])
        self.emit("ContactStatus", "system", [
            ("URI", endpoint.contact), ("ContactStatus", status), ("AOR", endpoint.name),
            ("EndpointName", endpoint.name), ("RoundtripUsec", str(rtt_usec if reachable else 0)),
        ])
        if not reachable:
            self.device_changed(f"PJSIP/{endpoint.name}")
