"""A call's timeline and decision log in sentences, as the call page shows it:
"Anna was skipped: on a call since 10:42", "Rang Farid for 3 rings (15 s), no answer".

The core records each line as a kind and a detail (acd/store/history.py lists them);
this turns one into a sentence with names for ids, durations in words and times in
the reader's zone. A kind added later still reads as a sentence of its values, never
as a raw ``key: value``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from ..store.views import CallDetail, CallEvent
from .words import caller, clock_in, duration, name_list

FAILED = {  # acd.core.events.FailReason values
    "busy": "the phone was busy",
    "unavailable": "the phone is not connected",
    "no_answer": "no answer",
    "cancelled": "the ring was stopped",
    "rejected": "the call was declined",
}
ENDED_BY = {"caller": "the caller hung up", "agent": "the agent hung up", "system": "acd ended it",
            "unknown": "it ended"}


@dataclass(frozen=True)
class Line:
    at: float
    offset_s: float  # since the call arrived
    kind: str
    text: str
    skipped: bool = False


class CallStory:
    """Sentences for one call's events; ``names`` maps agent ids to names, ``groups``
    group ids to names (an id no longer configured shows as itself)."""

    def __init__(self, names: Mapping[str, str], groups: Mapping[str, str], zone: ZoneInfo | None) -> None:
        self.names = names
        self.groups = groups
        self.zone = zone

    def name(self, agent_id: Any) -> str:
        return self.names.get(str(agent_id), str(agent_id)) if agent_id else "someone"

    def group(self, group_id: Any) -> str:
        return self.groups.get(str(group_id), str(group_id)) if group_id else "no queue group"

    def lines(self, call: CallDetail) -> list[Line]:
        rang_at: dict[str, float] = {}  # when each member's phone began to ring (this attempt)
        out = []
        for e in call.events:
            if e.kind == "ringing" and e.detail.get("agent"):
                rang_at[str(e.detail["agent"])] = e.at
            out.append(Line(e.at, e.at - call.arrived_at, e.kind, self.sentence(e, rang_at),
                            skipped=e.detail.get("decision") == "skip"))
            if e.kind in ("no_answer", "failed") and e.detail.get("agent"):
                rang_at.pop(str(e.detail["agent"]), None)
        return out

    def sentence(self, e: CallEvent, rang_at: Mapping[str, float] | None = None) -> str:
        say: Callable[[CallEvent, Mapping[str, float]], str] | None = getattr(self, f"_{e.kind}", None)
        if say is not None:
            return say(e, rang_at or {})
        return self._anything(e)

    # ------------------------------------------------------------------ one per kind
    def _arrived(self, e: CallEvent, _: Mapping[str, float]) -> str:
        d = e.detail
        text = f"Call from {caller(d.get('caller_name'), d.get('caller_number'))}"
        text += f" on {d['did']}" if d.get("did") else ""
        text += f", for queue group {self.group(d.get('group'))}" if d.get("group") else ", to no queue group"
        if d.get("owner"):
            text += f"; the client's responsible person is {self.name(d['owner'])}"
        return text

    def _recovered(self, e: CallEvent, _: Mapping[str, float]) -> str:
        return "Found on the phone system after acd restarted or reconnected"

    def _considered(self, e: CallEvent, _: Mapping[str, float]) -> str:
        d = e.detail
        who = self.name(d.get("agent"))
        if d.get("decision") == "ring":
            return f"Rang {who} first: the client's responsible person" if d.get("reason") else f"Rang {who}"
        reason = str(d.get("reason") or "not available")
        if d.get("since") is not None:
            reason += f" since {clock_in(d['since'], self.zone)}"
        elif d.get("until") is not None:
            reason += f" until {clock_in(d['until'], self.zone)}"
        return f"{who} was skipped: {reason}"

    def _ringing(self, e: CallEvent, _: Mapping[str, float]) -> str:
        return f"{self.name(e.detail.get('agent'))}'s phone is ringing"

    def _failed(self, e: CallEvent, _: Mapping[str, float]) -> str:
        why = FAILED.get(str(e.detail.get("reason")), str(e.detail.get("reason") or "no answer"))
        return f"Could not ring {self.name(e.detail.get('agent'))}: {why}"

    def _no_answer(self, e: CallEvent, rang_at: Mapping[str, float]) -> str:
        d = e.detail
        who = self.name(d.get("agent"))
        if d.get("rings") is None:
            return f"{who}'s phone never rang (waited {duration(d.get('seconds'))}), moving on"
        began = rang_at.get(str(d.get("agent")))
        seconds = f" ({duration(e.at - began)})" if began is not None else ""
        return f"Rang {who} for {d['rings']} rings{seconds}, no answer"

    def _answered(self, e: CallEvent, _: Mapping[str, float]) -> str:
        d = e.detail
        waited = f" after {duration(d['waited_s'])}" if d.get("waited_s") is not None else ""
        if d.get("agent") and d.get("picked_up_from"):
            return (f"{self.name(d['agent'])} picked up the call ringing at "
                    f"{self.name(d['picked_up_from'])}{waited}")
        if d.get("agent"):
            return f"{self.name(d['agent'])} answered{waited}"
        return f"Answered at {d.get('number') or 'the forwarded number'}{waited}"

    def _ended(self, e: CallEvent, _: Mapping[str, float]) -> str:
        d = e.detail
        text = f"Call ended: {ENDED_BY.get(str(d.get('by')), 'it ended')}"
        if d.get("talk_s") is not None:
            text += f" after {duration(d['talk_s'])} of talk"
        if d.get("reason"):
            text += f" ({d['reason']})"
        return text

    def _abandoned(self, e: CallEvent, _: Mapping[str, float]) -> str:
        d = e.detail
        tried = f"; offered to {name_list(d['tried'], self.names)}" if d.get("tried") else "; offered to nobody"
        return f"The caller hung up after waiting {duration(d.get('waited_s'))}{tried}"

    def _missed(self, e: CallEvent, _: Mapping[str, float]) -> str:
        d = e.detail
        tried = f" (offered to {name_list(d['tried'], self.names)})" if d.get("tried") else ""
        return f"Missed: {d.get('reason') or 'nobody answered'}{tried}"

    def _voicemail(self, e: CallEvent, _: Mapping[str, float]) -> str:
        d = e.detail
        box = f" of {d['mailbox']}" if d.get("mailbox") else ""
        return f"Sent to the voicemail{box}{self._note(d)}"

    def _forwarded(self, e: CallEvent, _: Mapping[str, float]) -> str:
        return f"Forwarded to {e.detail.get('number') or 'a number'}{self._note(e.detail)}"

    def _rerouted(self, e: CallEvent, _: Mapping[str, float]) -> str:
        return f"Forwarded to queue group {self.group(e.detail.get('group'))}{self._note(e.detail)}"

    def _waiting(self, e: CallEvent, _: Mapping[str, float]) -> str:
        longest = e.detail.get("max_wait_s")
        most = f" for up to {duration(longest)}" if longest is not None else ""
        return f"Nobody free: the caller waits with music{most}, and is offered again as members free up"

    def _hangup(self, e: CallEvent, _: Mapping[str, float]) -> str:
        message = e.detail.get("message")
        return "acd hung up" + (f" after playing the message {message}" if message else "")

    def _agent_left(self, e: CallEvent, _: Mapping[str, float]) -> str:
        return f"{self.name(e.detail.get('agent'))} left the call"

    def _transferred(self, e: CallEvent, _: Mapping[str, float]) -> str:
        d = e.detail
        how = {"blind": " (blind transfer)", "attended": " (attended transfer)"}.get(str(d.get("kind")), "")
        if d.get("from_agent"):
            return f"{self.name(d['from_agent'])} transferred the call to {self.name(d.get('to_agent'))}{how}"
        return f"Transferred to {self.name(d.get('to_agent'))}{how}"

    def _transfer_failed(self, e: CallEvent, _: Mapping[str, float]) -> str:
        return "The transfer failed: ringing the queue group again"

    def _forward_failed(self, e: CallEvent, _: Mapping[str, float]) -> str:
        return f"The forward to {e.detail.get('number') or 'the number'} was not answered"

    def _pickup(self, e: CallEvent, _: Mapping[str, float]) -> str:
        d = e.detail
        how = " with the Intercept button" if d.get("via") == "web" else " with the pickup code"
        return f"{self.name(d.get('by'))} picked up the call ringing at {self.name(d.get('from_agent'))}{how}"

    def _pickup_refused(self, e: CallEvent, _: Mapping[str, float]) -> str:
        return f"{self.name(e.detail.get('by'))} could not pick up the call: {e.detail.get('reason')}"

    def _callback_number_asked(self, e: CallEvent, _: Mapping[str, float]) -> str:
        again = " again" if (e.detail.get("try") or 1) > 1 else ""
        return f"The caller was asked{again} to type the number to be called back on"

    def _callback_number_refused(self, e: CallEvent, _: Mapping[str, float]) -> str:
        return f"The number typed for the callback was not taken: {e.detail.get('reason') or 'not usable'}"

    def _callback_refused(self, e: CallEvent, _: Mapping[str, float]) -> str:
        return f"No callback: {e.detail.get('reason') or 'not possible'}"

    def _note(self, d: Mapping[str, Any]) -> str:
        return f" ({d['note']})" if d.get("note") else ""  # the core's note is in words

    def _anything(self, e: CallEvent) -> str:
        """A kind this module does not know yet: its words and values, no keys."""
        values = []
        for key, value in e.detail.items():
            if value is None or value == "" or key == "attempt":
                continue
            if key in ("agent", "by", "from_agent", "to_agent"):
                values.append(self.name(value))
            elif isinstance(value, list | tuple):
                values.append(name_list(value, self.names))
            elif isinstance(value, int | float) and key.endswith("_s"):
                values.append(duration(float(value)))
            elif isinstance(value, bool):
                continue
            else:
                values.append(str(value))
        text = e.kind.replace("_", " ").capitalize()
        return f"{text}: {', '.join(values)}" if values else text
