"""A thousand chats over twenty agents with limits: no limit is ever exceeded, and
nothing stays unassigned once capacity frees. Pure core, a fraction of a second."""

import random

import pytest

from acd.core.conversation_model import (
    AgentPresenceChanged,
    AlertSupervisors,
    ConversationAccepted,
    ConversationAnswered,
    ConversationClosed,
    ConversationRejected,
    Phase,
)
from acd.core.model import Mode

from .test_conversations_harness import Desk, chat, only, setup

AGENTS = tuple(f"agent{n:02}" for n in range(20))
LIMITS = {a: 1 + n % 5 for n, a in enumerate(AGENTS)}  # 1..5, 60 places in all


def busy_desk(mode: Mode) -> Desk:
    return Desk(setup(chat(mode, members=AGENTS, capacity=3, idle_s=60), agents=AGENTS, capacity=LIMITS))


def assert_within_limits(desk: Desk) -> None:
    for agent_id, held in desk.holding.items():
        assert len(held) <= LIMITS[agent_id], (agent_id, sorted(held))
        assert desk.router.load(agent_id) == len(held)


def assert_nobody_idle_while_conversations_wait(desk: Desk) -> None:
    if desk.router.waiting("telegram"):
        free = [a for a in AGENTS if len(desk.holding.get(a, ())) < LIMITS[a]]
        assert free == [], free


@pytest.mark.parametrize("mode", [Mode.STRICT, Mode.EVENLY, Mode.ALL])
def test_a_thousand_chats_over_twenty_agents_never_exceed_a_limit_and_all_get_served(mode: Mode) -> None:
    desk = busy_desk(mode)
    rng = random.Random(20240304)
    for n in range(1000):
        desk.arrive(f"c{n}")
        desk.advance(0.01)
        assert_within_limits(desk)
    assert len(desk.router.waiting("telegram")) == 1000 - sum(1 for c in desk.router.conversations.values()
                                                             if c.phase is not Phase.WAITING)
    served = 0
    while desk.router.conversations:
        offered = [(cid, a) for a, held in desk.holding.items() for cid in held
                   if desk.router.conversations[cid].phase is Phase.OFFERED]
        active = [cid for cid, c in desk.router.conversations.items() if c.phase is Phase.ACTIVE]
        assert offered or active, "conversations wait while nobody holds anything"
        if offered and (not active or rng.random() < 0.6):
            cid, agent_id = offered[rng.randrange(len(offered))]
            if rng.random() < 0.5:
                desk.send(ConversationAccepted(cid, agent_id))
            else:
                desk.send(ConversationAnswered(cid, agent_id))
        else:
            desk.send(ConversationClosed(active[rng.randrange(len(active))]))
            served += 1
        desk.advance(0.01)
        assert_within_limits(desk)
        assert_nobody_idle_while_conversations_wait(desk)
    assert served == 1000
    assert desk.router.waiting("telegram") == [] and all(not h for h in desk.holding.values())
    assert [a.kind for a in only(desk.log, AlertSupervisors)] == ["nobody_available", "recovered"]


def test_limits_hold_through_rejections_idle_timeouts_and_agents_coming_and_going() -> None:
    desk = busy_desk(Mode.EVENLY)
    rng = random.Random(7)
    offline: set[str] = set()
    for n in range(1000):
        desk.arrive(f"c{n}")
        assert_within_limits(desk)
    steps = 0
    while desk.router.conversations and steps < 20_000:
        steps += 1
        roll = rng.random()
        offered = [(cid, a) for a, held in desk.holding.items() for cid in held
                   if desk.router.conversations[cid].phase is Phase.OFFERED]
        active = [cid for cid, c in desk.router.conversations.items() if c.phase is Phase.ACTIVE]
        if roll < 0.05:
            agent_id = rng.choice(AGENTS)
            desk.send(AgentPresenceChanged(agent_id, online=agent_id in offline))
            offline ^= {agent_id}
        elif roll < 0.15 and offered:
            desk.send(ConversationRejected(*offered[rng.randrange(len(offered))]))
        elif roll < 0.2:
            desk.advance(61)  # every pending offer times out
        elif roll < 0.6 and offered:
            desk.send(ConversationAccepted(*offered[rng.randrange(len(offered))]))
        elif active:
            desk.send(ConversationClosed(active[rng.randrange(len(active))]))
        assert_within_limits(desk)
    for agent_id in sorted(offline):
        desk.send(AgentPresenceChanged(agent_id, online=True))
    while desk.router.conversations:  # everyone back: what is left drains
        for cid in [cid for cid, c in desk.router.conversations.items() if c.phase is not Phase.WAITING]:
            desk.send(ConversationClosed(cid))
        desk.advance(61)
        assert_within_limits(desk)
    assert desk.router.waiting("telegram") == [] and all(not h for h in desk.holding.values())
