"""The telephony router: one state machine per call, fed events, returning commands.

Pure and deterministic: ``handle(event, now)`` reads nothing but its arguments and
its own state, so every routing rule is testable as a list of events and an
assertion on the commands.

Ring counting: a ring attempt starts a "no ring" timer of the group's ring time;
the first real ring (MemberRinging) replaces it with the ring timer of the same
length. When either fires the core moves on by itself (the next member, or the
missed-call processing); the Dial ceiling given to Asterisk is only a safety net.
When Asterisk ends the Dial first (busy, unreachable), the core waits for the
dialplan's ACDDialResult (AttemptEnded) before moving on, so its next Redirect
never races the dialplan's return to hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import announcements, missed_calls, watchdog
from .agents import AgentBook
from .call import Call, Phase
from .callbacks import CallbackRequest, CallbackRouting
from .calls_by_group import CallsByGroup
from .capacity import Load, full_because
from .commands import (
    AlertSupervisors,
    Announce,
    CancelTimer,
    Command,
    Forward,
    HangUp,
    Hold,
    PauseAgent,
    PickUp,
    Record,
    RefusePickup,
    ReportManualTransfer,
    ReportPhoneCalls,
    ResumeAgent,
    Ring,
    SendToVoicemail,
    StartTimer,
)
from .events import (
    AgentLegHungUp,
    AgentWorkChanged,
    AttemptEnded,
    CallArrived,
    CallerHungUp,
    DeviceStateChanged,
    Event,
    FailReason,
    LiveCall,
    MemberAnswered,
    MemberFailed,
    MemberRinging,
    OtherChannelsLoadChanged,
    PauseRequested,
    PickupRequested,
    Resynced,
    TimerFired,
    TransferFailed,
    TransferredByHand,
)
from .model import MissedAction, QueueGroup, RoutingConfig
from .pauses import MissedInARow, reason_for_code
from .strategies import next_members
from .work_time import on_break


def _server(call: Call) -> dict[str, str]:
    """The history's note of the call's Asterisk server (none when there is only one)."""
    return {"server": call.server} if call.server else {}


def timer_key(kind: str, ident: str, attempt: int | None = None) -> str:
    return f"{kind}|{ident}" if attempt is None else f"{kind}|{ident}|{attempt}"


class Router(CallbackRouting):
    def __init__(self, config: RoutingConfig, last_offered: Mapping[tuple[str, str], float] | None = None,
                 recent_waits: Mapping[str, Sequence[float]] | None = None):
        self.config = config
        self._init_callbacks()
        self.agents = AgentBook()
        self.calls: dict[str, Call] = {}
        self.waiting = CallsByGroup(frozenset({Phase.WAITING}))  # callers in music, by group
        self.in_group = CallsByGroup()  # every call, by group: places in line
        # evenly mode: group id -> agent id -> when the agent was last offered a call
        self.last_offered: dict[str, dict[str, float]] = {}
        for (group_id, agent_id), at in (last_offered or {}).items():
            self.last_offered.setdefault(group_id, {})[agent_id] = at
        self.missed_in_a_row = MissedInARow()
        self._auto_paused: dict[str, str] = {}  # agent -> the work reason auto-pause gave them
        self._stuck: dict[str, float] = {}  # agent -> since when acd and their phone disagree
        # group id -> app_queue's exponential average of hold times (announcements)
        self.hold_average: dict[str, float] = {}
        for group_id, waits in (recent_waits or {}).items():  # after a restart: the history's answered calls
            for waited in waits:
                self.hold_average[group_id] = announcements.next_hold_average(self.hold_average.get(group_id), waited)
        self._out: list[Command] = []
        self._now = 0.0
        self._handlers: dict[type, Callable[[Any], None]] = {}  # event class -> its _on_ method

    # ------------------------------------------------------------------ entry points
    def handle(self, event: Event, now: float) -> list[Command]:
        self._out, self._now = [], now
        handler = self._handlers.get(event.__class__)
        if handler is None:  # looked up by name once per kind of event
            handler = self._handlers[event.__class__] = getattr(self, "_on_" + type(event).__name__)
        handler(event)
        out, self._out = self._out, []
        return out

    def reconfigure(self, config: RoutingConfig, now: float) -> list[Command]:
        """New settings apply to the next step of every call; waiting calls are re-offered."""
        self._out, self._now = [], now
        self.config = config
        self.waiting.settings_changed(config.groups)
        self.in_group.settings_changed(config.groups)
        for call in self.calls.values():
            if call.group is not None and call.group.id in config.groups:
                call.group = config.groups[call.group.id]
                if call.phase is Phase.WAITING:
                    self._start_announcements(call)  # switched on while the caller waits
        for agent_id in config.agents:
            self._offer_waiting_calls(agent_id)
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ arrival and routing
    def _on_CallArrived(self, e: CallArrived) -> None:
        if e.call_id in self.calls:
            return  # already known (seen again after a reconnect)
        group = self.config.group_for(e.did)
        call = Call(e.call_id, e.did, e.caller_number, e.caller_name, group, self._now, server=e.server)
        call.owner = e.owner_agent if e.owner_agent in self.config.agents else None
        self.calls[call.id] = call
        self.in_group.add(call, self.config.groups)
        self._record(call, "arrived", did=e.did, caller_number=e.caller_number,
                     caller_name=e.caller_name, group=call.group_id, owner=call.owner, **_server(call))
        if group is None:
            self._record_missed(call, "number not routed to a queue group")
            self._hang_up(call, "")
            return
        self._route(call)

    def _route(self, call: Call) -> bool:
        """Ring the next member(s) of the call's group; missed-call processing if none."""
        group = call.group
        assert group is not None
        if self.callbacks:
            self._serve_callbacks(group.id, before=call.arrived_at)  # requests ahead of this caller first
        if call.owner and group.owner_first and not call.owner_tried:
            call.owner_tried = True
            reason = self._unavailable_because(call.owner, call)
            if reason is None:
                self._ring(call, group, (call.owner,), owner=True)
                return True
            self._record(call, "considered", agent=call.owner, decision="skip", reason=f"client's owner: {reason}")
        members, skipped = next_members(
            group, call.tried, lambda a: self._unavailable_because(a, call), self.last_offered.get(group.id, {})
        )
        for agent_id, reason in skipped:
            call.tried.add(agent_id)
            # a waiting caller's passes repeat: a skip is logged again only when its reason changes
            if call.skips_logged.get(agent_id) != reason:
                call.skips_logged[agent_id] = reason
                self._record(call, "considered", agent=agent_id, decision="skip", reason=reason,
                             **self._busy_when(agent_id, reason))
        if members:
            self._ring(call, group, members)
            return True
        if call.phase is Phase.WAITING:
            return False  # still nobody: keep waiting in music
        self._missed(call, "nobody answered" if call.offered else "no member available")
        return False

    def _unavailable_because(self, agent_id: str, call: Call) -> str | None:
        if agent_id not in self.config.agents:
            return "unknown agent"
        reason = self.agents.unavailable_because(agent_id, self._now, for_call=call.id)
        if reason is None and call.group is not None and call.group.skip_when_busy_in_other_channels \
                and self.config.capacity is not None:
            reason = full_because(self.agents.status(agent_id).other_channels, self.config.capacity, agent_id)
        if reason is None and call.passes and call.group is not None:
            # retry_s counts from the end of the member's unanswered offer, not its start
            pause = call.group.missed.retry_s
            if self._now - call.offer_ended.get(agent_id, float("-inf")) < pause:
                return f"let this call ring out less than {pause:g} s ago"
        return reason

    def _busy_when(self, agent_id: str, reason: str) -> dict[str, float]:
        """When a skipped member's call began, or their wrap-up ends: the decision log
        says "on a call since 10:42"."""
        if reason == "on a call":
            calls = self.agents.status(agent_id).calls
            began = [c.answered_at for cid in calls if (c := self.calls.get(cid)) and c.answered_at]
            return {"since": min(began)} if began else {}
        if reason == "wrap-up":
            return {"until": self.agents.status(agent_id).wrapup_until}
        return {}

    def _ring(self, call: Call, group: QueueGroup, members: tuple[str, ...], owner: bool = False) -> None:
        self._cancel_attempt_timers(call)
        call.attempt += 1
        call.phase, call.in_hold = Phase.RINGING, False
        call.pending, call.ringing, call.ring_started = set(members), set(), None
        call.tried.update(members)
        call.offered.extend(members)
        offers = self.last_offered.setdefault(group.id, {})
        call_id, attempt, now, status, out = call.id, call.attempt, self._now, self.agents.status, self._out
        for agent_id in members:  # every member of a ring-all group: _record and _emit written out
            if call.skips_logged:
                call.skips_logged.pop(agent_id, None)
            status(agent_id).ringing.add(call_id)
            if owner:  # ringing the client's owner is not the group's turn
                detail = {"agent": agent_id, "decision": "ring", "attempt": attempt, "reason": "client's owner"}
            else:
                offers[agent_id] = now
                detail = {"agent": agent_id, "decision": "ring", "attempt": attempt}
            out.append(Record(call_id, now, "considered", detail))
        out.append(Ring(call_id, attempt, members, group.ring_time_s + self.config.dial_setup_s))
        self._start_timer(call, timer_key("noring", call.id, call.attempt), group.ring_time_s)

    # ------------------------------------------------------------------ ring attempt progress
    def _current(self, call_id: str, attempt: int | None) -> Call | None:
        call = self.calls.get(call_id)
        if call is None or call.phase not in (Phase.RINGING, Phase.FORWARDING) or attempt != call.attempt:
            return None  # an event of an attempt the core already left
        return call

    def _on_MemberRinging(self, e: MemberRinging) -> None:
        call = self._current(e.call_id, e.attempt)
        if call is None or e.agent_id not in call.pending or e.agent_id in call.ringing:
            return
        call.ringing.add(e.agent_id)
        self._record(call, "ringing", agent=e.agent_id, attempt=e.attempt)
        self._watch(e.agent_id)
        if call.ring_started is None and call.group is not None:
            # rings are counted from the first real ring, not from the dial (issue rule)
            call.ring_started = self._now
            self._cancel_timer(call, timer_key("noring", call.id, call.attempt))
            self._start_timer(call, timer_key("ring", call.id, call.attempt), call.group.ring_time_s)

    def _on_MemberFailed(self, e: MemberFailed) -> None:
        call = self._current(e.call_id, e.attempt)
        if call is None or e.agent_id not in call.pending:
            return  # DialEnd can repeat (transcripts 11a/11b)
        rang = e.agent_id in call.ringing
        self._release(call, e.agent_id)
        self._record(call, "failed", agent=e.agent_id, reason=e.reason.value, attempt=e.attempt)
        if rang and e.reason is FailReason.NO_ANSWER:
            self._rang_out(call, e.agent_id)

    def _on_AttemptEnded(self, e: AttemptEnded) -> None:
        call = self._current(e.call_id, e.attempt)
        if call is None:
            return
        call.in_hold = True  # the dialplan sends the caller back to acd-hold
        reason = FailReason.from_dial_status(e.dial_status)
        rang_out = sorted(call.ringing & call.pending) if reason is FailReason.NO_ANSWER else []
        for agent_id in sorted(call.pending):
            self._record(call, "failed", agent=agent_id, reason=reason.value, attempt=e.attempt)
        self._release_all(call)
        for agent_id in rang_out:
            self._rang_out(call, agent_id)
        self._cancel_attempt_timers(call)
        if call.phase is Phase.FORWARDING:
            self._record(call, "forward_failed", number=call.forward_number, dial_status=e.dial_status)
            self._apply_missed(call, MissedAction.VOICEMAIL)
        else:
            self._route(call)

    def _ring_time_over(self, call: Call, attempt: int, never_rang: bool) -> None:
        if self._current(call.id, attempt) is None or call.phase is not Phase.RINGING:
            return
        assert call.group is not None
        rang_out = []
        for agent_id in sorted(call.pending):
            if never_rang or agent_id not in call.ringing:
                self._record(call, "no_answer", agent=agent_id, reason="phone never rang",
                             seconds=call.group.ring_time_s)
            else:
                rang_out.append(agent_id)
                self._record(call, "no_answer", agent=agent_id, rings=call.group.rings,
                             reason=f"no answer after {call.group.rings} rings")
        self._release_all(call)
        for agent_id in rang_out:
            self._rang_out(call, agent_id)
        self._route(call)  # its Redirect ends the running Dial

    def _on_MemberAnswered(self, e: MemberAnswered) -> None:
        call = self.calls.get(e.call_id)
        if call is None or (call.phase is Phase.CONNECTED and call.agent == e.agent_id):
            return
        # an answer is a fact on the PBX: accept it whatever attempt the core is at
        self._release_all(call)
        self._cancel_call_timers(call)
        call.phase, call.in_hold, call.answered_at = Phase.CONNECTED, False, self._now
        detail: dict[str, Any] = {"waited_s": round(self._now - call.arrived_at, 3), "attempt": e.attempt}
        if e.agent_id:
            if call.group is not None:  # a member's answer: the group's estimate learns from it
                self.hold_average[call.group.id] = announcements.next_hold_average(
                    self.hold_average.get(call.group.id), self._now - call.arrived_at)
            call.agent = e.agent_id
            self.missed_in_a_row.reset(e.agent_id)
            self._talks(e.agent_id, call.id)
            detail["agent"] = e.agent_id
        else:
            detail["number"] = call.forward_number  # a forwarded call answered outside
        if e.picked_up_from:
            detail["picked_up_from"] = e.picked_up_from
        self._record(call, "answered", **detail)

    # ------------------------------------------------------------------ ends and hand-overs
    def _on_CallerHungUp(self, e: CallerHungUp) -> None:
        call = self.calls.pop(e.call_id, None)
        if call is None:
            return
        self._forget(call)
        self._release_all(call)
        self._cancel_call_timers(call)
        waited = round((call.answered_at or self._now) - call.arrived_at, 3)
        if call.phase is Phase.CONNECTED:
            if call.agent:
                self._agent_left(call, call.agent)
            self._record(call, "ended", by="caller" if e.by_caller else "agent",
                         talk_s=round(self._now - (call.answered_at or self._now), 3))
        elif call.phase in (Phase.RINGING, Phase.WAITING, Phase.FORWARDING):
            self._record(call, "abandoned", waited_s=waited, tried=call.offered_once)
            if not call.missed_recorded:
                self._record_missed(call, "caller hung up while waiting")
        else:
            self._record(call, "ended", by="caller" if e.by_caller else "system", phase=call.phase.value)

    def _on_AgentLegHungUp(self, e: AgentLegHungUp) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.agent != e.agent_id:
            return
        call.agent, call.last_agent = None, e.agent_id
        self._agent_left(call, e.agent_id)
        self._record(call, "agent_left", agent=e.agent_id)

    def _agent_left(self, call: Call, agent_id: str) -> None:
        status = self.agents.status(agent_id)
        if call.id in status.calls:
            status.calls.discard(call.id)
            self._emit(ReportPhoneCalls(agent_id, len(status.calls)))  # the other channels want to know
            self._watch(agent_id)
        wrapup = call.group.wrapup_s if call.group else 0.0
        if wrapup > 0:
            status.wrapup_until = self._now + wrapup
            self._emit(StartTimer(timer_key("wrapup", agent_id), wrapup))
        self._offer_waiting_calls(agent_id)

    def _on_TransferredByHand(self, e: TransferredByHand) -> None:
        call = self.calls.get(e.call_id)
        if call is None:
            return
        previous = call.agent or call.last_agent
        if previous == e.to_agent:
            return
        if call.agent:
            self._agent_left(call, call.agent)
        self._release_all(call)
        self._cancel_call_timers(call)
        call.agent, call.last_agent, call.phase = e.to_agent, previous, Phase.CONNECTED
        self._talks(e.to_agent, call.id)
        self._record(call, "transferred", from_agent=previous, to_agent=e.to_agent, kind=e.kind)
        self._emit(ReportManualTransfer(call.id, call.caller_number, previous, e.to_agent, e.kind))

    def _on_TransferFailed(self, e: TransferFailed) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.group is None:
            return
        self._record(call, "transfer_failed")
        call.agent, call.phase, call.in_hold = None, Phase.RINGING, True
        call.tried.clear()
        self._route(call)

    # ------------------------------------------------------------------ missed-call processing
    def _missed(self, call: Call, reason: str) -> None:
        if not call.missed_recorded:
            self._record_missed(call, reason)
        assert call.group is not None
        self._apply_missed(call, call.group.missed.action)

    def _record_missed(self, call: Call, reason: str) -> None:
        call.missed_recorded = True
        self._record(call, "missed", reason=reason, tried=call.offered_once,
                     waited_s=round(self._now - call.arrived_at, 3))

    def _apply_missed(self, call: Call, action: MissedAction) -> None:
        assert call.group is not None
        visited = call.groups_visited or [call.group.id]
        step = missed_calls.plan(self.config, call.group, action, visited, self._now - call.arrived_at)
        note = {"note": step.note} if step.note else {}
        if step.action is MissedAction.VOICEMAIL:
            call.phase, call.in_hold = Phase.VOICEMAIL, False
            self._record(call, "voicemail", mailbox=step.mailbox, waited_s=self._waited(call), **note)
            self._emit(SendToVoicemail(call.id, step.mailbox))
        elif step.action in (MissedAction.FORWARD_MOBILE, MissedAction.FORWARD_NUMBER):
            call.attempt += 1
            call.phase, call.in_hold, call.forward_number = Phase.FORWARDING, False, step.number
            self._record(call, "forwarded", number=step.number, attempt=call.attempt,
                         waited_s=self._waited(call), **note)
            ring_s = call.group.missed.forward_ring_s
            self._emit(Forward(call.id, call.attempt, step.number, ring_s))
            # Asterisk ends the forward's Dial at ring_s; this guards against a lost Redirect
            self._start_timer(call, timer_key("forward", call.id, call.attempt), ring_s + self.config.dial_setup_s)
        elif step.action is MissedAction.FORWARD_GROUP:
            call.groups_visited = [*visited, step.group]
            call.group = self.config.groups[step.group]
            self.in_group.add(call, self.config.groups)
            call.tried.clear()
            call.passes, call.missed_recorded = 0, False
            call.phase = Phase.RINGING
            self._record(call, "rerouted", group=step.group, **note)
            self._route(call)
        elif step.action is MissedAction.KEEP_WAITING:
            self._keep_waiting(call)
        else:
            self._hang_up(call, step.message, **note)

    def _keep_waiting(self, call: Call) -> None:
        assert call.group is not None
        policy = call.group.missed
        call.phase = Phase.WAITING
        self.waiting.add(call, self.config.groups)
        if not call.in_hold:
            call.in_hold = True
            self._emit(Hold(call.id))
        if not call.wait_started:
            call.wait_started = True
            self._record(call, "waiting", max_wait_s=policy.max_wait_s)
            self._start_timer(call, timer_key("wait", call.id), policy.max_wait_s - (self._now - call.arrived_at))
            self._start_announcements(call)
            self._offer_callback(call)
        self._start_timer(call, timer_key("retry", call.id), policy.retry_s)

    def _reoffer(self, call: Call, retry_due: bool = False) -> None:
        """A new pass over the group for a caller who keeps waiting. The retry timer runs
        all the while the caller waits: only its own firing starts it again, so events
        (a phone going idle) cannot keep pushing the next retry back."""
        call.passes += 1
        call.tried.clear()
        if self._route(call):
            self._cancel_timer(call, timer_key("retry", call.id))
        elif retry_due:
            self._start_timer(call, timer_key("retry", call.id), call.group.missed.retry_s if call.group else 5.0)

    def _offer_waiting_calls(self, agent_id: str) -> None:
        """An agent became free: the longest-waiting caller of their groups goes first
        (a callback request counts from its caller's arrival)."""
        if not self.callbacks and self.waiting.empty():
            return  # nobody waits: nearly every device-state change of a busy centre
        groups = {group_id for group_id in (*self.config.groups_of(agent_id), *self.waiting.removed_groups())
                  if any(c.group is self.config.groups.get(group_id) or agent_id in c.group.members
                         for c in self.waiting.in_group(group_id, self.calls) if c.group is not None)}
        if self.callbacks:  # only then is every group of the agent's worth a look
            groups.update(self.config.groups_of(agent_id))
        for _, waiting in self._line(groups):
            if self.agents.unavailable_because(agent_id, self._now) is not None:
                break
            if isinstance(waiting, CallbackRequest):
                self._start_callback(waiting)
            else:
                self._reoffer(waiting)

    def _hang_up(self, call: Call, message: str, **detail: Any) -> None:
        call.phase, call.in_hold = Phase.HANGING_UP, False
        self._record(call, "hangup", message=message, waited_s=self._waited(call), **detail)
        self._emit(HangUp(call.id, message))

    # ------------------------------------------------------------------ announcements
    def _start_announcements(self, call: Call) -> None:
        if call.group is None or not call.group.announce.active or call.announce is not None:
            return
        call.announce = announcements.AnnounceSchedule.starting(call.group.announce, self._now)
        self._next_announcement(call)

    def _next_announcement(self, call: Call) -> None:
        at = call.announce.next_at() if call.announce is not None else None
        if at is not None:
            self._start_timer(call, timer_key("announce", call.id), max(0.0, at - self._now))

    def _announce(self, call: Call) -> None:
        """A waiting caller's announcement falls due. Only a caller in music hears it: one
        being rung is skipped (the ring goes on; the part comes again a period later). A
        ring decided while an announcement plays is not held up either: its Redirect
        takes the caller out of the announcement at once."""
        if call.announce is None or call.group is None:
            return
        policy = call.group.announce
        if not policy.active or call.phase not in (Phase.WAITING, Phase.RINGING):
            call.announce = None  # switched off, or the caller left the line (voicemail...)
            return
        if call.phase is not Phase.WAITING or call.number_entry_until > self._now:
            # being rung, or typing a number for a callback: not in music to hear it
            announcements.skip_due(call.announce, policy, self._now)
        else:
            parts = announcements.due_parts(call.announce, policy, self._now)
            position = wait = None
            if parts.position and policy.say is not announcements.Spoken.OFF:
                position = self._place_in_line(call)
                if policy.say is announcements.Spoken.POSITION_AND_WAIT:
                    wait = announcements.wait_minutes(self.hold_average.get(call.group.id),
                                                      self._now - call.arrived_at)
            message = policy.message if parts.message else ""
            if position is not None or message:
                self._record(call, "announced", position=position, wait_minutes=wait, message=message)
                self._emit(Announce(call.id, position, wait, message))
        self._next_announcement(call)

    def _place_in_line(self, call: Call) -> int:
        """1 + the callers of the same group still waiting or being rung who came first
        (the order _offer_waiting_calls serves them in)."""
        me = (call.arrived_at, call.id)
        return 1 + sum(1 for c in self.in_group.in_group(call.group_id, self.calls)
                       if c.phase in (Phase.RINGING, Phase.WAITING) and (c.arrived_at, c.id) < me)

    # ------------------------------------------------------------------ timers
    def _on_TimerFired(self, e: TimerFired) -> None:
        kind, _, rest = e.key.partition("|")
        if kind == "callback":
            self._callback_timer(rest)
            return
        if kind == "callback-offer":
            if rest in self.calls:
                self._offer_callback(self.calls[rest], now=True)
            return
        if kind == "wrapup":
            status = self.agents.status(rest)
            if status.wrapup_until <= self._now + 1e-6:
                status.wrapup_until = 0.0
                self._offer_waiting_calls(rest)
            return
        if kind == "resume":
            self._auto_resume(rest)
            return
        if kind == "stuck":
            self._correct_stuck(rest)
            return
        call_id, _, attempt = rest.partition("|")
        call = self.calls.get(call_id)
        if call is None:
            return
        call.timers.discard(e.key)  # it ran out: nothing left to cancel
        if kind in ("noring", "ring"):
            self._ring_time_over(call, int(attempt or 0), never_rang=kind == "noring")
        elif kind == "forward" and self._current(call.id, int(attempt or 0)) is not None:
            self._record(call, "forward_failed", number=call.forward_number, dial_status="no result")
            self._apply_missed(call, MissedAction.VOICEMAIL)
        elif kind == "wait" and call.phase in (Phase.WAITING, Phase.RINGING) and call.group is not None:
            if call.group.missed.action is MissedAction.KEEP_WAITING:
                self._release_all(call)
                self._cancel_timer(call, timer_key("retry", call.id))
                self._cancel_attempt_timers(call)
                self._apply_missed(call, call.group.missed.after_wait)
        elif kind == "retry" and call.phase is Phase.WAITING:
            self._reoffer(call, retry_due=True)
        elif kind == "announce":
            self._announce(call)

    def _start_timer(self, call: Call, key: str, delay_s: float) -> None:
        call.timers.add(key)
        self._out.append(StartTimer(key, delay_s))

    def _cancel_timer(self, call: Call, key: str) -> None:
        """Cancel one of the call's timers, if it may still run: a CancelTimer for every
        timer a call might have had was one command in three (bench/ami_ingest.py)."""
        if key in call.timers:
            call.timers.discard(key)
            self._out.append(CancelTimer(key))

    def _cancel_attempt_timers(self, call: Call) -> None:
        if call.attempt and call.timers:
            for kind in ("noring", "ring", "forward"):
                self._cancel_timer(call, timer_key(kind, call.id, call.attempt))

    def _cancel_call_timers(self, call: Call) -> None:
        """Every timer of the call that may still run (an earlier attempt's too)."""
        call.announce = None
        if call.timers:
            self._out.extend(CancelTimer(key) for key in sorted(call.timers))
            call.timers.clear()

    # ------------------------------------------------------------------ agents
    def _on_DeviceStateChanged(self, e: DeviceStateChanged) -> None:
        self.agents.status(e.agent_id).device = e.state
        self._watch(e.agent_id)
        self._offer_waiting_calls(e.agent_id)

    def _on_AgentWorkChanged(self, e: AgentWorkChanged) -> None:
        status = self.agents.status(e.agent_id)
        if (status.working, status.work_reason) != (e.working, e.reason):
            self.missed_in_a_row.reset(e.agent_id)  # a pause or its end: the count starts again
        status.working, status.work_reason = e.working, e.reason
        if self._auto_paused.get(e.agent_id) not in (None, e.reason):
            # resumed, or paused again for another reason: the auto-resume is no longer theirs
            del self._auto_paused[e.agent_id]
            self._emit(CancelTimer(timer_key("resume", e.agent_id)))
        self._offer_waiting_calls(e.agent_id)

    # ------------------------------------------------------------------ pauses (``pauses``)
    def _on_PauseRequested(self, e: PauseRequested) -> None:
        if e.agent_id not in self.config.agents:
            return
        if e.paused:
            self._pause(e.agent_id, reason_for_code(self.config.pause_reasons, e.reason_code), by="phone")
        else:
            self._emit(ResumeAgent(e.agent_id, by="phone"))  # the desk confirms (AgentWorkChanged)

    def _pause(self, agent_id: str, reason: str, by: str) -> None:
        status = self.agents.status(agent_id)
        status.working, status.work_reason = False, on_break(reason)
        self.missed_in_a_row.reset(agent_id)
        self._emit(PauseAgent(agent_id, reason, by))

    def _rang_out(self, call: Call, agent_id: str) -> None:
        """An offer of ``call`` rang out at the agent: auto-pause them at the group's limit."""
        group = call.group
        if group is None or not group.pause_after_missed or not self.agents.status(agent_id).working:
            return
        reason = self.missed_in_a_row.rang_out(agent_id, group)
        if reason is None:
            return
        self._pause(agent_id, reason, by="acd")
        resume_s = group.auto_resume_s
        self._record(call, "auto_paused", agent=agent_id, reason=reason, resume_after_s=resume_s or None)
        self._emit(AlertSupervisors(group.id, self._now, "agent_auto_paused",
                                    {"agent": agent_id, "reason": reason, "call": call.id,
                                     "resume_after_s": resume_s or None}))
        if resume_s > 0:
            self._auto_paused[agent_id] = on_break(reason)
            self._emit(StartTimer(timer_key("resume", agent_id), resume_s))

    def _auto_resume(self, agent_id: str) -> None:
        reason = self._auto_paused.pop(agent_id, None)
        status = self.agents.status(agent_id)
        if reason is not None and not status.working and status.work_reason == reason:
            self._emit(ResumeAgent(agent_id, by="acd"))

    # ------------------------------------------------------------------ the stuck-state watchdog
    def _watch(self, agent_id: str) -> None:
        """Start timing a disagreement between acd and the agent's phone, or stop."""
        if self.config.stuck_after_s <= 0:
            return
        stuck = self._disagreement(agent_id) is not None
        if stuck and agent_id not in self._stuck:
            self._stuck[agent_id] = self._now
            self._emit(StartTimer(timer_key("stuck", agent_id), self.config.stuck_after_s))
        elif not stuck and agent_id in self._stuck:
            del self._stuck[agent_id]
            self._emit(CancelTimer(timer_key("stuck", agent_id)))

    def _disagreement(self, agent_id: str) -> str | None:
        status = self.agents.status(agent_id)
        rings = any(agent_id in self.calls[c].ringing for c in status.ringing if c in self.calls)
        return watchdog.disagreement(status, rings)

    def _correct_stuck(self, agent_id: str) -> None:
        since = self._stuck.pop(agent_id, None)
        belief = self._disagreement(agent_id)
        if since is None or belief is None:
            return
        status = self.agents.status(agent_id)
        detail = {"agent": agent_id, "acd_said": belief, "device": status.device.value,
                  "for_s": round(self._now - since, 3)}
        if belief == "on a call":
            for call_id in sorted(status.calls):
                call = self.calls.get(call_id)
                if call is not None:
                    self._record(call, "state_corrected", **detail)
                    if call.agent == agent_id:
                        call.agent, call.last_agent = None, agent_id
                    self._agent_left(call, agent_id)
                else:
                    status.calls.discard(call_id)
                    self._emit(ReportPhoneCalls(agent_id, len(status.calls)))
            return
        for call_id in sorted(status.ringing):
            call = self.calls.get(call_id)
            if call is None or agent_id not in call.ringing:
                continue
            self._record(call, "state_corrected", **detail)
            self._release(call, agent_id)
            if not call.pending and call.phase is Phase.RINGING:
                self._route(call)  # its Redirect ends the Dial that no longer rings anyone

    def _on_OtherChannelsLoadChanged(self, e: OtherChannelsLoadChanged) -> None:
        status = self.agents.status(e.agent_id)
        before, status.other_channels = status.other_channels, Load(0, e.chats, e.emails, e.forms)
        capacity = self.config.capacity
        if capacity is not None and status.other_channels.units(capacity) < before.units(capacity):
            self._offer_waiting_calls(e.agent_id)  # room again: waiting callers first

    def _talks(self, agent_id: str, call_id: str) -> None:
        """The agent talks on the call; the other channels are told how many calls they have."""
        calls = self.agents.status(agent_id).calls
        if call_id not in calls:
            calls.add(call_id)
            self._emit(ReportPhoneCalls(agent_id, len(calls)))
            self._watch(agent_id)

    # ------------------------------------------------------------------ pickup
    def _on_PickupRequested(self, e: PickupRequested) -> None:
        mine = [c for c in self.calls.values()
                if c.phase is Phase.RINGING and c.group is not None and e.picker_agent in c.group.members
                and c.ringing - {e.picker_agent}]
        if e.target_agent:
            mine = [c for c in mine if e.target_agent in c.ringing]
        if e.call_id is not None:  # the Intercept button: the call clicked, or a refusal
            mine = [c for c in mine if c.id == e.call_id]
        allowed = [c for c in mine if c.group is not None and c.group.allow_pickup]
        reason = None
        if e.call_id is not None and not mine:
            reason = self._why_not_pickable(e.call_id, e.picker_agent)
        elif not allowed:
            reason = "the group does not allow call pickup" if mine else "no call is ringing for you to pick up"
        elif e.via == "web" and self.agents.status(e.picker_agent).calls:
            reason = "you are on a call"  # the Intercept button rings the picker's own phone
        if reason is not None:
            for call in mine:
                self._record(call, "pickup_refused", by=e.picker_agent, reason=reason)
            self._emit(RefusePickup(e.request_id, reason))
            return
        call = min(allowed, key=lambda c: c.arrived_at)  # the longest-waiting caller first
        from_agent = e.target_agent or sorted(call.ringing - {e.picker_agent})[0]
        self._record(call, "pickup", by=e.picker_agent, from_agent=from_agent, via=e.via)
        self._emit(PickUp(e.request_id, call.id, from_agent, e.picker_agent, e.via))

    def _why_not_pickable(self, call_id: str, picker: str) -> str:
        call = self.calls.get(call_id)
        if call is None or call.phase is not Phase.RINGING:
            return "the call is no longer ringing"
        if not call.ringing - {picker}:
            return "no phone is ringing for this call yet"
        return "you are not a member of this call's queue group"

    # ------------------------------------------------------------------ reconnect / restart
    def _on_Resynced(self, e: Resynced) -> None:
        live = {c.call_id: c for c in e.calls}
        # one server's list says nothing about the calls on the others
        for call_id in [cid for cid, call in self.calls.items()
                        if cid not in live and (e.server is None or call.server == e.server)]:
            call = self.calls.pop(call_id)
            self._forget(call)
            self._release_all(call)
            self._cancel_call_timers(call)
            if call.agent:
                self._agent_left(call, call.agent)
            self._record(call, "ended", by="unknown", reason="ended while the ACD could not see the PBX")
        listed_ago = max(0.0, self._now - e.listed_at) if e.listed_at is not None else 0.0
        for found in e.calls:
            self._adopt(found, listed_ago, e.server or "")
        if e.callbacks is not None:
            self._callbacks_resynced(set(e.callbacks))

    def _adopt(self, found: LiveCall, listed_ago: float = 0.0, server: str = "") -> None:
        call = self.calls.get(found.call_id)
        if call is None:
            arrived = found.arrived_at if found.arrived_at is not None else self._now
            call = Call(found.call_id, found.did, found.caller_number, found.caller_name,
                        self.config.group_for(found.did), arrived, server=server)
            self.calls[call.id] = call
            self.in_group.add(call, self.config.groups)
            self._record(call, "recovered", state=found.state, did=found.did,
                         caller_number=found.caller_number, group=call.group_id, **_server(call))
        if found.state == "connected":
            self._release_all(call)
            self._cancel_call_timers(call)
            call.phase, call.in_hold = Phase.CONNECTED, False
            if found.agents:
                call.agent = found.agents[0]
                self._talks(call.agent, call.id)
        elif found.state == "ringing" and call.group is not None:
            if call.phase is Phase.RINGING and call.attempt == found.attempt and call.pending:
                return  # nothing changed while the link was down; the timers still run
            self._release_all(call)
            self._cancel_attempt_timers(call)
            call.phase, call.in_hold, call.attempt = Phase.RINGING, False, max(found.attempt, call.attempt)
            call.pending = set(found.agents) & set(self.config.agents)
            rung_s = found.ringing_s + listed_ago  # as of now, not as of the list
            call.ringing, call.ring_started = set(call.pending), self._now - rung_s
            for agent_id in call.pending:
                call.tried.add(agent_id)
                self.agents.status(agent_id).ringing.add(call.id)
            # the rings are counted from when the phones began, also the ones rung unseen
            left = max(0.0, call.group.ring_time_s - rung_s)
            self._start_timer(call, timer_key("ring", call.id, call.attempt), left)
        elif found.state == "waiting" and call.group is not None:
            self._release_all(call)
            self._cancel_attempt_timers(call)
            call.in_hold = True
            if call.phase is Phase.WAITING:
                call.wait_started = False
                self._keep_waiting(call)  # timers again: a restarted ACD lost them
            else:
                call.phase = Phase.RINGING
                self._route(call)
        elif found.state == "waiting":
            self._record_missed(call, "number not routed to a queue group")
            self._hang_up(call, "")
        else:
            call.phase = Phase.ELSEWHERE

    # ------------------------------------------------------------------ helpers
    def _release(self, call: Call, agent_id: str) -> None:
        if agent_id in call.pending:
            call.offer_ended[agent_id] = self._now
        call.pending.discard(agent_id)
        rang = agent_id in call.ringing
        call.ringing.discard(agent_id)
        self.agents.status(agent_id).ringing.discard(call.id)
        if rang:
            self._watch(agent_id)

    def _forget(self, call: Call) -> None:
        """A call taken out of ``calls`` leaves the indexes by group too."""
        self.waiting.discard(call)
        self.in_group.discard(call)

    def _release_all(self, call: Call) -> None:
        for agent_id in list(call.pending | call.ringing):
            self._release(call, agent_id)

    def _waited(self, call: Call) -> float:
        return round(self._now - call.arrived_at, 3)

    def _record(self, call: Call, kind: str, /, **detail: Any) -> None:
        self._out.append(Record(call.id, self._now, kind, detail))  # _emit, written out: the commonest command

    def _emit(self, command: Command) -> None:
        self._out.append(command)

    # ------------------------------------------------------------------ views
    def live_calls(self) -> Iterable[Call]:
        return sorted(self.calls.values(), key=lambda c: c.arrived_at)
