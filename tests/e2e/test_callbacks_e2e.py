"""Callbacks that keep the caller's place, end to end: a caller presses 1 in music and
hangs up; when a member frees up acd rings the member (Originate), then the customer
through the trunk ([acd-callback] of asterisk/extensions.conf in the simulator)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.sim import Answer, NeverAnswer
from acd.sim.phones import Phone

from .stack import Stack, running

CUSTOMER = "15550001"


def sales(**callback: Any) -> dict[str, Any]:
    return {"id": "sales", "members": ["boris"], "mode": "strict", "rings": 2, "ring_seconds": 2,
            "missed": {"action": "keep_waiting", "max_wait_seconds": 600, "retry_seconds": 60},
            "callback": {"enabled": True, "attempts": 2, "spacing_seconds": 30, "agent_ring_seconds": 10,
                         "customer_ring_seconds": 10, **callback}}


async def boris_busy(s: Stack) -> Any:
    colleague = await s.phone("dmitri").dial("102")
    await s.until(lambda: colleague.answered.is_set(), 10)
    await s.until(lambda: s.acd is not None and s.acd.router.agents.status("boris").device.value == "INUSE", 5)
    return colleague


async def asks_for_a_callback(s: Stack, number: str = CUSTOMER) -> Any:
    apps = s.watch_applications()
    call = await s.sim.call(did="5000", caller=number)
    await s.until(lambda: any(u == call.uniqueid and a == "Playback" and d == "acd-callback-offer"
                              for u, a, d in apps), 10)
    await s.until(lambda: call.channel.context == "acd-hold", 10)  # back in music after the offer
    await call.press("1")
    await s.until(lambda: call.ended.is_set(), 10)  # thanked and hung up by acd
    return call


def overlapping(rings: list[Any]) -> bool:
    spans = sorted((r.started, r.ended if r.ended is not None else float("inf")) for r in rings)
    return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


async def test_a_caller_who_pressed_1_keeps_their_place_and_is_connected_when_a_member_frees_up(
        tmp_path: Path) -> None:
    phones = {"boris": Answer(after=1), "dmitri": Answer(after=1)}
    async with running(tmp_path, [sales()], phones) as s:
        customer: Phone = s.sim.trunk.customer(CUSTOMER, Answer(after=2, hangup_after=4))
        colleague = await boris_busy(s)
        first = await asks_for_a_callback(s)
        assert first.hung_up_by != "caller"
        later = await s.sim.call(did="5000", caller="15550002")
        await s.until(lambda: later.uniqueid in s.acd.router.calls
                      and s.acd.router.calls[later.uniqueid].phase.value == "waiting", 10)
        await colleague.hangup()  # boris is free: the request goes first, the later caller waits
        await s.until(lambda: customer.talked_with == ["102"], 20)
        assert not later.answered.is_set()
        assert s.sim.trunk.dialled == [CUSTOMER]
        await s.until(lambda: later.answered.is_set(), 30)  # after the callback, the later caller
        assert later.answered_by == "102"
        history = await s.history(first.uniqueid)
        assert (history.outcome, history.called_back_by) == ("called_back", "boris")
        kinds = [e.kind for e in history.events]
        assert kinds.index("callback_requested") < kinds.index("callback_calling") < kinds.index("callback_attempt")


async def test_an_unanswered_callback_is_retried_after_the_spacing_and_then_listed_as_missed(
        tmp_path: Path) -> None:
    async with running(tmp_path, [sales()], {"boris": Answer(after=1), "dmitri": Answer(after=1)}) as s:
        customer: Phone = s.sim.trunk.customer(CUSTOMER, NeverAnswer())
        colleague = await boris_busy(s)
        call = await asks_for_a_callback(s)
        await colleague.hangup()
        await s.until(lambda: len(customer.rings) == 2 and customer.rings[1].ended is not None, 90)
        first, second = customer.rings
        assert first.duration is not None and 9 <= first.duration <= 11  # customer_ring_seconds
        gap = second.started - (first.ended or 0)
        assert 30 <= gap <= 33  # spacing_seconds (plus the member's 1 s answer)
        await s.until(lambda: any(m.call_id == call.uniqueid for m in s.acd.store.missed_calls()), 10)
        missed = next(m for m in s.acd.store.missed_calls() if m.call_id == call.uniqueid)
        assert missed.missed_reason == "callback not answered after 2 attempts"
        await s.clock.sleep(40)
        assert len(customer.rings) == 2


async def test_an_acd_restart_while_the_customer_rings_never_calls_them_twice_at_once(tmp_path: Path) -> None:
    # the customer's phone rings long enough for acd to be back before it stops
    async with running(tmp_path, [sales(customer_ring_seconds=60)],
                       {"boris": Answer(after=1), "dmitri": Answer(after=1)}) as s:
        customer: Phone = s.sim.trunk.customer(CUSTOMER, NeverAnswer())
        colleague = await boris_busy(s)
        await asks_for_a_callback(s)
        await colleague.hangup()
        await s.until(lambda: bool(customer.rings), 20)
        await s.stop_acd()  # acd goes away while the customer's phone rings
        await s.start_acd()
        await s.until(lambda: customer.rings[0].ended is not None, 70)
        assert len(customer.rings) == 1  # the attempt under way was not doubled
        # its end was seen: the next attempt comes after the spacing, not on top of it
        await s.until(lambda: len(customer.rings) == 2, 40)
        assert not overlapping(customer.rings)
        assert customer.rings[1].started - (customer.rings[0].ended or 0) >= 30


async def test_an_acd_restart_during_the_talk_never_calls_the_customer_again(tmp_path: Path) -> None:
    async with running(tmp_path, [sales()], {"boris": Answer(after=1), "dmitri": Answer(after=1)}) as s:
        customer: Phone = s.sim.trunk.customer(CUSTOMER, Answer(after=1, hangup_after=120))
        colleague = await boris_busy(s)
        call = await asks_for_a_callback(s)
        await colleague.hangup()
        await s.until(lambda: customer.talked_with == ["102"], 20)
        await s.stop_acd()
        await s.start_acd()
        await s.clock.sleep(130)  # the talk ends while acd runs again; spacing would be 30 s
        history = await s.history(call.uniqueid)
        assert s.sim.trunk.dialled == [CUSTOMER], "\n".join(f"{e.kind} {e.detail}" for e in history.events)
        assert history.outcome == "called_back"


async def test_a_callback_that_ended_while_acd_was_down_is_left_to_a_person(tmp_path: Path) -> None:
    async with running(tmp_path, [sales()], {"boris": Answer(after=1), "dmitri": Answer(after=1)}) as s:
        customer: Phone = s.sim.trunk.customer(CUSTOMER, Answer(after=1, hangup_after=3))
        colleague = await boris_busy(s)
        call = await asks_for_a_callback(s)
        await colleague.hangup()
        await s.until(lambda: customer.talked_with == ["102"], 20)
        await s.stop_acd()
        await s.until(lambda: not s.sim.channels(), 20)  # the talk ends unseen
        await s.start_acd()
        await s.until(lambda: any(m.call_id == call.uniqueid for m in s.acd.store.missed_calls()), 20)
        await s.clock.sleep(60)
        assert s.sim.trunk.dialled == [CUSTOMER]  # never called again by itself
