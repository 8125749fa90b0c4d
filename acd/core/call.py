"""One inbound call as the core follows it."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field

from .announcements import AnnounceSchedule
from .model import QueueGroup

_taken_in = itertools.count()


class Phase(enum.Enum):
    RINGING = "ringing"  # a ring attempt is under way
    WAITING = "waiting"  # in music, waiting for a member to free up (keep waiting)
    CONNECTED = "connected"  # talking to an agent (or a forwarded number)
    FORWARDING = "forwarding"  # an outside number rings
    VOICEMAIL = "voicemail"
    HANGING_UP = "hanging_up"
    ELSEWHERE = "elsewhere"  # found after a reconnect somewhere the ACD does not steer


@dataclass(slots=True)
class Call:
    id: str
    did: str
    caller_number: str
    caller_name: str
    group: QueueGroup | None  # the group as it was when the call entered it
    arrived_at: float
    phase: Phase = Phase.RINGING
    attempt: int = 0
    pending: set[str] = field(default_factory=set)  # members of this attempt not failed yet
    ringing: set[str] = field(default_factory=set)  # members whose phone really rings
    ring_started: float | None = None
    tried: set[str] = field(default_factory=set)  # offered or skipped in this pass
    offered: list[str] = field(default_factory=list)  # everyone rung, over the whole call
    offer_ended: dict[str, float] = field(default_factory=dict)  # member -> when their last offer ended unanswered
    skips_logged: dict[str, str] = field(default_factory=dict)  # member -> the skip reason last logged
    passes: int = 0  # completed passes over the group (keep waiting re-offers)
    in_hold: bool = True  # the caller hears music in acd-hold
    agent: str | None = None  # who the caller talks to
    last_agent: str | None = None  # who had the call before the current agent left
    forward_number: str = ""
    answered_at: float | None = None
    missed_recorded: bool = False
    wait_started: bool = False  # keep waiting: the max-wait timer runs
    groups_visited: list[str] = field(default_factory=list)  # the first group, then every forward
    owner: str | None = None  # the CRM's responsible person: rung first, once
    owner_tried: bool = False
    announce: AnnounceSchedule | None = None  # while waiting: when the next announcement falls due
    # the caller types the number for a callback ([acd-callback-number]): tries so far, and
    # until when no announcement may cut the entry short
    number_tries: int = 0
    number_entry_until: float = 0.0
    # the order the router took calls in: callers who arrived at the same moment are served in it
    seq: int = field(default_factory=lambda: next(_taken_in))
    server: str = ""  # the Asterisk server the caller is on ("": the only one)
    # keys of the timers started for the call that may still run (neither cancelled nor
    # fired): only those are cancelled, not every timer the call might have
    timers: set[str] = field(default_factory=set)

    @property
    def group_id(self) -> str:
        return self.group.id if self.group else ""

    @property
    def offered_once(self) -> list[str]:
        """Everyone rung for this call, each named once, in the order first rung."""
        return list(dict.fromkeys(self.offered))
