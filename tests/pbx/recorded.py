"""Replaying a recorded AMI session through the tracker, as the runtime would drive it."""

from __future__ import annotations

from dataclasses import dataclass, field

from acd.core.events import Event
from acd.core.model import Agent, RoutingConfig
from acd.pbx.dialplan import Dialplan
from acd.pbx.tracker import Tracker

from .transcripts import frames

AGENTS = {
    f"agent{n}": Agent(id=f"agent{n}", name=f"Agent {n}", endpoint=f"PJSIP/agent{n}", extension=str(n))
    for n in range(101, 106)
}
CONFIG = RoutingConfig(agents=AGENTS)

# the recording set-up's dialplan (transcripts asterisk-etc/extensions.conf): the
# call-waiting body key is DID, inbound calls start in from-carrier
RECORDING = Dialplan(did_key="DID", inbound_context="from-carrier", dial_context="acd-dial", hold_context="acd-hold")


def agents_of(exten: str) -> tuple[str, ...]:
    """What a recorded ``Redirect acd-dial,<exten>`` rang: agentNNN, vm-agentNNN, ring3."""
    if exten == "ring3":
        return ("agent101", "agent102", "agent103")
    return (exten.removeprefix("vm-"),)


@dataclass
class Replay:
    tracker: Tracker = field(default_factory=lambda: Tracker(CONFIG, RECORDING))
    events: list[Event] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)

    def run(self, name: str, twice: frozenset[str] = frozenset()) -> list[Event]:
        """Feed every received frame (the events named in ``twice`` two times); a sent
        Redirect into acd-dial is the runtime executing a Ring command, so it tells the
        tracker (note_attempt) as it would."""
        for frame in frames(name):
            msg = frame.message
            if frame.sent:
                if msg.get("Action") == "Redirect" and msg.get("Context") == "acd-dial":
                    call_id = self.tracker.picture.by_name.get(msg["Channel"], "")
                    self.attempts[call_id] = self.attempts.get(call_id, 0) + 1
                    self.tracker.note_attempt(call_id, self.attempts[call_id], agents_of(msg["Exten"]))
                continue
            self.events.extend(self.tracker.handle(msg))
            if msg.get("Event") in twice:
                self.events.extend(self.tracker.handle(msg))
        return self.events

    def of(self, *kinds: type) -> list[Event]:
        return [e for e in self.events if isinstance(e, kinds)]
