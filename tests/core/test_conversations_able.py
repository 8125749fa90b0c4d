"""Each chat queue's set of members who can take a conversation now (``Availability.able``)
is what ``cannot_take`` says, after every step of any mix of events: the router picks
among a queue's members from that set without asking each of them again (issue 16: one
chat's cost was mostly that question, 50 members at a time)."""

import random

from acd.core.capacity import Capacity
from acd.core.conversation_model import (
    AgentPresenceChanged,
    AgentSettings,
    BreakEnded,
    BreakStarted,
    ChannelKind,
    ChannelQueue,
    ClockedIn,
    ClockedOut,
    ConversationAccepted,
    ConversationAnswered,
    ConversationClosed,
    ConversationConfig,
    ConversationRejected,
    ConversationTransferred,
    EmailReceived,
    FormSubmitted,
    ItemClosed,
    Phase,
    PhoneCallsChanged,
)
from acd.core.conversations import ConversationRouter
from acd.core.model import Mode
from acd.core.work_time import WorkSchedule

from .test_conversations_harness import MONDAY_10_UTC, Desk, chat

AGENTS = tuple(f"agent{n}" for n in range(8))


def config(rng: random.Random) -> ConversationConfig:
    """Three chat queues sharing members (one listing a member twice, one offering during
    calls, one not checking availability), a mailbox and a form queue, one budget across
    channels, some agents with hours and clock-in."""
    def members() -> tuple[str, ...]:
        return tuple(rng.sample(AGENTS, rng.randint(2, len(AGENTS))))

    shifts = WorkSchedule.weekly("mon-sun", "10:00-10:30,10:45-12:00", breaks="11:00-11:10")
    return ConversationConfig(
        agents={a: AgentSettings(capacity=rng.choice([None, 1, 2, 3]),
                                 schedule=shifts if n % 3 == 0 else None) for n, a in enumerate(AGENTS)},
        queues={q.id: q for q in (
            chat(Mode.STRICT, members=members() + ("agent0",), id="tg", capacity=2, idle_s=90),
            chat(Mode.EVENLY, members=members(), id="web", capacity=rng.randint(1, 4), idle_s=60,
                 offer_during_calls=True),
            chat(Mode.ALL, members=members(), id="wa", capacity=3, idle_s=None, check_availability=False),
            ChannelQueue("mail", "Mail", members(), kind=ChannelKind.EMAIL),
            ChannelQueue("forms", "Forms", members(), kind=ChannelKind.FORM),
        )},
        capacity=Capacity(budget=100, chat=30, email=20, form=10),
    )


def assert_able_is_who_can_take(router: ConversationRouter) -> None:
    availability = router.availability
    for queue in router.config.queues.values():
        if queue.kind is ChannelKind.CHAT:
            can_take = {m for m in queue.members if availability.cannot_take(m, queue) is None}
            assert availability.able[queue.id] == can_take, queue.id


def test_each_queues_able_members_are_those_who_can_take_one_after_every_step() -> None:
    rng = random.Random(16)
    desk = Desk(config(rng), now=MONDAY_10_UTC)
    items: list[str] = []
    for step in range(4000):
        roll = rng.random()
        agent = rng.choice(AGENTS)
        open_ = list(desk.router.conversations.values())
        offered = [(c.id, a) for c in open_ for a in c.offered]
        active = [c for c in open_ if c.phase is Phase.ACTIVE]
        if roll < 0.25:
            desk.arrive(f"c{step}", rng.choice(["tg", "web", "wa"]), owner=rng.choice([None, agent]))
        elif roll < 0.35 and offered:
            desk.send(rng.choice([ConversationAccepted, ConversationAnswered])(*rng.choice(offered)))
        elif roll < 0.40 and offered:
            desk.send(ConversationRejected(*rng.choice(offered)))
        elif roll < 0.48 and open_:
            desk.send(ConversationClosed(rng.choice(open_).id))
        elif roll < 0.51 and active:
            target = rng.choice([{"to_agent": agent}, {"to_queue": rng.choice(["tg", "web", "wa"])}])
            desk.send(ConversationTransferred(rng.choice(active).id, "boss", **target))
        elif roll < 0.56:
            desk.send(AgentPresenceChanged(agent, online=rng.random() < 0.6))
        elif roll < 0.61:
            desk.send(rng.choice([ClockedIn, ClockedOut, BreakEnded])(agent))
        elif roll < 0.63:
            desk.send(BreakStarted(agent, "lunch"))
        elif roll < 0.68:
            desk.send(PhoneCallsChanged(agent, rng.choice([0, 0, 1])))
        elif roll < 0.73:
            items.append(f"i{step}")
            if rng.random() < 0.5:
                desk.send(EmailReceived(items[-1], "mail", f"c{step}@example.com"))
            else:
                desk.send(FormSubmitted(items[-1], "forms", f"c{step}@example.com"))
        elif roll < 0.77 and items:
            desk.send(ItemClosed(items.pop(rng.randrange(len(items)))))
        elif roll < 0.78:
            desk.apply(desk.router.reconfigure(config(rng), desk.now))
        elif roll < 0.79:
            desk.router, out = ConversationRouter.restore(desk.router.config, desk.router.snapshot(), desk.now)
            desk.apply(out)
        else:
            desk.advance(rng.choice([1, 7, 61, 300]))  # idle timeouts, retries, shifts and breaks
        assert_able_is_who_can_take(desk.router)
