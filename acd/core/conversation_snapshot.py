"""The conversation router's state as plain data (JSON-able), for a restart.

Kept: every open conversation (who holds it, its pass, its idle deadline as an epoch
time), each queue's line in order, the evenly turn, whose turn it is for e-mails and
forms, the open e-mails and forms per agent (they draw on the budget), the alert
state, agents' presence and what they did in work time (clock in, breaks). Not kept:
the limits and schedules (configuration), agents' "working" (recomputed from work
time at the new ``now``), phone calls (telephony rebuilds them from Asterisk and
tells the router again). ``ConversationRouter.restore`` loads
this into a fresh router, then restarts the timers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .conversation_model import ChannelKind, Conversation, Phase

if TYPE_CHECKING:
    from .conversations import ConversationRouter, QueueState

VERSION = 1


def dump(router: ConversationRouter) -> dict[str, Any]:
    return {**dump_shared(router), "conversations": [c.to_data() for c in router.conversations.values()]}


def dump_shared(router: ConversationRouter) -> dict[str, Any]:
    """Everything but the open conversations: a store may keep those one row each and
    write only the changed ones (``ConversationRouter.take_changed``)."""
    return {
        "version": VERSION,
        "seq": router.seq,
        "lines": {queue_id: router.waiting(queue_id) for queue_id in router.queues},
        "queues": {queue_id: {"last_offered": dict(s.last_offered), "alerted": s.alerted}
                   for queue_id, s in router.queues.items()},
        "last_in_turn": dict(router.leads.last_in_turn),
        "items": {item_id: [agent_id, kind.value] for item_id, (agent_id, kind) in router.items.items()},
        "online": {agent_id: s.online for agent_id, s in router.availability.agents.items()},
        "work_time": router.availability.work.snapshot(),
    }


def load(router: ConversationRouter, data: Mapping[str, Any]) -> None:
    """Fill a router that has not handled anything yet."""
    if data.get("version") != VERSION:
        raise ValueError(f"unknown snapshot version {data.get('version')!r}")
    availability = router.availability
    availability.work.restore(data["work_time"])
    router.seq = int(data["seq"])
    router.leads.last_in_turn = dict(data["last_in_turn"])
    for agent_id, online in data["online"].items():
        availability.agent(agent_id).online = bool(online)
    for queue_id, saved in data["queues"].items():
        state = router.queue_state(queue_id)
        state.last_offered = {a: int(n) for a, n in saved["last_offered"].items()}
        state.alerted = bool(saved["alerted"])
    for item in data["conversations"]:
        conv = router.conversations[item["id"]] = Conversation.from_data(item)
        state = router.queue_state(conv.queue_id)
        for agent_id in conv.offered:
            availability.agent(agent_id).offered[conv.id] = None
        if conv.phase is Phase.ACTIVE and conv.agent:
            availability.agent(conv.agent).active[conv.id] = None
        if conv.phase is Phase.OFFERED and conv.to_all:
            state.to_all[conv.id] = None
    for item_id, (agent_id, kind) in data.get("items", {}).items():  # absent from older snapshots
        router.items[item_id] = (agent_id, ChannelKind(kind))
        holder = availability.agent(agent_id)
        (holder.emails if kind == ChannelKind.EMAIL.value else holder.forms)[item_id] = None
    for queue_id, line in data["lines"].items():
        state = router.queue_state(queue_id)
        for cid in line:
            _append(router, state, router.conversations[cid])


def _append(router: ConversationRouter, state: QueueState, conv: Conversation) -> None:
    router.seq += 1
    conv.wait_token = router.seq
    state.line.append((conv.id, conv.wait_token))
    state.waiting += 1
