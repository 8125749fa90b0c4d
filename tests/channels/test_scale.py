"""1,000 chats over 20 agents, all through the HTTP API: nobody ever holds more than
their limit, and nothing waits while somebody has room. About 8 s on a laptop (not
asserted: a loaded CI machine must not make it fail)."""

from __future__ import annotations

from .support import FakeClock, Service, chat, settings

AGENTS = tuple(f"a{n:02}" for n in range(20))
CAPACITY = 5
CHATS = 1000


async def test_a_thousand_chats_over_twenty_agents_never_exceed_the_limit_and_none_is_left(db_url: str) -> None:
    config = settings(chat(members=AGENTS, mode="evenly", capacity=CAPACITY, idle_seconds="never"), agents=AGENTS)
    async with Service(config, db_url, FakeClock()) as svc:
        desk = svc.desk

        def check() -> None:
            loads = [desk.load(a) for a in AGENTS]
            assert max(loads) <= CAPACITY
            if desk.router.waiting("telegram"):  # something waits: then nobody has room
                assert loads == [CAPACITY] * len(AGENTS)

        for n in range(CHATS):
            await svc.chat(f"telegram:{n}")
            check()
        assert len((await svc.get("/queues/telegram/waiting"))["waiting"]) == CHATS - CAPACITY * len(AGENTS)

        closed = 0
        handled = dict.fromkeys(AGENTS, 0)
        while closed < CHATS:
            for agent in AGENTS:
                queue = await svc.get(f"/agents/{agent}/queue")
                assert len(queue["conversations"]) <= CAPACITY
                for conversation in queue["conversations"]:
                    cid = conversation["id"]
                    await svc.post(f"/conversations/{cid}/accept", {"agent_id": agent}, expect=200)
                    await svc.post(f"/conversations/{cid}/close", expect=200)
                    closed += 1
                    handled[agent] += 1
                    check()
        assert (await svc.get("/queues/telegram/waiting"))["waiting"] == []
        assert desk.router.conversations == {} and all(desk.load(a) == 0 for a in AGENTS)
        assert min(handled.values()) >= CHATS // len(AGENTS) // 2  # evenly: everybody had a fair share
        await desk.flush()
        assert desk.history.counts()["channel_items"] == CHATS
