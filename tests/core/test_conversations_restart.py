"""Restart: the router's state as plain data, and shift changes as timers."""

import json

from acd.core.commands import StartTimer
from acd.core.conversation_model import (
    ClockedIn,
    ConversationAccepted,
    ConversationClosed,
    Offer,
    Withdraw,
    WorkStateChanged,
)
from acd.core.conversations import ConversationRouter
from acd.core.model import Mode
from acd.core.work_time import WorkSchedule

from .test_conversations_harness import AGENTS, Desk, at, chat, offered_to, only, setup


def restarted(desk: Desk, seconds_down: float) -> Desk:
    """Stop the router, keep its snapshot through JSON, start a new one later."""
    data = json.loads(json.dumps(desk.router.snapshot()))
    now = desk.now + seconds_down
    router, out = ConversationRouter.restore(desk.router.config, data, now)
    again = Desk(desk.router.config, now=now, router=router)
    again.holding = {a: set(held) for a, held in desk.holding.items()}
    again.apply(out)
    return again


def test_a_restart_keeps_open_conversations_and_the_idle_timer_with_the_time_left() -> None:
    desk = Desk(setup(chat(Mode.STRICT, idle_s=120)))
    desk.arrive("c1")
    desk.arrive("c2")
    desk.send(ConversationAccepted("c2", "anna"))
    desk.advance(50)
    again = restarted(desk, seconds_down=20)
    assert again.timers == {"conv-idle|c1|1": again.now + 50}  # 120 - 50 - 20 left
    assert again.router.load("anna") == 2 and again.router.conversations["c2"].agent == "anna"
    assert offered_to(again.advance(50)) == [("boris",)]


def test_an_idle_time_that_ran_out_while_down_passes_the_conversation_on_at_once() -> None:
    desk = Desk(setup(chat(Mode.STRICT, idle_s=60)))
    desk.arrive("c1")
    again = restarted(desk, seconds_down=600)
    assert [t for t in only(again.log, StartTimer) if t.key.startswith("conv-idle")] == [
        StartTimer("conv-idle|c1|1", 0.0)]
    assert offered_to(again.advance(0)) == [("boris",)]


def test_a_restart_keeps_the_line_in_order_and_the_evenly_turn() -> None:
    desk = Desk(setup(chat(Mode.EVENLY, members=("anna", "boris"), capacity=1)))
    for n in range(1, 5):
        desk.arrive(f"c{n}")
    again = restarted(desk, seconds_down=5)
    assert again.router.waiting("telegram") == ["c3", "c4"]
    assert only(again.log, Offer) == []  # nothing is offered twice
    again.send(ConversationAccepted("c1", "anna"))
    assert only(again.send(ConversationClosed("c1")), Offer) == [Offer("c3", "telegram", ("anna",), 180.0)]


def test_a_snapshot_is_plain_data_and_restores_to_the_same_snapshot() -> None:
    desk = Desk(setup(chat(Mode.ALL, capacity=1), schedules={"dmitri": WorkSchedule()}))
    desk.send(ClockedIn("dmitri"))
    desk.arrive("c1", owner="dmitri")
    desk.arrive("c2")
    desk.arrive("c3")
    data = desk.router.snapshot()
    assert json.loads(json.dumps(data)) == data
    router, _ = ConversationRouter.restore(desk.router.config, data, desk.now)
    assert {**router.snapshot(), "seq": 0} == {**data, "seq": 0}  # seq: an internal counter


def test_an_agent_whose_shift_ended_while_down_gives_back_their_offers() -> None:
    office = WorkSchedule.weekly("mon-fri", "09:00-18:00")
    desk = Desk(setup(chat(Mode.STRICT, idle_s=None), schedules={a: office for a in AGENTS}),
                now=at("2024-03-04 17:00"))
    desk.send(ClockedIn("anna"))
    desk.arrive("c1")
    again = restarted(desk, seconds_down=2 * 3600)  # 19:00: off shift
    assert only(again.log, Withdraw) == [Withdraw("c1", ("anna",), "agent not working (outside working hours)")]
    assert again.router.waiting("telegram") == ["c1"]


def test_the_core_times_the_next_shift_change_and_a_shift_start_serves_the_line() -> None:
    office = WorkSchedule.weekly("mon-fri", "09:00-18:00")
    desk = Desk(setup(chat(Mode.STRICT, members=("anna",)), schedules={"anna": office}),
                now=at("2024-03-04 08:00"))
    desk.send(ClockedIn("anna"))  # early: the shift starts at nine
    assert desk.timers == {"conv-shift|anna": at("2024-03-04 09:00")}
    desk.arrive("c1")
    assert desk.router.waiting("telegram") == ["c1"]
    out = desk.advance(3600)
    assert only(out, WorkStateChanged) == [WorkStateChanged("anna", at("2024-03-04 09:00"), True, "working")]
    assert offered_to(out) == [("anna",)]
    assert desk.timers["conv-shift|anna"] == at("2024-03-04 18:00")
    desk.send(ConversationAccepted("c1", "anna"))
    out = desk.advance(9 * 3600)  # 18:00: the shift ends, the accepted conversation stays
    assert only(out, WorkStateChanged)[0].reason == "outside working hours"
    assert only(out, Withdraw) == [] and desk.router.conversations["c1"].agent == "anna"
    assert not desk.router.is_working("anna")
