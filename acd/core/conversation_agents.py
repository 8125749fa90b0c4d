"""Who can take a conversation in which chat queue, kept current as agents change.

"Can take": a configured agent who, when the queue checks availability (default),
works (``work_time``: in hours, clocked in, not on a break) and is online; who is not
on a phone call unless the queue offers during calls; whose open conversations (offers
awaiting a response included, across all queues) are below their limit (the agent's
own capacity when set, else the queue's default); and whose budget across channels
has room (``capacity``).

Each chat queue keeps the set of its members who can take one now, updated for one
agent at a time (O(queues listing the agent)), so "is anybody free in this queue?" is
O(1) and nothing scans every agent or conversation on a hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .capacity import Load, full_because
from .commands import CancelTimer, StartTimer
from .conversation_model import ChannelKind, ChannelQueue, ConversationConfig
from .work_time import WorkTime

SHIFT = "conv-shift"  # timer key prefix: an agent's next work-time change


@dataclass(slots=True)
class AgentState:
    online: bool = True
    working: bool = True
    reason: str = ""  # why not working
    offered: dict[str, None] = field(default_factory=dict)  # conversation ids, in order
    active: dict[str, None] = field(default_factory=dict)
    emails: dict[str, None] = field(default_factory=dict)  # open e-mails assigned to the agent
    forms: dict[str, None] = field(default_factory=dict)  # open form leads
    calls: int = 0  # phone calls the agent talks on (told by telephony)

    @property
    def load(self) -> int:
        return len(self.offered) + len(self.active)

    def across_channels(self) -> Load:
        return Load(self.calls, self.load, len(self.emails), len(self.forms))

    @property
    def available(self) -> bool:
        return self.working and self.online


class Availability:
    def __init__(self, config: ConversationConfig) -> None:
        self.work = WorkTime()
        self.agents: dict[str, AgentState] = {}
        self.able: dict[str, set[str]] = {}  # chat queue -> members who can take a conversation now
        self._member_of: dict[str, list[str]] = {}  # agent -> chat queues listing them
        self._shift_at: dict[str, float] = {}
        self.config = config
        self.reconfigure(config)

    def reconfigure(self, config: ConversationConfig) -> None:
        self.config = config
        self.work.set_schedules({a: s.schedule for a, s in config.agents.items()})
        self._member_of = {}
        for queue in config.queues.values():
            if queue.kind is ChannelKind.CHAT:
                self.able.setdefault(queue.id, set())
                for member in dict.fromkeys(queue.members):
                    self._member_of.setdefault(member, []).append(queue.id)

    def agent(self, agent_id: str) -> AgentState:
        state = self.agents.get(agent_id)
        if state is None:
            state = self.agents[agent_id] = AgentState()
        return state

    def cannot_take(self, agent_id: str, queue: ChannelQueue) -> str | None:
        """None when the agent can take a conversation of ``queue`` now, else why not."""
        settings = self.config.agents.get(agent_id)
        if settings is None:
            return "unknown agent"
        state = self.agent(agent_id)
        if queue.check_availability:
            if not state.working:
                return f"not working ({state.reason})"
            if not state.online:
                return "offline"
        if state.calls and not queue.offer_during_calls:
            return "on a phone call"
        limit = settings.capacity or queue.capacity
        if state.load >= limit:
            return f"full ({state.load} of {limit})"
        if self.config.capacity is None:
            return None
        return full_because(state.across_channels(), self.config.capacity, agent_id)

    def refresh(self, agent_id: str) -> list[tuple[str, bool | None]]:
        """Update the agent's place in each queue's able set. Returns the queues concerned:
        (queue, True) the agent became able, (queue, False) no longer able, (queue, None)
        still able (the queue's line may be worth another look)."""
        changes: list[tuple[str, bool | None]] = []
        for queue_id in self._member_of.get(agent_id, ()):
            able = self.able[queue_id]
            now_able = self.cannot_take(agent_id, self.config.queues[queue_id]) is None
            if now_able and agent_id not in able:
                able.add(agent_id)
                changes.append((queue_id, True))
            elif not now_able and agent_id in able:
                able.discard(agent_id)
                changes.append((queue_id, False))
            elif now_able:
                changes.append((queue_id, None))
        return changes

    def recount(self) -> dict[str, list[str]]:
        """Rebuild every chat queue's able set; returns who became able, per queue."""
        newly: dict[str, list[str]] = {}
        for queue in self.config.queues.values():
            if queue.kind is ChannelKind.CHAT:
                before = self.able.get(queue.id, set())
                able = {m for m in queue.members if self.cannot_take(m, queue) is None}
                newly[queue.id] = [m for m in dict.fromkeys(queue.members) if m in able and m not in before]
                self.able[queue.id] = able
        return newly

    def reread_work(self, agent_id: str, now: float) -> bool:
        """Read the agent's work time at ``now``; True when working flipped."""
        state = self.agent(agent_id)
        reason = self.work.why_not_working(agent_id, now)
        flipped = (reason is None) != state.working
        state.working, state.reason = reason is None, reason or ""
        return flipped

    def shift_timer(self, agent_id: str, now: float) -> StartTimer | CancelTimer | None:
        """The timer command for the agent's next work-time change, if it moved."""
        at, key = self.work.next_change(agent_id, now), f"{SHIFT}|{agent_id}"
        if at == self._shift_at.get(agent_id):
            return None
        if at is None:
            del self._shift_at[agent_id]
            return CancelTimer(key)
        self._shift_at[agent_id] = at
        return StartTimer(key, at - now)

    def shift_timer_fired(self, agent_id: str) -> None:
        self._shift_at.pop(agent_id, None)
