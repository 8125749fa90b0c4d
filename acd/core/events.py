"""Events the routing core is fed. Small frozen values; the adapters build them.

Identifiers: ``call_id`` is the caller channel's Asterisk Uniqueid (stable for the
call's life, transcripts README 3), with its server when acd follows several
(``call_keys``); ``agent_id`` is the id from the configuration.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DeviceState(enum.Enum):
    """An agent phone's state as Asterisk reports it (DeviceStateChange ``State``)."""

    NOT_INUSE = "NOT_INUSE"
    INUSE = "INUSE"
    BUSY = "BUSY"
    RINGING = "RINGING"
    RINGINUSE = "RINGINUSE"
    ONHOLD = "ONHOLD"
    UNAVAILABLE = "UNAVAILABLE"
    INVALID = "INVALID"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, text: str) -> DeviceState:
        known = _DEVICE_STATES.get(text)  # as Asterisk writes them: one look-up, not Enum's call
        if known is not None:
            return known
        try:
            return cls(text.strip().upper().replace(" ", "_"))
        except ValueError:
            return cls.UNKNOWN


_DEVICE_STATES = {state.value: state for state in DeviceState}


class FailReason(enum.Enum):
    """Why one member's leg of a ring attempt ended without an answer."""

    BUSY = "busy"
    UNAVAILABLE = "unavailable"  # no usable contact: CHANUNAVAIL, no DialBegin (transcripts 13)
    NO_ANSWER = "no_answer"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @classmethod
    def from_dial_status(cls, status: str) -> FailReason:
        """Asterisk's DIALSTATUS / DialEnd DialStatus (transcripts README 4: NOANSWER,
        BUSY, CANCEL seen; CHANUNAVAIL in 13); anything else counts as no answer."""
        return _DIAL_STATUS.get(status.strip().upper(), cls.NO_ANSWER)


_DIAL_STATUS = {
    "BUSY": FailReason.BUSY,
    "NOANSWER": FailReason.NO_ANSWER,
    "CANCEL": FailReason.CANCELLED,
    "CHANUNAVAIL": FailReason.UNAVAILABLE,
    "CONGESTION": FailReason.UNAVAILABLE,
}


@dataclass(frozen=True, slots=True)
class CallArrived:
    call_id: str
    did: str
    caller_number: str
    caller_name: str = ""
    owner_agent: str | None = None  # the CRM's responsible person for this caller, if known
    server: str = ""  # the Asterisk server the call arrived on ("": the only one)


@dataclass(frozen=True, slots=True)
class MemberRinging:
    """The member's phone really rings (DialState RINGING or the leg's Newstate Ringing)."""

    call_id: str
    attempt: int
    agent_id: str

    def __init__(self, call_id: str, attempt: int, agent_id: str) -> None:  # see commands.Record
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "attempt", attempt)
        object.__setattr__(self, "agent_id", agent_id)


@dataclass(frozen=True, slots=True)
class MemberFailed:
    """One member's leg ended without answering (DialEnd BUSY/NOANSWER/CANCEL...)."""

    call_id: str
    attempt: int
    agent_id: str
    reason: FailReason

    def __init__(self, call_id: str, attempt: int, agent_id: str, reason: FailReason) -> None:  # see commands.Record
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "attempt", attempt)
        object.__setattr__(self, "agent_id", agent_id)
        object.__setattr__(self, "reason", reason)


@dataclass(frozen=True, slots=True)
class MemberAnswered:
    """The call was answered by ``agent_id``; ``picked_up_from`` names the member whose
    ringing phone a colleague took over (DialEnd ANSWER names the picker, transcripts 09).
    ``attempt`` is None for a pickup of a call rung before a restart."""

    call_id: str
    attempt: int | None
    agent_id: str
    picked_up_from: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    """The Dial of a ring attempt returned and the caller is back in hold (ACDDialResult).
    ``dial_status`` is Asterisk's DIALSTATUS: NOANSWER, BUSY, CHANUNAVAIL, CONGESTION..."""

    call_id: str
    attempt: int
    dial_status: str


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    """The caller's channel is gone. ``by_caller`` is True when the caller's side
    hung up (HangupRequest from the far end), False for an agent/internal hang-up."""

    call_id: str
    by_caller: bool = True


@dataclass(frozen=True, slots=True)
class AgentLegHungUp:
    """The agent connected to the call hung up (the caller may live on: transfer)."""

    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    key: str


@dataclass(frozen=True, slots=True)
class DeviceStateChanged:
    agent_id: str
    state: DeviceState

    def __init__(self, agent_id: str, state: DeviceState) -> None:  # see commands.Record
        object.__setattr__(self, "agent_id", agent_id)
        object.__setattr__(self, "state", state)


@dataclass(frozen=True, slots=True)
class AgentWorkChanged:
    """Clock in/out, a break, a shift starting or ending: may the agent get work?"""

    agent_id: str
    working: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OtherChannelsLoadChanged:
    """What the agent holds in the other channels now (from the conversation router):
    open chats (offers included), open e-mails and forms. See ``capacity``."""

    agent_id: str
    chats: int = 0
    emails: int = 0
    forms: int = 0


@dataclass(frozen=True, slots=True)
class PickupRequested:
    """A colleague dialled the pickup code. ``request_id`` is opaque to the core (the
    adapter's handle on the colleague's channel); ``target_agent`` is set for a
    directed pickup (code + extension)."""

    request_id: str
    picker_agent: str
    target_agent: str | None = None
    via: str = "phone"  # "phone": the pickup code; "web": the Intercept button (ring the picker)
    call_id: str | None = None  # the Intercept button names the call clicked: that one or none


@dataclass(frozen=True, slots=True)
class PauseRequested:
    """An agent dialled the pause code (``paused``) or the resume code from their phone.
    ``reason_code`` is what followed the pause code: the number of a pause reason."""

    agent_id: str
    paused: bool
    reason_code: str = ""


@dataclass(frozen=True, slots=True)
class TransferredByHand:
    """The call now talks to ``to_agent`` after a transfer made from a phone."""

    call_id: str
    to_agent: str
    kind: str  # "blind" | "attended"


@dataclass(frozen=True, slots=True)
class TransferFailed:
    """A transfer target did not answer; the caller is back in hold (ACDTransferFailed)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class LiveCall:
    """One caller found on the PBX after a (re)connect."""

    call_id: str
    did: str
    caller_number: str
    state: str  # "waiting" | "ringing" | "connected" | "elsewhere"
    agents: tuple[str, ...] = ()  # ringing or connected agents
    caller_name: str = ""
    attempt: int = 0  # the ring attempt in progress (the caller's Exten in acd-dial)
    arrived_at: float | None = None  # known from the history after an acd restart
    ringing_s: float = 0.0  # "ringing": how long its phones have rung already (0: not known)


@dataclass(frozen=True, slots=True)
class Resynced:
    """The adapter rebuilt its view of the PBX: these are all the callers alive now.
    A call the core knows and that is not listed ended while we could not see it."""

    calls: tuple[LiveCall, ...]
    # when the PBX listed them: their ages (LiveCall.ringing_s) are as of then, and the
    # ACD may apply the list noticeably later (device states, the history, a busy loop)
    listed_at: float | None = None
    # callback requests with a channel on the PBX now (an attempt still under way);
    # None: this server places no callbacks, whatever they are doing goes on
    callbacks: tuple[str, ...] | None = ()
    # the Asterisk server listed: only its calls are concerned, the other servers' calls
    # go on untouched (None: every call, the only server)
    server: str | None = None


@dataclass(frozen=True, slots=True)
class DigitPressed:
    """The caller pressed a key (DTMFEnd, transcripts 14: one event per key, no string)."""

    call_id: str
    digit: str


@dataclass(frozen=True, slots=True)
class CallbackNumberEntered:
    """The caller typed a number for the callback ([acd-callback-number]'s UserEvent):
    ``confirmed`` when they pressed the confirmation key after hearing it read back."""

    call_id: str
    number: str
    confirmed: bool


@dataclass(frozen=True, slots=True)
class CallbackAgentAnswered:
    """The member answered the callback's Originate; the customer is being dialled."""

    request_id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class CallbackAgentFailed:
    """The member's phone did not take the callback (busy, no answer, unreachable):
    the customer was not called (transcripts 15 part 3, the ``failed`` extension)."""

    request_id: str
    attempt: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CallbackEnded:
    """The customer's Dial of a callback attempt returned: ``dial_status`` is Asterisk's
    DIALSTATUS (ANSWER after the talk, NOANSWER, BUSY, CHANUNAVAIL...)."""

    request_id: str
    attempt: int
    dial_status: str


@dataclass(frozen=True, slots=True)
class CallbackCancelled:
    request_id: str
    by: str = ""


@dataclass(frozen=True, slots=True)
class CallbackMoved:
    """A supervisor moves a waiting request to ``position`` (1 = first) in its group's line."""

    request_id: str
    position: int
    by: str = ""


@dataclass(frozen=True, slots=True)
class StoredCallback:
    """A callback request as the store kept it (restored after an acd restart)."""

    request_id: str
    group_id: str
    number: str
    place: float
    requested_at: float
    attempts: int = 0  # calls to the customer made so far
    tries: int = 0  # Originates sent so far (numbers the attempts)
    state: str = "waiting"  # CallbackState's value: calling/connecting = an attempt was out
    counted: bool = False  # that attempt is already in ``attempts``
    not_before: float = 0.0
    outcomes: tuple[str, ...] = ()
    did: str = ""


@dataclass(frozen=True, slots=True)
class CallbacksRestored:
    """At start, before the first Resynced: the open requests from the store."""

    requests: tuple[StoredCallback, ...]


Event = (
    CallArrived
    | MemberRinging
    | MemberFailed
    | MemberAnswered
    | AttemptEnded
    | CallerHungUp
    | AgentLegHungUp
    | TimerFired
    | DeviceStateChanged
    | AgentWorkChanged
    | OtherChannelsLoadChanged
    | PickupRequested
    | PauseRequested
    | TransferredByHand
    | TransferFailed
    | Resynced
    | DigitPressed
    | CallbackNumberEntered
    | CallbackAgentAnswered
    | CallbackAgentFailed
    | CallbackEnded
    | CallbackCancelled
    | CallbackMoved
    | CallbacksRestored
)
