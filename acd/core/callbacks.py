"""Callbacks that keep the caller's place: the part of the router that decides them.

A caller waiting in music (keep_waiting) in a group that offers callbacks hears "press
1 to be called back, you keep your place". The key (DigitPressed) turns the call into a
``CallbackRequest``: the caller is thanked and hung up, and the request stays in the
group's line at the caller's place (their arrival time) among the callers still
waiting. When it is first in line and a member is free, the member's phone is rung
(CallBack: AMI Originate); when they answer, the dialplan calls the customer through
the trunk and connects them.

The rules that keep a customer from being called twice at once:
- a request has at most one attempt out (state CALLING or CONNECTING); a new one is
  started only from WAITING, and events of an older attempt are ignored;
- after acd lost sight of the PBX (restart, reconnect), requests wait for the first
  Resynced, which lists the requests with a channel still on the PBX: those are left to
  finish. One whose attempt ended unseen is never called again by itself: if the member
  may have answered (the customer may have been called, even served), it goes to the
  missed-call list for a person to decide; if only the member's phone rang, it is
  retried once an Originate sent just before the loss has surely timed out
  (``agent_ring_s``).

Each change of a request is written as a ``callback`` record holding the whole request,
which the store keeps (``callback_requests``) and gives back after a restart
(CallbacksRestored).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .call import Call, Phase
from .callback_numbers import ENTRY_GUARD_S, MAX_DIGITS, must_ask, refusal, usable_number
from .commands import (
    AskCallbackNumber,
    CallBack,
    CancelTimer,
    Command,
    HangUp,
    OfferCallback,
    Record,
    ReportPhoneCalls,
    StartTimer,
)
from .events import (
    CallbackAgentAnswered,
    CallbackAgentFailed,
    CallbackCancelled,
    CallbackEnded,
    CallbackMoved,
    CallbackNumberEntered,
    CallbacksRestored,
    DigitPressed,
)
from .model import CallbackPolicy, QueueGroup
from .strategies import next_members

if TYPE_CHECKING:
    from .agents import AgentBook
    from .calls_by_group import CallsByGroup
    from .model import RoutingConfig


class CallbackState(enum.Enum):
    WAITING = "waiting"  # in the group's line (not called before ``not_before``)
    CALLING = "calling"  # the member's phone rings (Originate out)
    CONNECTING = "connecting"  # the member answered: the customer rings, or they talk
    UNCERTAIN = "uncertain"  # an attempt was out when acd lost sight of the PBX
    ANSWERED = "answered"
    MISSED = "missed"  # out of attempts: on the missed-call list
    CANCELLED = "cancelled"


OPEN = frozenset({CallbackState.WAITING, CallbackState.CALLING, CallbackState.CONNECTING, CallbackState.UNCERTAIN})
IN_FLIGHT = frozenset({CallbackState.CALLING, CallbackState.CONNECTING, CallbackState.UNCERTAIN})

# a group that announces the place in line: the callback offer this long after the wait starts
OFFER_AFTER_ANNOUNCEMENT_S = 8.0

# DIALSTATUS of the customer's Dial -> the attempt's outcome
_OUTCOMES = {"ANSWER": "answered", "NOANSWER": "no answer", "BUSY": "busy", "CANCEL": "no answer"}


@dataclass(slots=True)
class CallbackRequest:
    id: str  # the Uniqueid of the call it came from
    group_id: str
    number: str  # the customer's number (the caller id)
    place: float  # its place in the group's line: the caller's arrival, or where a supervisor moved it
    requested_at: float
    state: CallbackState = CallbackState.WAITING
    attempts: int = 0  # calls to the customer so far
    tries: int = 0  # Originates sent so far: numbers each attempt's events
    agent: str | None = None  # the member of the attempt under way
    counted: bool = False  # the attempt under way is in ``attempts`` (the customer was called)
    not_before: float = 0.0  # spacing: not called again before this
    outcomes: list[str] = field(default_factory=list)  # per customer attempt: answered, no answer, busy...
    did: str = ""  # the number the caller called: shown to the customer when called back

    @property
    def key(self) -> str:
        """How the request shows in an agent's ringing/calls sets (never a call id)."""
        return f"callback:{self.id}"

    def snapshot(self) -> dict[str, Any]:
        return {"group": self.group_id, "number": self.number, "place": self.place,
                "requested_at": self.requested_at, "state": self.state.value, "attempts": self.attempts,
                "tries": self.tries, "counted": self.counted, "agent": self.agent, "not_before": self.not_before,
                "outcomes": list(self.outcomes), "did": self.did}


class CallbackRouting:
    """Mixed into the Router: it owns ``callbacks`` and shares the router's agents,
    calls, clock value and output."""

    config: RoutingConfig
    agents: AgentBook
    calls: dict[str, Call]
    waiting: CallsByGroup
    in_group: CallsByGroup
    last_offered: dict[str, dict[str, float]]
    _now: float

    def _emit(self, command: Command) -> None: ...  # pragma: no cover - the Router's
    def _release_all(self, call: Call) -> None: ...  # pragma: no cover
    def _cancel_call_timers(self, call: Call) -> None: ...  # pragma: no cover
    def _offer_waiting_calls(self, agent_id: str) -> None: ...  # pragma: no cover

    def _init_callbacks(self) -> None:
        self.callbacks: dict[str, CallbackRequest] = {}
        # the same requests by group: a phone going free looks only at its groups' requests
        self._callbacks_of_group: dict[str, dict[str, CallbackRequest]] = {}
        self._callbacks_blind = False  # restored requests wait for the first Resynced

    # ------------------------------------------------------------------ the offer and the key
    def _offer_callback(self, call: Call, now: bool = False) -> None:
        """The caller starts waiting in music: tell them about the callback. A group that
        also announces the place in line does so as the wait starts (``announcements``):
        the offer follows once that announcement is over, or one Redirect would cut the
        other short (an announcement takes 1.5-4 s, transcripts 16)."""
        group = call.group
        policy = group.callback if group is not None else None
        if group is None or policy is None or not policy.offer_sound or call.phase is not Phase.WAITING:
            return
        if group.announce.active and not now:
            self._emit(StartTimer(f"callback-offer|{call.id}", OFFER_AFTER_ANNOUNCEMENT_S))
            return
        self._emit(OfferCallback(call.id, policy.offer_sound))

    def _on_DigitPressed(self, e: DigitPressed) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.group is None or call.group.callback is None:
            return
        policy = call.group.callback
        if e.digit != policy.digit or call.phase is not Phase.WAITING or call.id in self.callbacks:
            return
        if must_ask(policy.ask_number, call.caller_number):
            call.number_tries = 0
            self._ask_number(call, policy)
            return
        number = usable_number(call.caller_number)
        if not number:
            self._emit(Record(call.id, self._now, "callback_refused", {"reason": "the caller's number is not known"}))
            return
        self._keep_request(call, number, policy)

    def _ask_number(self, call: Call, policy: CallbackPolicy) -> None:
        call.number_tries += 1
        call.number_entry_until = self._now + ENTRY_GUARD_S
        self._emit(Record(call.id, self._now, "callback_number_asked", {"try": call.number_tries}))
        self._emit(AskCallbackNumber(call.id, MAX_DIGITS))

    def _on_CallbackNumberEntered(self, e: CallbackNumberEntered) -> None:
        """The caller typed a number (or gave up): keep the request on it, ask again, or
        after the last try leave the caller waiting in the line as before."""
        call = self.calls.get(e.call_id)
        if call is None or call.group is None or call.group.callback is None or call.number_tries == 0:
            return
        call.number_entry_until = 0.0  # back in music: announcements may play again
        if call.phase is not Phase.WAITING or call.id in self.callbacks:
            return
        policy = call.group.callback
        reason = refusal(e.number, e.confirmed, policy.number_pattern)
        if reason is None:
            self._keep_request(call, e.number, policy)
            return
        self._emit(Record(call.id, self._now, "callback_number_refused",
                          {"reason": reason, "try": call.number_tries}))
        if call.number_tries < policy.number_tries:
            self._ask_number(call, policy)
            return
        call.number_tries = 0
        self._emit(Record(call.id, self._now, "callback_refused",
                          {"reason": f"no usable number after {policy.number_tries} tries, "
                                     "the caller waits on in the line"}))

    def _keep_request(self, call: Call, number: str, policy: CallbackPolicy) -> None:
        """The caller's place becomes a request: thank them and hang up."""
        assert call.group is not None
        req = CallbackRequest(call.id, call.group.id, number, call.arrived_at, self._now, did=call.did)
        self._keep_callback(req)
        self._release_all(call)
        self._cancel_call_timers(call)
        call.phase, call.in_hold = Phase.HANGING_UP, False
        self._emit(Record(call.id, self._now, "callback_requested",
                          {"number": number, "group": req.group_id, "position": self.callback_position(req),
                           "waited_s": round(self._now - call.arrived_at, 3)}))
        self._persist(req)
        self._emit(HangUp(call.id, policy.accepted_sound))
        self._serve_callbacks(req.group_id)

    # ------------------------------------------------------------------ the line
    def _callbacks_ready(self, group_id: str) -> list[CallbackRequest]:
        if self._callbacks_blind:
            return []
        return sorted((r for r in self._callbacks_of_group.get(group_id, {}).values()
                       if r.state is CallbackState.WAITING and r.not_before <= self._now + 1e-6),
                      key=lambda r: r.place)

    def callback_position(self, req: CallbackRequest) -> int:
        """1 = first in the group's line, counting callers still waiting and requests."""
        ahead = sum(1 for c in self.in_group.in_group(req.group_id, self.calls)
                    if c.phase in (Phase.WAITING, Phase.RINGING) and c.arrived_at < req.place)
        ahead += sum(1 for r in self.callbacks.values()
                     if r.group_id == req.group_id and r.state in OPEN and r.id != req.id and r.place < req.place)
        return ahead + 1

    def _line(self, group_ids: set[str]) -> list[tuple[float, Call | CallbackRequest]]:
        """Waiting callers and ready requests of these groups, in the order they are served."""
        line: list[tuple[float, Call | CallbackRequest]] = [
            (c.arrived_at, c) for c in self.waiting.in_groups(group_ids, self.calls)]
        for group_id in group_ids:
            line += [(r.place, r) for r in self._callbacks_ready(group_id)]
        return sorted(line, key=lambda item: item[0])

    def _serve_callbacks(self, group_id: str, before: float = math.inf) -> None:
        """Start the ready requests of the group (placed before ``before``) while members are free."""
        for req in self._callbacks_ready(group_id):
            if req.place >= before or not self._start_callback(req):
                return

    def _policy(self, group_id: str) -> CallbackPolicy:
        """The group's policy; requests made before the offer was turned off keep the defaults."""
        group = self.config.groups.get(group_id)
        return group.callback if group is not None and group.callback is not None else CallbackPolicy()

    def _start_callback(self, req: CallbackRequest) -> bool:
        group = self.config.groups.get(req.group_id)
        if group is None:
            return False  # the group is gone: a supervisor cancels the request
        members, _ = next_members(group, set(), lambda a: self._member_unavailable(a),
                                  self.last_offered.get(group.id, {}))
        if not members:
            return False
        agent_id = members[0]  # a callback rings one member, whatever the group's mode
        self.last_offered.setdefault(group.id, {})[agent_id] = self._now
        req.tries += 1
        req.state, req.agent, req.counted = CallbackState.CALLING, agent_id, False
        self.agents.status(agent_id).ringing.add(req.key)
        self._emit(Record(req.id, self._now, "callback_calling",
                          {"agent": agent_id, "attempt": req.attempts + 1, "try": req.tries}))
        self._persist(req)
        policy = self._policy(group.id)
        self._emit(CallBack(req.id, req.tries, agent_id, req.number, policy.agent_ring_s, policy.customer_ring_s,
                            req.did))
        return True

    def _member_unavailable(self, agent_id: str) -> str | None:
        if agent_id not in self.config.agents:
            return "unknown agent"
        return self.agents.unavailable_because(agent_id, self._now)

    # ------------------------------------------------------------------ an attempt's progress
    def _attempt_of(self, request_id: str, attempt: int) -> CallbackRequest | None:
        req = self.callbacks.get(request_id)
        if req is None or req.state not in IN_FLIGHT:
            return None
        if req.state is not CallbackState.UNCERTAIN and attempt != req.tries:
            return None  # an older attempt's late event
        return req

    def _on_CallbackAgentAnswered(self, e: CallbackAgentAnswered) -> None:
        req = self._attempt_of(e.request_id, e.attempt)
        if req is None or req.state is CallbackState.CONNECTING:
            return
        if req.state is CallbackState.UNCERTAIN:
            req.tries = max(req.tries, e.attempt)
        req.state = CallbackState.CONNECTING
        if not req.counted:
            req.attempts, req.counted = req.attempts + 1, True  # the customer is being called now
        if req.agent is not None:
            status = self.agents.status(req.agent)
            status.ringing.discard(req.key)
            if req.key not in status.calls:
                status.calls.add(req.key)
                self._emit(ReportPhoneCalls(req.agent, len(status.calls)))
        self._emit(Record(req.id, self._now, "callback_agent_answered",
                          {"agent": req.agent, "attempt": req.attempts, "number": req.number}))
        self._persist(req)

    def _on_CallbackAgentFailed(self, e: CallbackAgentFailed) -> None:
        req = self._attempt_of(e.request_id, e.attempt)
        if req is None or req.state is CallbackState.CONNECTING:
            return
        agent = self._free_agent(req)
        group = self.config.groups.get(req.group_id)
        pause = group.missed.retry_s if group is not None else 5.0
        # the customer was not called: no attempt is spent; the member gets a pause
        self._emit(Record(req.id, self._now, "callback_agent_failed", {"agent": agent, "reason": e.reason}))
        self._wait_again(req, pause)
        if group is not None:
            self._offer_others(group, agent)

    def _on_CallbackEnded(self, e: CallbackEnded) -> None:
        req = self._attempt_of(e.request_id, e.attempt)
        if req is None:
            return
        if not req.counted:
            req.attempts, req.counted = req.attempts + 1, True  # the agent's answer went unseen
        status = e.dial_status.strip().upper()
        outcome = _OUTCOMES.get(status, "not reached")
        agent = self._free_agent(req)
        req.outcomes.append(outcome)
        self._emit(Record(req.id, self._now, "callback_attempt",
                          {"attempt": req.attempts, "outcome": outcome, "dial_status": status, "agent": agent}))
        group = self.config.groups.get(req.group_id)
        if outcome == "answered":
            req.state = CallbackState.ANSWERED
            self._persist(req)
        else:
            self._after_unanswered(req, self._policy(req.group_id))
        if agent is not None and group is not None:
            self._agent_done(agent, group)

    def _after_unanswered(self, req: CallbackRequest, policy: CallbackPolicy) -> None:
        if req.attempts >= policy.attempts:
            req.state = CallbackState.MISSED
            self._emit(Record(req.id, self._now, "missed",
                              {"reason": f"callback not answered after {req.attempts} attempts"}))
            self._persist(req)
            return
        self._wait_again(req, policy.spacing_s)

    def _wait_again(self, req: CallbackRequest, pause: float) -> None:
        req.state, req.agent = CallbackState.WAITING, None
        req.not_before = self._now + pause
        self._persist(req)
        self._emit(StartTimer(_ready_timer(req.id), pause))

    def _free_agent(self, req: CallbackRequest) -> str | None:
        agent, req.agent = req.agent, None
        if agent is not None:
            status = self.agents.status(agent)
            status.ringing.discard(req.key)
            if req.key in status.calls:
                status.calls.discard(req.key)
                self._emit(ReportPhoneCalls(agent, len(status.calls)))
        return agent

    def _agent_done(self, agent_id: str, group: QueueGroup) -> None:
        if group.wrapup_s > 0:
            status = self.agents.status(agent_id)
            status.wrapup_until = self._now + group.wrapup_s
            self._emit(StartTimer(f"wrapup|{agent_id}", group.wrapup_s))
        self._offer_waiting_calls(agent_id)

    def _offer_others(self, group: QueueGroup, failed_agent: str | None) -> None:
        for agent_id in group.members:
            if agent_id != failed_agent:
                self._offer_waiting_calls(agent_id)

    def _callback_timer(self, request_id: str) -> None:
        """Its spacing is over: called now if a member is free, else when one frees up."""
        req = self.callbacks.get(request_id)
        if req is not None and req.state is CallbackState.WAITING:
            self._serve_callbacks(req.group_id)

    # ------------------------------------------------------------------ supervisors
    def _on_CallbackCancelled(self, e: CallbackCancelled) -> None:
        req = self.callbacks.get(e.request_id)
        if req is None or req.state is not CallbackState.WAITING:
            return  # an attempt under way is never cut short: the API says so first
        req.state = CallbackState.CANCELLED
        self._emit(CancelTimer(_ready_timer(req.id)))
        self._emit(Record(req.id, self._now, "callback_cancelled", {"by": e.by}))
        self._persist(req)

    def _on_CallbackMoved(self, e: CallbackMoved) -> None:
        req = self.callbacks.get(e.request_id)
        if req is None or req.state is not CallbackState.WAITING:
            return
        others = sorted(
            [c.arrived_at for c in self.in_group.in_group(req.group_id, self.calls)
             if c.phase in (Phase.WAITING, Phase.RINGING)]
            + [r.place for r in self.callbacks.values()
               if r.group_id == req.group_id and r.state in OPEN and r.id != req.id])
        position = max(1, min(e.position, len(others) + 1))
        if position == 1:
            place = (others[0] - 1.0) if others else req.place
        elif position > len(others):
            place = others[-1] + 1.0 if others else req.place
        else:
            place = (others[position - 2] + others[position - 1]) / 2
        req.place = min(place, req.place) if position == 1 and not others else place
        self._emit(Record(req.id, self._now, "callback_moved", {"by": e.by, "position": position}))
        self._persist(req)
        self._serve_callbacks(req.group_id)

    # ------------------------------------------------------------------ restart and reconnect
    def _on_CallbacksRestored(self, e: CallbacksRestored) -> None:
        for stored in e.requests:
            if stored.request_id in self.callbacks:
                continue
            req = CallbackRequest(stored.request_id, stored.group_id, stored.number, stored.place,
                                  stored.requested_at, attempts=stored.attempts, tries=stored.tries,
                                  not_before=stored.not_before, outcomes=list(stored.outcomes),
                                  counted=stored.state in ("connecting", "uncertain") and stored.counted,
                                  did=stored.did)
            in_flight = stored.state in ("calling", "connecting", "uncertain")
            req.state = CallbackState.UNCERTAIN if in_flight else CallbackState.WAITING
            self._keep_callback(req)
        self._callbacks_blind = True

    def _callbacks_resynced(self, live: set[str]) -> None:
        """The PBX's channels are known again: a request with a channel there is still
        under way (its end will be reported); one without it ended unseen."""
        self._callbacks_blind = False
        for req in list(self.callbacks.values()):
            if req.state not in OPEN:
                continue
            policy = self._policy(req.group_id)
            if req.id in live:
                if req.state is CallbackState.WAITING:
                    req.state = CallbackState.UNCERTAIN  # an Originate whose record never reached the store
                    self._persist(req)
                continue
            if req.state is CallbackState.WAITING:
                if req.not_before > self._now:
                    self._emit(StartTimer(_ready_timer(req.id), req.not_before - self._now))
                continue
            # an Originate sent just before acd lost sight may not show yet: let it time out
            guard = policy.agent_ring_s
            agent = self._free_agent(req)
            if req.state is CallbackState.CALLING:
                self._emit(Record(req.id, self._now, "callback_agent_failed",
                                  {"agent": agent, "reason": "ended while acd could not see the PBX"}))
                self._wait_again(req, guard)
                continue
            # the customer may have been called, and may have talked: calling again could
            # reach someone already served, so a person decides (the missed-call list)
            if not req.counted:
                req.attempts, req.counted = req.attempts + 1, True
            req.outcomes.append("unknown")
            req.state = CallbackState.MISSED
            self._emit(Record(req.id, self._now, "callback_attempt",
                              {"attempt": req.attempts, "outcome": "unknown",
                               "reason": "ended while acd could not see the PBX"}))
            self._emit(Record(req.id, self._now, "missed",
                              {"reason": "callback outcome unknown: it ended while acd could not see the PBX"}))
            self._persist(req)
        for group_id in sorted({r.group_id for r in self.callbacks.values() if r.state is CallbackState.WAITING}):
            self._serve_callbacks(group_id)

    # ------------------------------------------------------------------ helpers
    def _persist(self, req: CallbackRequest) -> None:
        self._emit(Record(req.id, self._now, "callback", req.snapshot()))
        if req.state not in OPEN:
            self.callbacks.pop(req.id, None)  # done: the history keeps it
            self._callbacks_of_group.get(req.group_id, {}).pop(req.id, None)

    def _keep_callback(self, req: CallbackRequest) -> None:
        self.callbacks[req.id] = req
        self._callbacks_of_group.setdefault(req.group_id, {})[req.id] = req

    def open_callbacks(self) -> list[CallbackRequest]:
        return sorted((r for r in self.callbacks.values() if r.state in OPEN), key=lambda r: (r.group_id, r.place))


def _ready_timer(request_id: str) -> str:
    return f"callback|{request_id}"

