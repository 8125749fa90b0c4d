"""The configuration the routing core works with: agents, queue groups, numbers.

Plain frozen values. ``acd.config`` validates the TOML file and the API input and
builds these; the core trusts them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from .announcements import AnnouncePolicy
from .callback_numbers import AskNumber
from .capacity import Capacity


class Mode(enum.Enum):
    """How a queue group distributes its calls (the reference product's three modes)."""

    STRICT = "strict"  # every call starts at the first member and walks down the list
    EVENLY = "evenly"  # each step offers the call to the least recently offered member
    ALL = "all"  # every available member rings at once; the first to answer takes it


class MissedAction(enum.Enum):
    """What happens when every member was tried and nobody answered."""

    VOICEMAIL = "voicemail"
    FORWARD_MOBILE = "forward_mobile"  # the responsible person's mobile, through the trunk
    FORWARD_NUMBER = "forward_number"  # a given number, through the trunk
    KEEP_WAITING = "keep_waiting"  # music until a member frees up, up to max_wait_s
    FORWARD_GROUP = "forward_group"  # start again in another queue group
    HANGUP = "hangup"  # optionally after a message


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    endpoint: str  # Asterisk device, e.g. "PJSIP/101"
    extension: str = ""  # what colleagues dial (directed pickup, transfers)
    mobile: str = ""
    mailbox: str = ""  # e.g. "101@default"
    server: str = ""  # the Asterisk server the endpoint is registered on ("": the only one)

    @property
    def mailbox_or_default(self) -> str:
        return self.mailbox or f"{self.extension or self.id}@default"


@dataclass(frozen=True, slots=True)
class MissedCallPolicy:
    action: MissedAction = MissedAction.VOICEMAIL
    person: str | None = None  # agent whose mailbox/mobile is used; default: first member
    number: str = ""  # FORWARD_NUMBER
    group: str = ""  # FORWARD_GROUP
    max_wait_s: float = 300.0  # KEEP_WAITING: longest wait, counted from arrival
    after_wait: MissedAction = MissedAction.VOICEMAIL  # KEEP_WAITING: then this
    retry_s: float = 5.0  # KEEP_WAITING: pause before a member is rung again
    forward_ring_s: float = 30.0  # FORWARD_*: how long the outside number may ring
    message: str = ""  # HANGUP: sound played first


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """Offer callers waiting in music a callback that keeps their place (``callbacks``)."""

    digit: str = "1"  # the key that accepts
    offer_sound: str = "acd-callback-offer"  # "press 1 to be called back, you keep your place"
    accepted_sound: str = "auth-thankyou"  # played before the caller is hung up
    attempts: int = 3  # calls to the customer at most (answered, no answer, busy each count)
    spacing_s: float = 300.0  # from the end of an unanswered attempt to the next one
    agent_ring_s: float = 20.0  # how long the member's phone rings (Originate Timeout)
    customer_ring_s: float = 30.0  # how long the customer's phone rings (Dial timeout)
    # the number called back: the caller id, or one the caller enters and confirms
    # (``callback_numbers``): never / when the caller id is unknown / always
    ask_number: AskNumber = AskNumber.NEVER
    number_tries: int = 3  # entries refused or not confirmed before the caller just waits on
    number_pattern: str = ""  # a regular expression an entered number must match in full ("": any)


@dataclass(frozen=True, slots=True)
class QueueGroup:
    id: str
    name: str
    members: tuple[str, ...]  # agent ids, in order: the order matters
    mode: Mode = Mode.STRICT
    rings: int = 3  # rings before passing to the next member
    ring_seconds: float = 5.0  # length of one ring
    missed: MissedCallPolicy = field(default_factory=MissedCallPolicy)
    allow_pickup: bool = False
    wrapup_s: float = 0.0  # after a call, the member gets no new call for this long
    owner_first: bool = True  # a caller the CRM knows rings their responsible person first
    # skip a member whose chats, e-mails and forms fill their capacity budget (``capacity``)
    skip_when_busy_in_other_channels: bool = False
    # auto-pause (``pauses``): a member whose offers rang out this many times in a row is
    # put on a break (0: never), and taken off it after ``auto_resume_s`` (0: by hand only)
    pause_after_missed: int = 0
    auto_resume_s: float = 0.0
    callback: CallbackPolicy | None = None  # None: callers are not offered a callback
    announce: AnnouncePolicy = field(default_factory=AnnouncePolicy)  # what callers waiting in music hear

    @property
    def ring_time_s(self) -> float:
        return self.rings * self.ring_seconds

    @property
    def responsible(self) -> str | None:
        """The person a missed-call action uses (mailbox, mobile)."""
        return self.missed.person or (self.members[0] if self.members else None)


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    agents: Mapping[str, Agent] = field(default_factory=dict)
    groups: Mapping[str, QueueGroup] = field(default_factory=dict)
    numbers: Mapping[str, str] = field(default_factory=dict)  # DID -> group id
    default_group: str | None = None  # for numbers not listed
    # added to a member's ring time to form the Dial ceiling: covers the time from the
    # dial to the first ring; the core normally ends the attempt before the ceiling
    dial_setup_s: float = 10.0
    max_group_hops: int = 5  # FORWARD_GROUP chains longer than this hang up
    capacity: Capacity | None = None  # one budget across channels; None: each channel counts alone
    # the reasons an agent may give for a pause; the phone code *12<n> picks the n-th
    pause_reasons: tuple[str, ...] = ()
    # the stuck-state watchdog (``watchdog``): acd and the phone's device state may disagree
    # this long before acd corrects itself; 0 turns it off
    stuck_after_s: float = 0.0
    # look-up indexes, built once: the AMI adapter maps an endpoint per event
    _by_endpoint: dict[str, Agent] = field(init=False, repr=False, compare=False)
    _by_extension: dict[str, Agent] = field(init=False, repr=False, compare=False)
    # agent id -> the ids of the groups listing them: a device-state change looks only at
    # these, never at every group's members (app_queue's O(queues x members) per change)
    _groups_of: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_endpoint", {a.endpoint.lower(): a for a in self.agents.values()})
        object.__setattr__(self, "_by_extension", {a.extension: a for a in self.agents.values() if a.extension})
        groups_of: dict[str, dict[str, None]] = {}
        for group in self.groups.values():
            for agent_id in group.members:
                groups_of.setdefault(agent_id, {})[group.id] = None
        object.__setattr__(self, "_groups_of", {a: tuple(g) for a, g in groups_of.items()})

    def group_for(self, did: str) -> QueueGroup | None:
        group_id = self.numbers.get(did, self.default_group)
        return self.groups.get(group_id) if group_id else None

    def groups_of(self, agent_id: str) -> tuple[str, ...]:
        """The groups listing the agent as a member, in the settings' order."""
        return self._groups_of.get(agent_id, ())

    def agent_by_endpoint(self, endpoint: str) -> Agent | None:
        return self._by_endpoint.get(endpoint.lower())

    def agent_by_extension(self, extension: str) -> Agent | None:
        return self._by_extension.get(extension)
