"""Commands the routing core returns. The adapters carry them out (AMI, timers, store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Ring:
    """Ring ``agent_ids`` together for ``ceiling_s`` at most (the core ends the attempt
    itself after the configured rings; the ceiling guards against a silent ACD)."""

    call_id: str
    attempt: int
    agent_ids: tuple[str, ...]
    ceiling_s: float


@dataclass(frozen=True, slots=True)
class Forward:
    """Ring an outside number through the trunk, as ring attempt ``attempt``."""

    call_id: str
    attempt: int
    number: str
    ceiling_s: float


@dataclass(frozen=True, slots=True)
class Hold:
    """Stop whatever rings for the call and put the caller back into music."""

    call_id: str


@dataclass(frozen=True, slots=True)
class Announce:
    """Play an announcement to a caller waiting in music, then back to the music.
    ``position``: their place in line (1: "you are now first in line"), None: not said;
    ``wait_minutes``: the estimated wait, 0 meaning "less than one minute", None: not
    said; ``message``: a sound to play after them, "" for none."""

    call_id: str
    position: int | None
    wait_minutes: int | None
    message: str = ""


@dataclass(frozen=True, slots=True)
class SendToVoicemail:
    call_id: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class HangUp:
    call_id: str
    message: str = ""  # sound to play first, may be empty


@dataclass(frozen=True, slots=True)
class StartTimer:
    key: str
    delay_s: float

    def __init__(self, key: str, delay_s: float) -> None:  # written out: see Record
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "delay_s", delay_s)


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: str

    def __init__(self, key: str) -> None:  # written out: see Record
        object.__setattr__(self, "key", key)


@dataclass(frozen=True, slots=True)
class PickUp:
    """Let the colleague behind ``request_id`` take the call ringing at ``from_agent``."""

    request_id: str
    call_id: str
    from_agent: str
    by_agent: str = ""
    via: str = "phone"  # "web": ring by_agent's phone, which takes the call when answered


@dataclass(frozen=True, slots=True)
class RefusePickup:
    request_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Record:
    """A line of a call's history and decision log ("why did my phone not ring?")."""

    call_id: str
    at: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)

    def __init__(self, call_id: str, at: float, kind: str, detail: dict[str, Any] | None = None) -> None:
        # Written out, not left to @dataclass (the commonest commands and events do the
        # same; tests/core/test_value_classes.py holds them to their fields): compiled
        # (acd/hot_path.py), these stores take ~20 ns, while the __init__ @dataclass
        # makes for a frozen class runs as Python, ~400 ns. Most AMI events make one.
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "detail", {} if detail is None else detail)

    def __reduce__(self) -> tuple[type[Record], tuple[str, float, str, dict[str, Any]]]:
        # pickled by its fields to the history's child process (acd/store/history_process.py):
        # compiled (acd/hot_path.py), a frozen class cannot be unpickled field by field
        return Record, (self.call_id, self.at, self.kind, self.detail)


@dataclass(frozen=True, slots=True)
class ReportManualTransfer:
    """An agent handed the call to a colleague by hand: the CRM owner should follow."""

    call_id: str
    caller_number: str
    from_agent: str | None
    to_agent: str
    kind: str


@dataclass(frozen=True, slots=True)
class ReportPhoneCalls:
    """The number of calls the agent talks on changed: the other channels' router wants
    to know (``capacity``: an agent on a phone call gets no new chat by default)."""

    agent_id: str
    calls: int


@dataclass(frozen=True, slots=True)
class PauseAgent:
    """Put the agent on a break (the pause every channel obeys) with ``reason``."""

    agent_id: str
    reason: str
    by: str  # "phone": the agent's pause code; "acd": auto-pause


@dataclass(frozen=True, slots=True)
class ResumeAgent:
    """End the agent's break."""

    agent_id: str
    by: str  # "phone" or "acd" (auto-resume)


@dataclass(frozen=True, slots=True)
class AlertSupervisors:
    """Something a supervisor should look at (an agent auto-paused), for ``group_id``."""

    group_id: str
    at: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OfferCallback:
    """Play the callback offer to a caller waiting in music, then back to music."""

    call_id: str
    sound: str


@dataclass(frozen=True, slots=True)
class AskCallbackNumber:
    """Let a caller waiting in music type the number to be called back on, hear it read
    back and confirm it ([acd-callback-number]); then back to music."""

    call_id: str
    max_digits: int


@dataclass(frozen=True, slots=True)
class CallBack:
    """Ring the member; when they answer, call the customer through the trunk and
    connect them (AMI Originate into the callback context)."""

    request_id: str
    attempt: int
    agent_id: str
    number: str
    agent_ring_s: float
    customer_ring_s: float
    presented: str = ""  # the number the customer sees: the one they called (the DID)


Command = (
    Ring
    | Forward
    | Hold
    | Announce
    | SendToVoicemail
    | HangUp
    | StartTimer
    | CancelTimer
    | PickUp
    | RefusePickup
    | Record
    | ReportManualTransfer
    | ReportPhoneCalls
    | PauseAgent
    | ResumeAgent
    | AlertSupervisors
    | OfferCallback
    | AskCallbackNumber
    | CallBack
)
