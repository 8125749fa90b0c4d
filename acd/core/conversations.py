"""The conversation router: open-channel chats, e-mails and CRM form submissions.

Pure and deterministic like the telephony router: ``handle(event, now)`` reads nothing
but its arguments and its own state and returns commands (``conversation_model``).

Chats (queues of kind CHAT)
- Modes. Strict: every conversation starts at the top of the list and goes to the first
  member who can take it. Evenly: to the member least recently offered a conversation
  of this queue (any offer counts, answered or not; never-offered members first, ties to
  list order; "recently" is the order of offers, not the clock, so a burst arriving in
  one instant still spreads). To all: every member who can take it gets the offer; the
  first to accept or answer takes it and it is withdrawn from the others; a member who
  becomes able while the offer stands joins it.
- "Can take": see ``conversation_agents`` (works, online, below their limit).
- Passes. A conversation is offered to each member at most once per pass; when every
  member who can take it has had it, a new pass begins. Whoever just let it go (idle
  timeout, rejection, transfer) is not offered it again in the same step. When nobody
  else can take it: after an idle timeout it stays with the same agent (logged, idle
  timer restarted); after a rejection or a transfer it waits in the queue.
- A recognised client (``owner_agent``) goes first to the owner, member of the queue or
  not, if the owner can take it by this queue's rules; otherwise, or when the owner lets
  it go, the queue's distribution takes over (Bitrix falls back; nothing waits for the
  owner). The owner keeps priority until offered it once.
- Waiting: conversations nobody can take wait in their queue's line, first come first
  served; a conversation that comes back to its queue goes to the head of the line (it
  came before those still waiting), one transferred from another queue to the tail.
  A change that frees a member (close, reject, come online, clock in, end of a break, a
  shift starting, a phone call ending, an e-mail or form closed, a new configuration)
  serves the line at once.
- Idle time: an offer not accepted or answered within the queue's idle time passes to
  the next agent by the mode; a "to all" offer stays with everyone (logged once).
  Accepting or answering stops the idle timer. An agent who goes offline, clocks out
  or starts a break gives back offers not yet accepted (when the queue checks
  availability); conversations already accepted stay with them.
- A hand transfer to an agent offers the conversation to that agent regardless of their
  availability and limit (a person decided) and reports it for the CRM owner; a transfer
  to a queue returns it to that queue's distribution. The owner report is left out
  when the conversation's queue has ``owner_follows_transfer`` off.
- Working hours: a conversation arriving outside its channel's hours is marked
  (``outside_hours``, a timeline line) and gets the channel's auto-reply
  (``TellCustomer``, why "outside_hours"); inside them, the waiting message (why
  "waiting"). It enters the queue either way: whoever works then may take it.
- Supervisors are alerted when a queue has conversations waiting and no member can
  take one, and again when that is over (once per transition).

E-mails and forms are assigned at once (no offer, no idle time, no limit): see
``lead_distribution``. Until closed (``ItemClosed``) they draw on their agent's budget.

One capacity across channels (``capacity``): telephony tells this router how many calls
an agent talks on (``PhoneCallsChanged``) and learns what the agent holds here from
``ReportChannelLoad``, emitted once per step for each agent whose load changed.

Cost per event: O(members of the queues involved); the lines are deques with lazy
removal, so nothing scans every conversation.

Around this module: ``conversation_model`` (configuration, events, commands, state),
``conversation_agents`` (who can take work), ``work_time``, ``lead_distribution``
(e-mails and forms), ``conversation_snapshot`` (restart).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import conversation_snapshot
from .commands import CancelTimer, StartTimer
from .conversation_agents import SHIFT, Availability
from .conversation_model import (
    IDLE_MIN_S,
    AgentPresenceChanged,
    AlertSupervisors,
    AssignItem,
    BreakEnded,
    BreakScheduled,
    BreakStarted,
    ChannelKind,
    ChannelQueue,
    ClockedIn,
    ClockedOut,
    Conversation,
    ConversationAccepted,
    ConversationAnswered,
    ConversationArrived,
    ConversationClosed,
    ConversationCommand,
    ConversationConfig,
    ConversationEvent,
    ConversationRejected,
    ConversationTransferred,
    EmailReceived,
    FormSubmitted,
    ItemClosed,
    Offer,
    Phase,
    PhoneCallsChanged,
    ReportChannelLoad,
    ReportConversationTransfer,
    TellCustomer,
    TimelineRecord,
    Withdraw,
    WorkStateChanged,
)
from .events import TimerFired
from .lead_distribution import Leads
from .model import Mode

IDLE = "conv-idle"  # timer key prefixes (SHIFT: conversation_agents)
RETRY = "conv-retry"


@dataclass(slots=True)
class QueueState:
    line: deque[tuple[str, int]] = field(default_factory=deque)  # (conversation id, wait token)
    waiting: int = 0  # valid entries in the line
    newly_able: dict[str, None] = field(default_factory=dict)  # members who became able this step
    to_all: dict[str, None] = field(default_factory=dict)  # conversations in a "to all" offer
    last_offered: dict[str, int] = field(default_factory=dict)  # evenly: agent -> offer sequence
    alerted: bool = False


class ConversationRouter:
    def __init__(self, config: ConversationConfig) -> None:
        self.config = config
        self.availability = Availability(config)
        self.leads = Leads()
        self.conversations: dict[str, Conversation] = {}
        self.items: dict[str, tuple[str, ChannelKind]] = {}  # open e-mails and forms: (agent, kind)
        self.queues: dict[str, QueueState] = {}
        self.seq = 0  # orders offers (evenly) and line entries
        self._started = False
        self._out: list[ConversationCommand] = []
        self._now = 0.0
        self._to_drain: dict[str, None] = {}
        self._dirty: dict[str, None] = {}
        self._avoid: dict[str, set[str]] = {}  # this step: who just let a conversation go
        self._loads: dict[str, None] = {}  # this step: agents whose load may have changed
        self._reported: dict[str, tuple[int, int, int]] = {}  # agent -> load last told to telephony
        # conversations changed (or closed) since ``take_changed``: the desk writes only
        # those rows, not every open conversation at each write
        self._changed: dict[str, None] = {}
        self._members_once: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # see _unique_members

    # ------------------------------------------------------------------ entry points
    def handle(self, event: ConversationEvent, now: float) -> list[ConversationCommand]:
        self._begin(now)
        getattr(self, "_on_" + type(event).__name__)(event)
        return self._finish()

    def reconfigure(self, config: ConversationConfig, now: float) -> list[ConversationCommand]:
        """New settings apply from now; waiting conversations are served again."""
        self._begin(now)
        self.config = config
        self.availability.reconfigure(config)
        for agent_id, state in list(self.availability.agents.items()):
            if agent_id not in config.agents:
                for cid in list(state.offered):
                    self._let_go(self.conversations[cid], agent_id, "agent removed from the configuration")
        for agent_id in config.agents:
            self._update_work(agent_id)
        self._recount()
        return self._finish()

    def snapshot(self) -> dict[str, Any]:
        """Plain data (JSON-able) to rebuild the router after a restart."""
        return conversation_snapshot.dump(self)

    @classmethod
    def restore(cls, config: ConversationConfig, data: Mapping[str, Any],
                now: float) -> tuple[ConversationRouter, list[ConversationCommand]]:
        """A router with every open conversation of ``data``; the commands restart the
        idle timers (what remains of each stored deadline, at once if it passed while
        down) and the shift timers, give back offers of agents who stopped working
        meanwhile (shift over, clocked out), and serve the lines."""
        router = cls(config)
        conversation_snapshot.load(router, data)
        router._begin(now)
        for conv in router.conversations.values():
            if conv.phase is Phase.OFFERED and conv.deadline is not None:
                router._emit(StartTimer(f"{IDLE}|{conv.id}|{conv.attempt}", max(0.0, conv.deadline - now)))
        for agent_id in config.agents:
            router._update_work(agent_id, before=True)
        return router, router._finish()

    def _begin(self, now: float) -> None:
        self._out, self._now = [], now
        if not self._started:
            self._started = True
            for agent_id in self.config.agents:
                self.availability.reread_work(agent_id, now)
                self._schedule_shift(agent_id)
            self._recount()

    def _finish(self) -> list[ConversationCommand]:
        while self._to_drain:
            queue_id = next(iter(self._to_drain))
            del self._to_drain[queue_id]
            self._drain(queue_id)
        for queue_id in self._dirty:
            self._check_alert(queue_id)
        self._dirty.clear()
        for cid in self._avoid:
            conv = self.conversations.get(cid)
            if conv is not None and conv.phase is Phase.WAITING:
                # only whoever just let it go could take it: look again after the idle time
                queue = self.config.queues.get(conv.queue_id)
                self._emit(StartTimer(f"{RETRY}|{cid}", (queue.idle_s if queue else None) or IDLE_MIN_S))
        self._avoid.clear()
        for agent_id in self._loads:
            self._report_load(agent_id)
        self._loads.clear()
        out, self._out = self._out, []
        return out

    def _report_load(self, agent_id: str) -> None:
        """Tell telephony when what the agent holds here changed (``capacity``)."""
        state = self.availability.agents.get(agent_id)
        load = (state.load, len(state.emails), len(state.forms)) if state else (0, 0, 0)
        if load != self._reported.get(agent_id, (0, 0, 0)):
            self._reported[agent_id] = load
            self._emit(ReportChannelLoad(agent_id, *load))

    def _recount(self) -> None:
        for queue_id, newly in self.availability.recount().items():
            self.queue_state(queue_id).newly_able.update(dict.fromkeys(newly))
            self._to_drain[queue_id] = None
            self._dirty[queue_id] = None

    # ------------------------------------------------------------------ chats: arrival and choice
    def _on_ConversationArrived(self, e: ConversationArrived) -> None:
        if e.conversation_id in self.conversations:
            return  # delivered twice
        queue = self.config.queues.get(e.queue_id)
        if queue is None or queue.kind is not ChannelKind.CHAT:
            self._record(e.conversation_id, "unrouted", queue=e.queue_id, reason="no such chat queue")
            return
        conv = Conversation(e.conversation_id, queue.id, e.client, e.owner_agent, self._now)
        self.conversations[conv.id] = conv
        self._touch(conv)
        self._record(conv.id, "arrived", queue=queue.id, client=e.client, owner=e.owner_agent)
        self._greet(conv, queue)
        self._distribute(conv, front=False)

    def _greet(self, conv: Conversation, queue: ChannelQueue) -> None:
        """Outside the channel's hours: marked, and the auto-reply; inside: the waiting
        message. Either way the conversation enters the queue (an agent may be working)."""
        if queue.hours is not None and not queue.hours.in_hours(self._now):
            conv.outside_hours = True
            self._record(conv.id, "outside_hours", queue=queue.id, auto_reply=bool(queue.auto_reply))
            if queue.auto_reply:
                self._emit(TellCustomer(conv.id, queue.auto_reply, "outside_hours"))
        elif queue.waiting_message:
            self._emit(TellCustomer(conv.id, queue.waiting_message, "waiting"))

    def _distribute(self, conv: Conversation, front: bool) -> None:
        """Offer now if the queue's line is empty (or to a recognised client's owner), else wait."""
        self._touch(conv)
        conv.phase = Phase.WAITING
        queue = self.config.queues.get(conv.queue_id)
        if queue is not None:
            # nobody jumps the line, but an owner may serve their client
            owner_only = self.queue_state(queue.id).waiting > 0
            chosen, to_all, detail = self._choose(conv, queue, owner_only)
            if chosen or not owner_only:
                self._record(conv.id, "considered", **detail)
            if chosen:
                self._offer(conv, queue, chosen, to_all)
                return
        self._enqueue(conv, front)

    def _choose(self, conv: Conversation, queue: ChannelQueue,
                owner_only: bool = False) -> tuple[tuple[str, ...], bool, dict[str, Any]]:
        """Who gets the conversation now: (agents, is a "to all" offer, history detail)."""
        avoid = self._avoid.get(conv.id, set())
        detail: dict[str, Any] = {}
        owner = conv.owner
        if queue.owner_first and owner and not conv.owner_offered and owner not in avoid:
            reason = self.availability.cannot_take(owner, queue)
            if reason is None:
                return (owner,), False, {"rule": "client's owner", "chosen": [owner]}
            detail["owner"] = {"agent": owner, "skipped": reason}
        if owner_only:
            return (), False, detail
        skipped: dict[str, str] = {}
        fresh: list[str] = []
        again: list[str] = []
        # who can take one is known (``Availability.able``): only the others are asked
        # why not, for the history (asking all 50 members of a queue was most of a chat's cost)
        able = self.availability.able.get(queue.id, ())
        for member in self._ordered(queue):
            if member in avoid:
                reason = "passed it on just now"
            else:
                reason = None if member in able else self.availability.cannot_take(member, queue)
            if reason is not None:
                skipped[member] = reason
            else:
                (again if member in conv.tried else fresh).append(member)
        if not fresh and again:
            self._touch(conv)
            conv.tried.clear()  # everyone who can take it had it: a new pass
            conv.passes += 1
            fresh, again = again, []
        skipped.update((m, "offered earlier in this pass") for m in again)
        chosen = tuple(fresh) if queue.mode is Mode.ALL else tuple(fresh[:1])
        detail.update(rule=queue.mode.value, chosen=list(chosen), skipped=skipped, passes=conv.passes)
        return chosen, queue.mode is Mode.ALL and bool(chosen), detail

    def _ordered(self, queue: ChannelQueue) -> list[str]:
        members = list(self._unique_members(queue))
        if queue.mode is Mode.EVENLY:
            # longest since their last offer first; a stable sort keeps the listed order among equals
            last = self.queue_state(queue.id).last_offered
            members.sort(key=lambda m: last.get(m, -1))
        return members

    def _unique_members(self, queue: ChannelQueue) -> tuple[str, ...]:
        """The queue's members in their order, each once (one may be listed twice):
        worked out again only when the configuration gives the queue other members."""
        listed, unique = self._members_once.get(queue.id, ((), ()))
        if listed is not queue.members:
            listed, unique = queue.members, tuple(dict.fromkeys(queue.members))
            self._members_once[queue.id] = (listed, unique)
        return unique

    # ------------------------------------------------------------------ chats: offers and lines
    def _offer(self, conv: Conversation, queue: ChannelQueue | None, agents: tuple[str, ...], to_all: bool) -> None:
        self._touch(conv)
        conv.phase, conv.agent, conv.to_all = Phase.OFFERED, None, to_all
        conv.attempt += 1
        conv.offered = {}
        idle_s = queue.idle_s if queue else None
        self._emit(Offer(conv.id, conv.queue_id, agents, idle_s))
        self._record(conv.id, "offered", agents=list(agents), attempt=conv.attempt, idle_s=idle_s)
        for agent_id in agents:
            self._hand(conv, agent_id)
        if to_all:
            self.queue_state(conv.queue_id).to_all[conv.id] = None
        self._start_idle(conv, idle_s)

    def _hand(self, conv: Conversation, agent_id: str) -> None:
        self._touch(conv)
        conv.offered[agent_id] = None
        conv.tried.add(agent_id)
        conv.owner_offered = conv.owner_offered or agent_id == conv.owner
        self.seq += 1
        self.queue_state(conv.queue_id).last_offered[agent_id] = self.seq
        self.availability.agent(agent_id).offered[conv.id] = None
        self._refresh(agent_id)

    def _enqueue(self, conv: Conversation, front: bool) -> None:
        self._touch(conv)
        state = self.queue_state(conv.queue_id)
        self.seq += 1
        conv.phase, conv.wait_token = Phase.WAITING, self.seq
        entry = (conv.id, conv.wait_token)
        state.line.appendleft(entry) if front else state.line.append(entry)
        state.waiting += 1
        self._record(conv.id, "waiting", queue=conv.queue_id, ahead=0 if front else state.waiting - 1)
        self._dirty[conv.queue_id] = None
        if self.availability.able.get(conv.queue_id):
            self._to_drain[conv.queue_id] = None

    def _leave_line(self, conv: Conversation) -> None:
        if conv.phase is Phase.WAITING and conv.wait_token:
            self._touch(conv)
            state = self.queue_state(conv.queue_id)
            state.waiting -= 1
            conv.wait_token = 0  # its line entry is now stale and skipped
            self._dirty[conv.queue_id] = None
            if not state.waiting:
                state.line.clear()

    def _drain(self, queue_id: str) -> None:
        """Serve the line while members can take work, then widen "to all" offers."""
        queue, state = self.config.queues.get(queue_id), self.queue_state(queue_id)
        able = self.availability.able.get(queue_id, set())
        if queue is None or queue.kind is not ChannelKind.CHAT:
            return
        held: list[tuple[str, int]] = []
        while state.line and able and state.waiting:
            cid, token = state.line.popleft()
            conv = self.conversations.get(cid)
            if conv is None or conv.phase is not Phase.WAITING or conv.wait_token != token:
                continue
            chosen, to_all, detail = self._choose(conv, queue)
            if not chosen:
                held.append((cid, token))  # only people who just let it go could take it
                continue
            self._leave_line(conv)
            self._record(conv.id, "considered", **detail)
            self._offer(conv, queue, chosen, to_all)
        state.line.extendleft(reversed(held))
        newly, state.newly_able = state.newly_able, {}
        if queue.mode is Mode.ALL:
            for agent_id in newly:
                self._join_offers(state, queue, agent_id)

    def _join_offers(self, state: QueueState, queue: ChannelQueue, agent_id: str) -> None:
        for cid in list(state.to_all):
            if agent_id not in self.availability.able[queue.id]:
                return
            conv = self.conversations[cid]
            if agent_id in conv.offered or agent_id in conv.tried or agent_id in self._avoid.get(cid, ()):
                continue
            remaining = None if conv.deadline is None else conv.deadline - self._now
            self._emit(Offer(conv.id, queue.id, (agent_id,), remaining))
            self._record(conv.id, "offered", agents=[agent_id], attempt=conv.attempt, idle_s=remaining, joined=True)
            self._hand(conv, agent_id)

    # ------------------------------------------------------------------ chats: responses
    def _on_ConversationAccepted(self, e: ConversationAccepted) -> None:
        self._respond(e.conversation_id, e.agent_id, "accepted")

    def _on_ConversationAnswered(self, e: ConversationAnswered) -> None:
        conv = self._respond(e.conversation_id, e.agent_id, "answered")
        if conv is not None and conv.agent == e.agent_id and not conv.answered:
            self._touch(conv)
            conv.answered = True
            self._record(conv.id, "answered", agent=e.agent_id, response_s=round(self._now - conv.arrived_at, 3))

    def _respond(self, cid: str, agent_id: str, how: str) -> Conversation | None:
        conv = self.conversations.get(cid)
        if conv is None or (conv.phase is Phase.ACTIVE and conv.agent == agent_id):
            return conv
        if conv.phase is not Phase.OFFERED or agent_id not in conv.offered:
            taken = f"taken by {conv.agent}" if conv.agent else "not offered to this agent"
            self._record(conv.id, "response_refused", agent=agent_id, how=how, reason=taken)
            return None
        others = tuple(a for a in conv.offered if a != agent_id)
        if others:
            self._withdraw(conv, others, f"taken by {agent_id}")
        self._stop_idle(conv)
        state = self.availability.agent(agent_id)
        state.offered.pop(conv.id, None)
        state.active[conv.id] = None
        self._touch(conv)
        conv.offered, conv.phase, conv.agent, conv.to_all = {}, Phase.ACTIVE, agent_id, False
        self.queue_state(conv.queue_id).to_all.pop(conv.id, None)
        self._record(conv.id, "accepted", agent=agent_id, how=how, waited_s=round(self._now - conv.arrived_at, 3))
        return conv

    def _on_ConversationRejected(self, e: ConversationRejected) -> None:
        conv = self.conversations.get(e.conversation_id)
        if conv is not None and (e.agent_id in conv.offered or conv.agent == e.agent_id):
            self._let_go(conv, e.agent_id, "rejected")

    def _on_ConversationClosed(self, e: ConversationClosed) -> None:
        conv = self.conversations.pop(e.conversation_id, None)
        if conv is None:
            return
        self._touch(conv)  # gone: its row is deleted
        agent_id, phase = conv.agent, conv.phase
        self._leave_line(conv)
        self._stop_idle(conv)
        self.queue_state(conv.queue_id).to_all.pop(conv.id, None)
        if conv.offered:
            self._withdraw(conv, tuple(conv.offered), "closed")
        elif agent_id:
            self._drop(conv, agent_id)
        self._record(conv.id, "closed", by=e.by, agent=agent_id, phase=phase.value,
                     open_s=round(self._now - conv.arrived_at, 3))

    def _on_ConversationTransferred(self, e: ConversationTransferred) -> None:
        conv = self.conversations.get(e.conversation_id)
        if conv is None:
            return
        target = self.config.queues.get(e.to_queue) if e.to_queue else None
        holders = tuple(conv.offered) or ((conv.agent,) if conv.agent else ())
        from_agent = holders[0] if len(holders) == 1 else None
        refused = ("name one target: an agent or a queue" if bool(e.to_agent) == bool(e.to_queue)
                   else "unknown agent" if e.to_agent and e.to_agent not in self.config.agents
                   else "no such chat queue" if e.to_queue and (target is None or target.kind is not ChannelKind.CHAT)
                   else None)
        if refused:
            self._record(conv.id, "transfer_refused", by=e.by, to_agent=e.to_agent, to_queue=e.to_queue,
                         reason=refused)
            return
        if e.to_agent and holders == (e.to_agent,):
            return
        if holders:
            self._withdraw(conv, holders, "transferred")
        self._stop_idle(conv)
        self._leave_line(conv)
        self.queue_state(conv.queue_id).to_all.pop(conv.id, None)
        source = self.config.queues.get(conv.queue_id)
        owner_follows = source is None or source.owner_follows_transfer
        self._record(conv.id, "transferred", by=e.by, from_agent=from_agent, to_agent=e.to_agent, to_queue=e.to_queue,
                     owner_follows=owner_follows)
        if e.to_agent:
            note = self.availability.cannot_take(e.to_agent, self.config.queues[conv.queue_id]) \
                if conv.queue_id in self.config.queues else None
            if note:
                self._record(conv.id, "transfer_note", agent=e.to_agent, note=note)
            self._offer(conv, self.config.queues.get(conv.queue_id), (e.to_agent,), to_all=False)
            if owner_follows:
                self._emit(ReportConversationTransfer(conv.id, conv.client, from_agent, e.to_agent, e.by))
        elif target is not None:
            self._record(conv.id, "returned_to_queue", agents=list(holders), reason="transferred", queue=target.id)
            self._touch(conv)
            conv.queue_id, conv.tried, conv.passes = target.id, set(), 0
            self._avoid.setdefault(conv.id, set()).update(holders)
            self._distribute(conv, front=False)

    # ------------------------------------------------------------------ chats: letting go
    def _let_go(self, conv: Conversation, agent_id: str, reason: str) -> None:
        """``agent_id`` gives the conversation back: the next agent, or the line."""
        self._touch(conv)
        self._withdraw(conv, (agent_id,), reason)
        if conv.offered:  # a "to all" offer: the others still have it
            self._record(conv.id, "offer_withdrawn", agents=[agent_id], reason=reason)
            if reason != "rejected":
                conv.tried.discard(agent_id)  # may join the offer again once back
            return
        self._stop_idle(conv)
        self.queue_state(conv.queue_id).to_all.pop(conv.id, None)
        conv.agent, conv.to_all = None, False
        self._record(conv.id, "returned_to_queue", agents=[agent_id], reason=reason)
        self._avoid.setdefault(conv.id, set()).add(agent_id)
        self._distribute(conv, front=True)

    def _withdraw(self, conv: Conversation, agents: tuple[str, ...], reason: str) -> None:
        self._emit(Withdraw(conv.id, agents, reason))
        for agent_id in agents:
            self._drop(conv, agent_id)

    def _drop(self, conv: Conversation, agent_id: str) -> None:
        self._touch(conv)
        conv.offered.pop(agent_id, None)
        if conv.agent == agent_id:
            conv.agent = None
        state = self.availability.agent(agent_id)
        state.offered.pop(conv.id, None)
        state.active.pop(conv.id, None)
        self._refresh(agent_id)

    def _idle_timeout(self, conv: Conversation) -> None:
        self._touch(conv)
        queue = self.config.queues.get(conv.queue_id)
        holders = tuple(conv.offered)
        conv.deadline = None
        self._record(conv.id, "no_response", agents=list(holders), idle_s=queue.idle_s if queue else None)
        if conv.to_all or queue is None:
            return  # a "to all" offer stays with everyone
        self._avoid.setdefault(conv.id, set()).update(holders)
        chosen, to_all, detail = self._choose(conv, queue)
        if not chosen:
            self._record(conv.id, "kept", agents=list(holders), reason="idle timeout, nobody else can take it")
            self._start_idle(conv, queue.idle_s)
            return
        self._withdraw(conv, holders, "idle timeout")
        self._record(conv.id, "returned_to_queue", agents=list(holders), reason="idle timeout")
        self._record(conv.id, "considered", **detail)
        self._offer(conv, queue, chosen, to_all)

    def _start_idle(self, conv: Conversation, idle_s: float | None) -> None:
        self._touch(conv)
        conv.deadline = None if idle_s is None else self._now + idle_s
        if idle_s is not None:
            self._emit(StartTimer(f"{IDLE}|{conv.id}|{conv.attempt}", idle_s))

    def _stop_idle(self, conv: Conversation) -> None:
        self._touch(conv)
        if conv.deadline is not None:
            conv.deadline = None
            self._emit(CancelTimer(f"{IDLE}|{conv.id}|{conv.attempt}"))

    # ------------------------------------------------------------------ agents and work time
    def _on_AgentPresenceChanged(self, e: AgentPresenceChanged) -> None:
        if e.agent_id in self.config.agents:
            state = self.availability.agent(e.agent_id)
            before = state.available
            state.online = e.online
            self._update_work(e.agent_id, before)

    def _on_ClockedIn(self, e: ClockedIn) -> None:
        self.availability.work.clock_in(e.agent_id)
        self._update_work(e.agent_id)

    def _on_ClockedOut(self, e: ClockedOut) -> None:
        self.availability.work.clock_out(e.agent_id)
        self._update_work(e.agent_id)

    def _on_BreakStarted(self, e: BreakStarted) -> None:
        self.availability.work.start_break(e.agent_id, e.reason)
        self._update_work(e.agent_id)

    def _on_BreakEnded(self, e: BreakEnded) -> None:
        self.availability.work.end_break(e.agent_id)
        self._update_work(e.agent_id)

    def _on_BreakScheduled(self, e: BreakScheduled) -> None:
        self.availability.work.schedule_break(e.agent_id, e.starts_at, e.ends_at)
        self._update_work(e.agent_id)

    def _update_work(self, agent_id: str, before: bool | None = None) -> None:
        """Re-read the agent's work time; give back pending offers when they stop being
        available; serve their queues when they become able; time the next change."""
        if agent_id not in self.config.agents:
            return
        state = self.availability.agent(agent_id)
        before = state.available if before is None else before
        if self.availability.reread_work(agent_id, self._now):
            self._emit(WorkStateChanged(agent_id, self._now, state.working, state.reason or "working"))
        self._schedule_shift(agent_id)
        if before and not state.available:
            why = f"agent not working ({state.reason})" if not state.working else "agent went offline"
            for cid in list(state.offered):
                queue = self.config.queues.get(self.conversations[cid].queue_id)
                if queue is None or queue.check_availability:
                    self._let_go(self.conversations[cid], agent_id, why)
        self._refresh(agent_id)

    def _schedule_shift(self, agent_id: str) -> None:
        timer = self.availability.shift_timer(agent_id, self._now)
        if timer is not None:
            self._emit(timer)

    def _refresh(self, agent_id: str) -> None:
        self._loads[agent_id] = None
        for queue_id, became_able in self.availability.refresh(agent_id):
            if became_able:
                self.queue_state(queue_id).newly_able[agent_id] = None
            if became_able or (became_able is None and self.queue_state(queue_id).waiting):
                self._to_drain[queue_id] = None  # e.g. a rejected conversation may come back now
            if became_able is not None:
                self._dirty[queue_id] = None

    def _check_alert(self, queue_id: str) -> None:
        state, queue = self.queue_state(queue_id), self.config.queues.get(queue_id)
        if queue is None:
            return
        starved = state.waiting > 0 and not self.availability.able.get(queue_id)
        if starved == state.alerted:
            return
        state.alerted = starved
        detail: dict[str, Any] = {"waiting": state.waiting}
        if starved:
            detail["members"] = {m: self.availability.cannot_take(m, queue) for m in dict.fromkeys(queue.members)}
        self._emit(AlertSupervisors(queue_id, self._now, "nobody_available" if starved else "recovered", detail))

    # ------------------------------------------------------------------ timers
    def _on_TimerFired(self, e: TimerFired) -> None:
        kind, _, rest = e.key.partition("|")
        if kind == SHIFT:
            self.availability.shift_timer_fired(rest)
            self._update_work(rest)
        elif kind == RETRY:
            conv = self.conversations.get(rest)
            if conv is not None and conv.phase is Phase.WAITING:
                self._to_drain[conv.queue_id] = None
        elif kind == IDLE:
            cid, _, attempt = rest.rpartition("|")
            conv = self.conversations.get(cid)
            if conv is not None and conv.phase is Phase.OFFERED and str(conv.attempt) == attempt:
                self._idle_timeout(conv)

    # ------------------------------------------------------------------ e-mails and forms
    def _on_EmailReceived(self, e: EmailReceived) -> None:
        queue = self._lead_queue(e.item_id, e.queue_id, ChannelKind.EMAIL)
        if queue is not None:
            self._assigned(self.leads.email(e, queue, self.config.agents, self._not_working(queue), self._now))

    def _on_FormSubmitted(self, e: FormSubmitted) -> None:
        queue = self._lead_queue(e.item_id, e.queue_id, ChannelKind.FORM)
        if queue is not None:
            self._assigned(self.leads.form(e, queue, self.config.agents, self._not_working(queue), self._now))

    def _assigned(self, out: list[ConversationCommand]) -> None:
        """Emit the leads' commands; an assigned item draws on its agent's budget until closed."""
        self._out += out
        for cmd in out:
            if isinstance(cmd, AssignItem) and cmd.agent_id:
                self._release_item(cmd.item_id)  # the same item again: counted once
                kind = self.config.queues[cmd.queue_id].kind
                self.items[cmd.item_id] = (cmd.agent_id, kind)
                state = self.availability.agent(cmd.agent_id)
                (state.emails if kind is ChannelKind.EMAIL else state.forms)[cmd.item_id] = None
                self._refresh(cmd.agent_id)

    def _on_ItemClosed(self, e: ItemClosed) -> None:
        self._release_item(e.item_id)

    def _release_item(self, item_id: str) -> None:
        held = self.items.pop(item_id, None)
        if held is not None:
            state = self.availability.agent(held[0])
            state.emails.pop(item_id, None)
            state.forms.pop(item_id, None)
            self._refresh(held[0])  # room again: the lines are served at once

    def _on_PhoneCallsChanged(self, e: PhoneCallsChanged) -> None:
        if e.agent_id in self.config.agents:
            self.availability.agent(e.agent_id).calls = max(0, e.calls)
            self._refresh(e.agent_id)  # a call ended: waiting conversations are offered at once

    def _lead_queue(self, item_id: str, queue_id: str, kind: ChannelKind) -> ChannelQueue | None:
        queue = self.config.queues.get(queue_id)
        if queue is None or queue.kind is not kind:
            self._record(item_id, "unrouted", queue=queue_id, reason=f"no such {kind.value} queue")
            return None
        return queue

    def _not_working(self, queue: ChannelQueue) -> Callable[[str], str | None] | None:
        if not queue.check_availability:
            return None

        def not_working(agent_id: str) -> str | None:
            agent = self.availability.agent(agent_id)
            return None if agent.working else f"not working ({agent.reason})"

        return not_working

    # ------------------------------------------------------------------ helpers and views
    def queue_state(self, queue_id: str) -> QueueState:
        state = self.queues.get(queue_id)
        if state is None:
            state = self.queues[queue_id] = QueueState()
        return state

    def _touch(self, conv: Conversation) -> None:
        self._changed[conv.id] = None

    def take_changed(self) -> list[str]:
        """The conversations changed since the last call, closed ones included (no
        longer in ``conversations``): what a store of one row per conversation writes."""
        changed, self._changed = list(self._changed), {}
        return changed

    def shared_snapshot(self) -> dict[str, Any]:
        """``snapshot`` without the conversations (stored one row each, see ``take_changed``)."""
        return conversation_snapshot.dump_shared(self)

    def _record(self, item_id: str, kind: str, /, **detail: Any) -> None:
        self._emit(TimelineRecord(item_id, self._now, kind, detail))

    def _emit(self, command: ConversationCommand) -> None:
        self._out.append(command)

    def load(self, agent_id: str) -> int:
        """Open conversations of the agent: accepted plus offers awaiting a response."""
        state = self.availability.agents.get(agent_id)
        return state.load if state else 0

    def waiting(self, queue_id: str) -> list[str]:
        """The queue's line, first in first (a view: O(line))."""
        state = self.queues.get(queue_id)
        if state is None:
            return []
        return [cid for cid, token in state.line
                if cid in self.conversations and self.conversations[cid].wait_token == token
                and self.conversations[cid].phase is Phase.WAITING]

    def is_working(self, agent_id: str) -> bool:
        """The core's current answer (work time read at the last change or shift timer)."""
        state = self.availability.agents.get(agent_id)
        return state is not None and state.working
