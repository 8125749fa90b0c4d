"""The conversations a step changed (``take_changed``): a store that writes only those
rows must end up with exactly the full snapshot's conversations, whatever happened."""

import random

from acd.core.conversation_model import (
    AgentPresenceChanged,
    BreakEnded,
    BreakStarted,
    ConversationAccepted,
    ConversationAnswered,
    ConversationClosed,
    ConversationEvent,
    ConversationRejected,
    ConversationTransferred,
    PhoneCallsChanged,
)
from acd.core.model import Mode

from .test_conversations_harness import AGENTS, Desk, chat, setup


def mirror_of(desk: Desk, rows: dict[str, dict[str, object]]) -> None:
    """What a store of one row per conversation holds after writing the changed ones."""
    for cid in desk.router.take_changed():
        conv = desk.router.conversations.get(cid)
        if conv is None:
            rows.pop(cid, None)
        else:
            rows[cid] = conv.to_data()


def random_event(rng: random.Random, desk: Desk, n: int) -> ConversationEvent | None:
    open_ids = list(desk.router.conversations)
    cid = rng.choice(open_ids) if open_ids else "none"
    agent = rng.choice(AGENTS)
    if rng.random() < 0.3:
        return None  # a new conversation
    return rng.choice([
        lambda: ConversationAccepted(cid, agent),
        lambda: ConversationAnswered(cid, agent),
        lambda: ConversationRejected(cid, agent),
        lambda: ConversationClosed(cid, "agent"),
        lambda: ConversationTransferred(cid, "anna", to_agent=agent),
        lambda: ConversationTransferred(cid, "anna", to_queue=rng.choice(("telegram", "site"))),
        lambda: AgentPresenceChanged(agent, rng.random() < 0.5),
        lambda: BreakStarted(agent, "lunch"),
        lambda: BreakEnded(agent),
        lambda: PhoneCallsChanged(agent, rng.choice((0, 1))),
    ])()


def test_writing_only_the_changed_conversations_keeps_the_store_equal_to_the_full_snapshot() -> None:
    for seed, mode in enumerate((Mode.STRICT, Mode.EVENLY, Mode.ALL) * 3):
        rng = random.Random(seed)
        desk = Desk(setup(chat(mode, capacity=2, idle_s=60),
                          chat(Mode.STRICT, id="site", name="Site", members=("clara", "dmitri"), capacity=1)))
        rows: dict[str, dict[str, object]] = {}
        for n in range(400):
            event = random_event(rng, desk, n)
            if event is None:
                desk.arrive(f"c{n}", queue=rng.choice(("telegram", "site")), owner=rng.choice((None, "dmitri")))
            else:
                desk.send(event)
            if rng.random() < 0.3:
                desk.advance(rng.choice((1, 30, 61)))  # idle timeouts pass offers on
            if rng.random() < 0.5:  # a store writes after some steps, not after each
                mirror_of(desk, rows)
                assert rows == {c["id"]: c for c in desk.router.snapshot()["conversations"]}, (seed, n)
        mirror_of(desk, rows)
        assert rows == {c["id"]: c for c in desk.router.snapshot()["conversations"]}
        assert len(rows) > 5


def test_the_shared_snapshot_is_the_snapshot_without_its_conversations() -> None:
    desk = Desk(setup(chat(Mode.STRICT)))
    desk.arrive("c1")
    full = desk.router.snapshot()
    assert {**desk.router.shared_snapshot(), "conversations": full["conversations"]} == full
