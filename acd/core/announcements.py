"""What a caller waiting in music hears: their place in line, the estimated wait, the
group's own periodic message (app_queue's announce-position, announce-holdtime and
periodic-announce, decided by acd instead of Queue()).

Pure. The router asks ``due_parts`` when a call's announcement timer fires and turns
the answer into an ``Announce`` command; the adapter plays it in the dialplan's
``acd-announce`` context (tests/fixtures/ami/16: a Redirect out of music on hold,
prompts, ``Goto`` back to ``acd-hold``).

The estimate is app_queue's (``recalc_holdtime``): an exponential average of the
group's hold times, each answered call's wait from arrival to answer, with weight 1/4
for the newest (``avg = (3 * avg + wait) / 4``; acd starts from the first answered
call's wait where app_queue starts from 0). As app_queue does, the caller hears
that average less the time they have already waited; acd speaks it in whole minutes
rounded up, and under one minute as "less than one minute".
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

# parts due within this many seconds of each other are said in one announcement:
# a second Redirect a moment later would cut the first one short
MERGE_WINDOW_S = 5.0


class Spoken(enum.Enum):
    """What the periodic announcement says."""

    OFF = "off"
    POSITION = "position"  # "there are 3 calls waiting" / "you are now first in line"
    POSITION_AND_WAIT = "position_and_wait"  # ... and "the estimated hold time is 2 minutes"


@dataclass(frozen=True, slots=True)
class AnnouncePolicy:
    say: Spoken = Spoken.OFF
    every_s: float = 60.0  # between two position announcements; the first comes as waiting starts
    message: str = ""  # a sound the group plays to waiting callers (app_queue's periodic-announce)
    message_every_s: float = 60.0  # between two messages; the first after this long of waiting

    @property
    def active(self) -> bool:
        return self.say is not Spoken.OFF or bool(self.message)


@dataclass(slots=True)
class AnnounceSchedule:
    """When a waiting call's next position announcement and next message fall due."""

    position_at: float | None
    message_at: float | None

    @classmethod
    def starting(cls, policy: AnnouncePolicy, now: float) -> AnnounceSchedule:
        return cls(now if policy.say is not Spoken.OFF else None,
                   now + policy.message_every_s if policy.message else None)

    def next_at(self) -> float | None:
        times = [t for t in (self.position_at, self.message_at) if t is not None]
        return min(times) if times else None


@dataclass(frozen=True, slots=True)
class Parts:
    position: bool
    message: bool


def due_parts(schedule: AnnounceSchedule, policy: AnnouncePolicy, now: float) -> Parts:
    """The parts due now (or within the merge window), and the schedule moved on past them."""
    horizon = now + MERGE_WINDOW_S
    position = schedule.position_at is not None and schedule.position_at <= horizon
    message = schedule.message_at is not None and schedule.message_at <= horizon
    if position:
        schedule.position_at = now + policy.every_s
    if message:
        schedule.message_at = now + policy.message_every_s
    return Parts(position, message)


def skip_due(schedule: AnnounceSchedule, policy: AnnouncePolicy, now: float) -> None:
    """The caller is being rung when a part falls due: nothing is said, and each part
    due comes again one period later (an announcement never holds up a ring)."""
    if schedule.position_at is not None and schedule.position_at <= now + 1e-9:
        schedule.position_at = now + policy.every_s
    if schedule.message_at is not None and schedule.message_at <= now + 1e-9:
        schedule.message_at = now + policy.message_every_s


def next_hold_average(average: float | None, waited_s: float) -> float:
    """app_queue's recalc_holdtime: the first answer sets it, then (3 * old + new) / 4."""
    waited_s = max(0.0, waited_s)
    return waited_s if average is None else (3 * average + waited_s) / 4


def wait_minutes(average: float | None, waited_s: float) -> int | None:
    """The estimated wait still ahead, in whole minutes rounded up; 0 means "less than
    one minute"; None when the group has no answered call to go by yet."""
    if average is None:
        return None
    left = average - waited_s
    return 0 if left < 60 else math.ceil(left / 60)
