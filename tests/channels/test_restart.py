"""An ``acd`` restart: a new Desk on the same SQLite file keeps every open conversation,
the waiting lines and the idle timers with the time they had left."""

from __future__ import annotations

import asyncio

from .support import FakeClock, Service, chat, settings

CONFIG = settings(chat(idle_seconds=120), chat(id="vip", members=("dmitri",)),
                  work={"dmitri": {"clock_in_required": True}})


async def test_a_restart_keeps_open_conversations_and_the_pending_idle_timer(history_url: str) -> None:
    clock = FakeClock()
    async with Service(CONFIG, history_url, clock) as svc:
        offered = await svc.chat("telegram:1")
        accepted = await svc.chat("telegram:2")
        await svc.post(f"/conversations/{accepted}/accept", {}, as_="anna", expect=200)
        vip = [await svc.chat(f"telegram:{n}", queue="vip") for n in (3, 4, 5)]  # dmitri is not in: they wait
        clock.advance(50)
    clock.advance(20)  # acd is down for 20 s

    async with Service(CONFIG, history_url, clock) as svc:
        assert await svc.holding("anna") == {"offered": [offered], "active": [accepted]}
        assert (await svc.get("/alerts"))["alerts"][0]["queue"] == "vip"  # supervisors' alerts are kept too
        assert [c["id"] for c in (await svc.get("/queues/vip/waiting"))["waiting"]] == vip
        assert f"conv-idle|{offered}|1" in svc.desk.timers.pending()
        assert (await svc.get(f"/conversations/{offered}"))["idle_deadline"] == clock.now() + 50
        assert await svc.chat("telegram:1", "still there?") == offered  # the client's conversation, still open
        clock.advance(49)
        assert (await svc.holding("anna"))["offered"] == [offered]
        clock.advance(1)  # 120 s after the offer, counting the time acd was down
        assert (await svc.holding("boris"))["offered"] == [offered]
        await svc.post("/agents/dmitri/clock-in", as_="dmitri", expect=200)
        assert (await svc.holding("dmitri"))["offered"] == vip  # the line in its order
        kinds = await svc.kinds(offered)
        assert kinds[:3] == ["arrived", "considered", "offered"] and kinds[-2:] == ["considered", "offered"]
        assert kinds.count("message") == 2  # from both runs


async def test_an_idle_time_that_ran_out_while_acd_was_down_passes_the_chat_on_at_start(history_url: str) -> None:
    clock = FakeClock()
    async with Service(CONFIG, history_url, clock) as svc:
        cid = await svc.chat("telegram:1")
    clock.advance(3600)
    async with Service(CONFIG, history_url, clock) as svc:
        clock.advance(0)
        assert (await svc.holding("boris"))["offered"] == [cid]


async def test_the_running_desk_writes_as_it_goes_so_a_crash_loses_no_conversation(history_url: str) -> None:
    clock = FakeClock()
    svc = Service(CONFIG, history_url, clock)
    running = asyncio.create_task(svc.desk.run())
    ids = [await svc.chat(f"telegram:{n}") for n in range(3)]
    await svc.post(f"/conversations/{ids[0]}/accept", {}, as_="anna", expect=200)
    for _ in range(500):  # the writer catches up within a few loop turns
        await asyncio.sleep(0.01)
        saved = svc.desk.history.snapshot()
        if saved and len(saved["router"]["conversations"]) == 3 and any(
                c["agent"] == "anna" for c in saved["router"]["conversations"]):
            break
    running.cancel()  # no close(): as if the process died
    await asyncio.gather(running, return_exceptions=True)
    svc.desk.timers.cancel_all()
    await svc.http.aclose()
    svc.engine.dispose()
    async with Service(CONFIG, history_url, clock) as again:
        assert await again.holding("anna") == {"offered": ids[1:], "active": ids[:1]}
