"""Today's figures of every queue group and chat queue, folded from the history's records.

Pure: fed the same lines the history holds (a call's ``Record``s, a conversation's
timeline records), in order, with the day's start; no clock, no database. The live
service feeds it every record as the router emits it; after a restart it is fed the
day's history again, so the figures are rebuilt, not reset.

Definitions (README, "Wallboard"), per queue group, for calls that arrived today:

- offered: the call reached the group (a missed-call forward to another group offers
  it to that group too: each group counts its own part, a "stint");
- answered: a member picked up (a colleague's pickup counts for the group); a forward
  answered outside is not an answer of the group;
- abandoned: the caller hung up before anyone answered, while waiting or ringing
  (while a missed-call forward rang outside, the call is missed instead);
- missed: nobody answered and the group's missed-call processing ran (voicemail,
  forward, hang up; keep-waiting counts once the caller is sent on or leaves unanswered);
- wait: from arrival at the group to the answer; ASA = mean wait of answered calls;
- service level = answered within the target / (answered + abandoned after the
  target + missed). Calls abandoned within the target count in neither part
  ("short abandons", as Asterisk's app_queue ``servicelevel`` practice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# the missed-call processing's own records: the group gave up on the call
_PROCESSING = frozenset({"voicemail", "forwarded", "hangup", "rerouted"})


@dataclass(slots=True)
class GroupDay:
    offered: int = 0
    answered: int = 0
    answered_within: int = 0  # within the group's target
    abandoned: int = 0
    abandoned_after_target: int = 0
    missed: int = 0
    wait_sum_s: float = 0.0  # of answered calls
    longest_answered_wait_s: float = 0.0

    def service_level(self) -> float | None:
        """Percent, or None while no call counts (nothing to measure yet)."""
        counted = self.answered + self.abandoned_after_target + self.missed
        return round(100.0 * self.answered_within / counted, 1) if counted else None

    def asa_s(self) -> float | None:
        return round(self.wait_sum_s / self.answered, 1) if self.answered else None


@dataclass(slots=True)
class ChatDay:
    arrived: int = 0
    responded: int = 0
    response_sum_s: float = 0.0

    def first_response_s(self) -> float | None:
        return round(self.response_sum_s / self.responded, 1) if self.responded else None


@dataclass(slots=True)
class _Stint:
    """A call's time in one group."""

    group: str
    entered_at: float
    answered: bool = False
    missed_noted: bool = False  # the router recorded "missed" (may still be answered: keep waiting)
    counted: bool = False  # its outcome is counted (answered, abandoned or missed)
    forwarding: bool = False  # a missed-call forward rings outside


@dataclass
class DayFigures:
    """The figures since ``day_start`` (epoch seconds); ``target_s`` gives a group's
    service-level target in seconds (a call is judged against the target in force
    when its outcome is known)."""

    day_start: float
    groups: dict[str, GroupDay] = field(default_factory=dict)
    chats: dict[str, ChatDay] = field(default_factory=dict)
    _stints: dict[str, _Stint] = field(default_factory=dict)
    _chat_queue: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ calls
    def call_record(self, call_id: str, at: float, kind: str, detail: dict[str, Any], target_s: float) -> None:
        if at < self.day_start:
            return
        if kind == "arrived":
            group = detail.get("group")
            if group and call_id not in self._stints:
                self._enter(call_id, str(group), at)
            return
        stint = self._stints.get(call_id)
        if stint is None:
            return  # arrived before today, or never reached a group
        day = self.groups.setdefault(stint.group, GroupDay())
        if kind == "answered" and not stint.counted and detail.get("agent"):
            wait = max(0.0, at - stint.entered_at)
            stint.answered = stint.counted = True
            day.answered += 1
            day.wait_sum_s += wait
            day.longest_answered_wait_s = max(day.longest_answered_wait_s, wait)
            if wait <= target_s:
                day.answered_within += 1
        elif kind == "missed":
            stint.missed_noted = True
        elif kind == "abandoned":
            if not stint.counted:
                if stint.forwarding:
                    day.missed += 1
                else:
                    day.abandoned += 1
                    if at - stint.entered_at > target_s:
                        day.abandoned_after_target += 1
            self._stints.pop(call_id, None)
        elif kind in _PROCESSING:
            if not stint.counted:
                stint.counted = True
                day.missed += 1
            if kind == "forwarded":
                stint.forwarding = True
            elif kind == "rerouted" and detail.get("group"):
                self._enter(call_id, str(detail["group"]), at)
        elif kind == "ended":
            if not stint.counted and stint.missed_noted:
                day.missed += 1
            self._stints.pop(call_id, None)

    def _enter(self, call_id: str, group: str, at: float) -> None:
        self._stints[call_id] = _Stint(group, at)
        self.groups.setdefault(group, GroupDay()).offered += 1

    # ------------------------------------------------------------------ chats
    def chat_record(self, conversation_id: str, at: float, kind: str, detail: dict[str, Any]) -> None:
        if at < self.day_start:
            return
        if kind == "arrived" and detail.get("queue"):
            queue = str(detail["queue"])
            self._chat_queue[conversation_id] = queue
            self.chats.setdefault(queue, ChatDay()).arrived += 1
        elif kind == "answered" and conversation_id in self._chat_queue and detail.get("response_s") is not None:
            day = self.chats.setdefault(self._chat_queue.pop(conversation_id), ChatDay())
            day.responded += 1
            day.response_sum_s += float(detail["response_s"])
        elif kind == "closed":
            self._chat_queue.pop(conversation_id, None)

    def group_of(self, call_id: str) -> str | None:
        """The group a call of today is in now (None: not followed)."""
        stint = self._stints.get(call_id)
        return stint.group if stint else None

    def group(self, group_id: str) -> GroupDay:
        return self.groups.get(group_id) or GroupDay()

    def chat(self, queue_id: str) -> ChatDay:
        return self.chats.get(queue_id) or ChatDay()
