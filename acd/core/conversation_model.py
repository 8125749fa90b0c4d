"""Vocabulary of the conversation router: its configuration, events in, commands out.

Open channels (messenger and website chats), mailboxes and CRM web forms are
"channel queues". Identifiers: ``conversation_id`` / ``item_id`` come from the channel
adapter (chat session, e-mail Message-ID, form submission id); ``agent_id`` is the id
from the configuration; ``client`` is the contact identity the CRM matches on (chat
id, e-mail address, phone), carried through to the CRM commands.

All values are frozen; the adapters build the events and carry out the commands. Timers
reuse the telephony core's ``StartTimer``/``CancelTimer``/``TimerFired``, so one timer
adapter serves both routers (the keys of this router start with ``conv-``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .capacity import Capacity
from .commands import CancelTimer, StartTimer
from .events import TimerFired
from .model import Mode
from .work_time import WorkSchedule

IDLE_MIN_S = 60.0  # Bitrix: "idle time before passing to the next agent", 1 minute ...
IDLE_MAX_S = 12 * 3600.0  # ... to 12 hours, or never (None)
CAPACITY_MAX = 1000  # simultaneous open conversations per agent: 1..1000


class ChannelKind(enum.Enum):
    CHAT = "chat"  # an open channel: Telegram, WhatsApp, website chat...
    EMAIL = "email"  # a mailbox: known clients to their owner, new senders become leads
    FORM = "form"  # a CRM web form: every submission becomes a lead


# ---------------------------------------------------------------------- configuration
@dataclass(frozen=True, slots=True)
class ChannelQueue:
    id: str
    name: str
    members: tuple[str, ...]  # agent ids, in order: the order matters
    kind: ChannelKind = ChannelKind.CHAT
    mode: Mode = Mode.STRICT  # chats only; mailboxes and forms assign in turn
    idle_s: float | None = 180.0  # chats: pass to the next agent after this; None: never
    capacity: int = CAPACITY_MAX  # chats: default limit of open conversations per agent
    check_availability: bool = True  # skip agents not working (and, for chats, offline)
    owner_first: bool = True  # hand a recognised client to the responsible person
    # chats: the CRM is asked who the client is (off: no look-up, the client is unknown)
    check_client: bool = True
    # chats: a client's phone or e-mail written here finds the client known from other
    # channels; off: only this channel's own messenger id is looked up
    chat_tracking: bool = True
    owner_follows_transfer: bool = True  # chats: a hand transfer makes the new agent the CRM owner
    hours: WorkSchedule | None = None  # chats: the channel's working hours; None: always open
    auto_reply: str = ""  # chats: told to a customer who writes outside the hours
    waiting_message: str = ""  # chats: told to a customer who writes inside them, while they wait
    offer_during_calls: bool = False  # chats: offer to agents on a phone call too (``capacity``)

    def __post_init__(self) -> None:
        if self.idle_s is not None and not IDLE_MIN_S <= self.idle_s <= IDLE_MAX_S:
            raise ValueError(f"queue {self.id}: idle time {self.idle_s} s is outside 1 minute .. 12 hours")
        if not 1 <= self.capacity <= CAPACITY_MAX:
            raise ValueError(f"queue {self.id}: capacity {self.capacity} is outside 1..{CAPACITY_MAX}")


@dataclass(frozen=True, slots=True)
class AgentSettings:
    capacity: int | None = None  # overrides the queue's default limit when set
    schedule: WorkSchedule | None = None  # None: work time not tracked (always working)

    def __post_init__(self) -> None:
        if self.capacity is not None and not 1 <= self.capacity <= CAPACITY_MAX:
            raise ValueError(f"capacity {self.capacity} is outside 1..{CAPACITY_MAX}")


@dataclass(frozen=True, slots=True)
class ConversationConfig:
    agents: Mapping[str, AgentSettings] = field(default_factory=dict)  # every agent that may get work
    queues: Mapping[str, ChannelQueue] = field(default_factory=dict)
    capacity: Capacity | None = None  # one budget across channels; None: each channel counts alone


# ---------------------------------------------------------------------- events
@dataclass(frozen=True, slots=True)
class ConversationArrived:
    """A client opened a conversation in an open channel. ``owner_agent`` is the client's
    responsible person when the CRM recognised the client (resolved outside the core)."""

    conversation_id: str
    queue_id: str
    client: str
    owner_agent: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationAccepted:
    conversation_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class ConversationAnswered:
    """The agent wrote to the client (a first answer also accepts an offer)."""

    conversation_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class ConversationRejected:
    """The agent skipped the conversation: it goes to the next agent."""

    conversation_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class ConversationClosed:
    conversation_id: str
    by: str = "agent"  # "agent" | "client" | "supervisor" | "system"


@dataclass(frozen=True, slots=True)
class ConversationTransferred:
    """A transfer by hand to ``to_agent`` or to ``to_queue`` (exactly one is set);
    ``by`` is the agent or supervisor who did it."""

    conversation_id: str
    by: str | None = None
    to_agent: str | None = None
    to_queue: str | None = None


@dataclass(frozen=True, slots=True)
class EmailReceived:
    item_id: str
    queue_id: str
    sender: str
    owner_agent: str | None = None  # the sender's responsible person, if a known client


@dataclass(frozen=True, slots=True)
class FormSubmitted:
    item_id: str
    queue_id: str
    client: str


@dataclass(frozen=True, slots=True)
class ItemClosed:
    """An e-mail or form submission is done: it no longer draws on its agent's budget."""

    item_id: str


@dataclass(frozen=True, slots=True)
class PhoneCallsChanged:
    """How many phone calls the agent talks on now (from the telephony router)."""

    agent_id: str
    calls: int


@dataclass(frozen=True, slots=True)
class AgentPresenceChanged:
    """The agent's messenger/web session: online or offline."""

    agent_id: str
    online: bool


@dataclass(frozen=True, slots=True)
class ClockedIn:
    agent_id: str


@dataclass(frozen=True, slots=True)
class ClockedOut:
    agent_id: str


@dataclass(frozen=True, slots=True)
class BreakStarted:
    agent_id: str
    reason: str = ""  # the agent's words ("lunch", "missed 3 calls"): the work state says them


@dataclass(frozen=True, slots=True)
class BreakEnded:
    agent_id: str


@dataclass(frozen=True, slots=True)
class BreakScheduled:
    """A one-off break planned ahead (epoch seconds); recurring ones are in the schedule."""

    agent_id: str
    starts_at: float
    ends_at: float


ConversationEvent = (
    ConversationArrived
    | ConversationAccepted
    | ConversationAnswered
    | ConversationRejected
    | ConversationClosed
    | ConversationTransferred
    | EmailReceived
    | FormSubmitted
    | ItemClosed
    | PhoneCallsChanged
    | AgentPresenceChanged
    | ClockedIn
    | ClockedOut
    | BreakStarted
    | BreakEnded
    | BreakScheduled
    | TimerFired
)


# ---------------------------------------------------------------------- commands
@dataclass(frozen=True, slots=True)
class Offer:
    """Show the conversation to these agents; they should accept or answer within
    ``idle_s`` (None: no limit). In "to all" mode several agents get the same offer."""

    conversation_id: str
    queue_id: str
    agent_ids: tuple[str, ...]
    idle_s: float | None


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Take the conversation away from these agents (offer withdrawn, or handed on)."""

    conversation_id: str
    agent_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class AssignItem:
    """An e-mail or form submission now belongs to ``agent_id``."""

    item_id: str
    queue_id: str
    agent_id: str | None
    rule: str


@dataclass(frozen=True, slots=True)
class CreateLead:
    """The CRM layer creates a lead for ``client`` with ``owner_agent`` responsible."""

    item_id: str
    queue_id: str
    source: ChannelKind
    client: str
    owner_agent: str | None


@dataclass(frozen=True, slots=True)
class ReportConversationTransfer:
    """A conversation was handed to a colleague by hand: the CRM owner should follow."""

    conversation_id: str
    client: str
    from_agent: str | None
    to_agent: str
    by: str | None


@dataclass(frozen=True, slots=True)
class TellCustomer:
    """Send ``text`` to the customer of the conversation (the channel's connector
    delivers it). ``why``: "outside_hours" (the auto-reply) or "waiting" (the waiting
    message)."""

    conversation_id: str
    text: str
    why: str


@dataclass(frozen=True, slots=True)
class AlertSupervisors:
    """``kind`` is "nobody_available" (conversations wait and no member can take one)
    or "recovered"; emitted once per transition, not per conversation."""

    queue_id: str
    at: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WorkStateChanged:
    """The core's view of whether an agent may get work changed (for live views, logs)."""

    agent_id: str
    at: float
    working: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ReportChannelLoad:
    """What the agent holds in these channels changed: telephony wants to know
    (``capacity``: a group may skip agents whose other channels fill their budget)."""

    agent_id: str
    chats: int
    emails: int
    forms: int


@dataclass(frozen=True, slots=True)
class TimelineRecord:
    """A line of a conversation's (or e-mail's, or submission's) history."""

    item_id: str
    at: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


ConversationCommand = (
    Offer
    | Withdraw
    | AssignItem
    | CreateLead
    | ReportConversationTransfer
    | TellCustomer
    | AlertSupervisors
    | WorkStateChanged
    | ReportChannelLoad
    | TimelineRecord
    | StartTimer
    | CancelTimer
)


# ---------------------------------------------------------------------- state
class Phase(enum.Enum):
    WAITING = "waiting"  # in its queue's line, nobody has it
    OFFERED = "offered"  # shown to agent(s), waiting for a response
    ACTIVE = "active"  # accepted or answered by ``agent``


@dataclass(slots=True)
class Conversation:
    id: str
    queue_id: str
    client: str
    owner: str | None
    arrived_at: float
    phase: Phase = Phase.WAITING
    offered: dict[str, None] = field(default_factory=dict)  # agents holding the offer, in order
    agent: str | None = None  # ACTIVE: who has it
    tried: set[str] = field(default_factory=set)  # offered in the current pass over the queue
    passes: int = 0
    owner_offered: bool = False
    to_all: bool = False  # the current offer is a "to all" round
    attempt: int = 0  # offers made; part of the idle timer's key
    deadline: float | None = None  # when the current offer's idle time runs out
    answered: bool = False
    wait_token: int = 0  # matches the queue line's entry while WAITING
    outside_hours: bool = False  # arrived outside its channel's working hours

    def to_data(self) -> dict[str, Any]:
        return {
            "id": self.id, "queue_id": self.queue_id, "client": self.client, "owner": self.owner,
            "arrived_at": self.arrived_at, "phase": self.phase.value, "offered": list(self.offered),
            "agent": self.agent, "tried": sorted(self.tried), "passes": self.passes,
            "owner_offered": self.owner_offered, "to_all": self.to_all, "attempt": self.attempt,
            "deadline": self.deadline, "answered": self.answered, "outside_hours": self.outside_hours,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Conversation:
        return cls(
            id=data["id"], queue_id=data["queue_id"], client=data["client"], owner=data["owner"],
            arrived_at=float(data["arrived_at"]), phase=Phase(data["phase"]),
            offered=dict.fromkeys(data["offered"]), agent=data["agent"], tried=set(data["tried"]),
            passes=int(data["passes"]), owner_offered=bool(data["owner_offered"]), to_all=bool(data["to_all"]),
            attempt=int(data["attempt"]), deadline=None if data["deadline"] is None else float(data["deadline"]),
            answered=bool(data["answered"]), outside_hours=bool(data.get("outside_hours", False)),
        )
