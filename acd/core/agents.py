"""What the core knows about each agent's availability, and why one is skipped."""

from __future__ import annotations

from dataclasses import dataclass, field

from .capacity import NO_LOAD, Load
from .events import DeviceState

# Device states that mean "the phone is reachable and free" (DeviceStateChange State).
# UNKNOWN counts as free: a phone with a static, unqualified contact may report it,
# and skipping such a phone would starve it; an unreachable one fails the Dial at once.
# (tuples: ``in`` compares by identity, where a set would hash the enum member in Python,
# which is a good part of a member's check when a routing decision walks 900 members)
_FREE = (DeviceState.NOT_INUSE, DeviceState.UNKNOWN)
_OFFLINE = (DeviceState.UNAVAILABLE, DeviceState.INVALID)


@dataclass(slots=True)
class AgentStatus:
    device: DeviceState = DeviceState.UNKNOWN
    working: bool = True
    work_reason: str = ""
    calls: set[str] = field(default_factory=set)  # ACD calls the agent talks on
    ringing: set[str] = field(default_factory=set)  # ACD calls ringing at the agent
    wrapup_until: float = 0.0
    other_channels: Load = NO_LOAD  # chats, e-mails and forms held (``capacity``)


class AgentBook:
    """Availability of every agent. Reasons are the words of the decision log."""

    def __init__(self) -> None:
        self._status: dict[str, AgentStatus] = {}
        # agents whose status was handed out (to be read or changed) since ``take_looked_at``:
        # every change goes through ``status``, so an agent missing here kept its status
        self._looked_at: set[str] = set()

    def status(self, agent_id: str) -> AgentStatus:
        self._looked_at.add(agent_id)
        status = self._status.get(agent_id)
        if status is None:
            status = self._status[agent_id] = AgentStatus()
        return status

    def take_looked_at(self) -> set[str]:
        """The agents whose status may have changed since the last call (a superset)."""
        looked_at, self._looked_at = self._looked_at, set()
        return looked_at

    def all(self) -> dict[str, AgentStatus]:
        return self._status

    def unavailable_because(self, agent_id: str, now: float, for_call: str | None = None) -> str | None:
        """None when the agent may be rung now, else the reason they are skipped."""
        status = self.status(agent_id)
        if not status.working:
            return f"not working ({status.work_reason})" if status.work_reason else "not working"
        if status.device in _OFFLINE:
            return "offline"
        if status.calls:
            return "on a call"
        if len(status.ringing) > (for_call in status.ringing):  # ringing for a call but this one
            return "ringing for another call"
        if status.wrapup_until > now:
            return "wrap-up"
        if status.device not in _FREE and not (for_call and for_call in status.ringing):
            # in use or ringing for a call the ACD did not place (a direct call)
            return "busy"
        return None

    def is_available(self, agent_id: str, now: float) -> bool:
        return self.unavailable_because(agent_id, now) is None
