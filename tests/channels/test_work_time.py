"""Agents' work time through the HTTP API: clock in/out, breaks by hand and on the
calendar, the hook the telephony side subscribes to."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from acd.channels import WorkCalendar
from acd.clock import Clock

from .support import FakeClock, Service, accounts, at, chat, settings

CLOCK_IN = {"clock_in_required": True}


async def test_nobody_clocked_in_a_chat_waits_and_a_clock_in_takes_it_at_once(db_url: str) -> None:
    config = settings(chat(), work={a: CLOCK_IN for a in ("anna", "boris", "clara")})
    async with Service(config, db_url, FakeClock()) as svc:
        state = await svc.get("/agents/anna/work-state", as_="anna")
        assert (state["working"], state["reason"], state["tracked"]) == (False, "not clocked in", True)
        cid = await svc.chat("telegram:1")
        assert [c["id"] for c in (await svc.get("/queues/telegram/waiting"))["waiting"]] == [cid]
        alert = (await svc.get("/alerts"))["alerts"][0]
        assert alert["kind"] == "nobody_available" and alert["members"]["boris"] == "not working (not clocked in)"

        assert svc.desk.work_states() == {"anna": (False, "not clocked in"), "boris": (False, "not clocked in"),
                                          "clara": (False, "not clocked in"), "dmitri": (True, "working")}
        state = (await svc.post("/agents/boris/clock-in", as_="boris", expect=200)).json()
        assert state["working"] and state["clocked_in"]
        assert (await svc.holding("boris"))["offered"] == [cid]
        assert (await svc.get("/queues/telegram/waiting"))["waiting"] == []
        assert (await svc.get("/alerts"))["alerts"][0]["kind"] == "recovered"
        agent_lines = (await svc.get("/agents/boris/timeline", as_="boris"))["timeline"]
        assert [x["kind"] for x in agent_lines] == ["clocked_in", "work_state"]


async def test_clocking_out_or_a_break_gives_back_offers_and_the_end_of_a_break_takes_waiting_chats(
        db_url: str) -> None:
    config = settings(chat(members=("anna", "boris")), work={a: CLOCK_IN for a in ("anna", "boris")})
    async with Service(config, db_url, FakeClock()) as svc:
        seen: list[tuple[str, bool, str]] = []
        svc.desk.on_work_state.append(lambda agent, working, reason: seen.append((agent, working, reason)))
        for agent in ("anna", "boris"):
            await svc.post(f"/agents/{agent}/clock-in", as_=agent, expect=200)
        first = await svc.chat("telegram:1")
        assert (await svc.holding("anna"))["offered"] == [first]
        await svc.post("/agents/anna/break/start", as_="anna", expect=200)
        assert (await svc.holding("anna"))["offered"] == []
        assert (await svc.holding("boris"))["offered"] == [first]
        await svc.post("/agents/boris/clock-out", as_="boris", expect=200)
        assert [c["id"] for c in (await svc.get("/queues/telegram/waiting"))["waiting"]] == [first]
        second = await svc.chat("telegram:2")
        await svc.post("/agents/anna/break/end", as_="anna", expect=200)
        assert (await svc.holding("anna"))["offered"] == [first, second]
        assert seen == [("anna", True, "working"), ("boris", True, "working"), ("anna", False, "on a break"),
                        ("boris", False, "not clocked in"), ("anna", True, "working")]
        withdrawn = next(x for x in await svc.timeline(first) if x["kind"] == "returned_to_queue")
        assert withdrawn["reason"] == "agent not working (on a break)"


async def test_working_hours_and_a_scheduled_lunch_break_block_and_release_chats(db_url: str) -> None:
    office = {"time_zone": "Europe/Berlin", "hours": ["mon-fri 09:00-18:00"], "breaks": ["mon-fri 13:00-14:00"],
              "clock_in_required": True}
    clock = FakeClock(at("2024-03-04 12:50", "Europe/Berlin"))  # a Monday
    async with Service(settings(chat(members=("anna",)), work={"anna": office}), db_url, clock) as svc:
        seen: list[tuple[str, bool, str]] = []
        svc.desk.on_work_state.append(lambda agent, working, reason: seen.append((agent, working, reason)))
        await svc.post("/agents/anna/clock-in", as_="anna", expect=200)
        clock.advance(10 * 60)  # 13:00: lunch
        state = await svc.get("/agents/anna/work-state", as_="anna")
        assert (state["working"], state["reason"]) == (False, "on a scheduled break")
        cid = await svc.chat("telegram:1")
        assert (await svc.holding("anna"))["offered"] == []
        clock.advance(59 * 60)
        assert (await svc.holding("anna"))["offered"] == []
        clock.advance(60)  # 14:00
        assert (await svc.holding("anna"))["offered"] == [cid]
        clock.advance(4 * 3600)  # 18:00: off work
        state = await svc.get("/agents/anna/work-state", as_="anna")
        assert (state["working"], state["reason"]) == (False, "outside working hours")
        assert seen == [("anna", True, "working"), ("anna", False, "on a scheduled break"),
                        ("anna", True, "working"), ("anna", False, "outside working hours")]


async def test_a_one_off_break_planned_ahead_blocks_chats_while_it_lasts(db_url: str) -> None:
    clock = FakeClock()
    config = settings(chat(members=("anna", "boris")), work={"anna": {"clock_in_required": False}})
    async with Service(config, db_url, clock) as svc:
        now = clock.now()
        await svc.post("/agents/anna/breaks", {"starts_at": now + 600, "ends_at": now + 1200}, as_="anna",
                       expect=200)
        clock.advance(700)
        assert (await svc.get("/agents/anna/work-state", as_="anna"))["reason"] == "on a scheduled break"
        cid = await svc.chat("telegram:1")
        assert (await svc.holding("boris"))["offered"] == [cid]
        clock.advance(500)
        assert (await svc.get("/agents/anna/work-state", as_="anna"))["working"] is True


async def test_shift_changes_run_on_the_apscheduler_calendar(db_url: str) -> None:
    accounts()  # made beforehand: the clock runs from here
    clock = Clock(speed=600.0)  # ten minutes of the clock pass in a second
    start = datetime.fromtimestamp(clock.now() + 600, UTC)
    end = datetime.fromtimestamp(clock.now() + 4 * 3600, UTC)
    shift = {"hours": [f"mon-sun {start:%H:%M}-{end:%H:%M}"], "clock_in_required": False}
    calendar = WorkCalendar(clock)
    config = settings(chat(members=("anna",)), work={"anna": shift})
    async with Service(config, db_url, clock, calendar=calendar) as svc:
        changed = asyncio.Event()
        threads: list[int] = []

        def work_state(agent: str, working: bool, reason: str) -> None:
            threads.append(threading.get_ident())
            changed.set()

        svc.desk.on_work_state.append(work_state)
        assert calendar.pending() == ["conv-shift|anna"] and svc.desk.timers.pending() == []
        assert not (await svc.get("/agents/anna/work-state", as_="anna"))["working"]
        cid = await svc.chat("telegram:1")
        await asyncio.wait_for(changed.wait(), timeout=5)
        assert (await svc.get("/agents/anna/work-state", as_="anna"))["working"]
        assert (await svc.holding("anna"))["offered"] == [cid]
        assert calendar.pending() == ["conv-shift|anna"]  # the end of the shift, next
        assert threads == [threading.get_ident()]  # on the event loop's thread, like everything else
