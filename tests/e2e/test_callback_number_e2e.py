"""A callback for a caller whose number acd does not know: after the key the caller types
the number ([acd-callback-number] of asterisk/extensions.conf: Read, SayDigits, a second
Read to confirm), hangs up, and the callback goes to that number through the trunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.sim import Answer
from acd.sim.phones import Phone

from .stack import Stack, running
from .test_callbacks_e2e import boris_busy, sales

TYPED = "4930123456"


async def types(s: Stack, call: Any, apps: list[tuple[str, str, str]], keys: str, reads: int) -> None:
    """Wait for the ``reads``-th Read() of the caller's entry, then press the keys."""
    await s.until(lambda: sum(1 for u, a, _ in apps if u == call.uniqueid and a == "Read") >= reads
                  and call.channel.app == "Read", 20)
    for key in keys:
        await call.press(key)


async def test_an_anonymous_caller_types_and_confirms_a_number_and_is_called_back_on_it(tmp_path: Path) -> None:
    phones = {"boris": Answer(after=1), "dmitri": Answer(after=1)}
    async with running(tmp_path, [sales(ask_number="when_unknown")], phones) as s:
        customer: Phone = s.sim.trunk.customer(TYPED, Answer(after=2, hangup_after=4))
        colleague = await boris_busy(s)
        apps = s.watch_applications()
        call = await s.sim.call(did="5000", caller="anonymous")
        await s.until(lambda: any(u == call.uniqueid and a == "Playback" and d == "acd-callback-offer"
                                  for u, a, d in apps), 10)
        await s.until(lambda: call.channel.context == "acd-hold", 10)
        await call.press("1")
        await types(s, call, apps, TYPED + "#", reads=1)
        await s.until(lambda: any(u == call.uniqueid and a == "SayDigits" and d == TYPED for u, a, d in apps), 10)
        await types(s, call, apps, "1", reads=2)  # "if this is correct, press 1"
        await s.until(lambda: call.ended.is_set(), 10)  # thanked and hung up by acd
        assert call.hung_up_by != "caller"
        history = await s.history(call.uniqueid)
        assert [e.detail["number"] for e in history.events if e.kind == "callback_requested"] == [TYPED]
        await colleague.hangup()  # boris is free: the callback goes to the typed number
        await s.until(lambda: customer.talked_with == ["102"], 20)
        assert s.sim.trunk.dialled == [TYPED]


async def test_a_number_never_confirmed_leaves_the_caller_waiting_in_the_line(tmp_path: Path) -> None:
    phones = {"boris": Answer(after=1), "dmitri": Answer(after=1)}
    async with running(tmp_path, [sales(ask_number="when_unknown", number_tries=1)], phones) as s:
        colleague = await boris_busy(s)
        apps = s.watch_applications()
        call = await s.sim.call(did="5000", caller="anonymous")
        await s.until(lambda: call.channel.context == "acd-hold"
                      and any(u == call.uniqueid and a == "Playback" for u, a, _ in apps), 10)
        await s.until(lambda: call.channel.context == "acd-hold", 10)
        await call.press("1")
        await types(s, call, apps, "112#", reads=1)  # an emergency number, even confirmed
        await types(s, call, apps, "1", reads=2)
        await s.until(lambda: call.channel.context == "acd-hold", 20)  # back in music
        history = await s.history(call.uniqueid)
        kinds = [e.kind for e in history.events]
        assert "callback_number_refused" in kinds and "callback_requested" not in kinds
        await colleague.hangup()
        await s.until(lambda: call.answered.is_set(), 20)  # served as any waiting caller
        assert call.answered_by == "102" and s.sim.trunk.dialled == []
