"""Missed-call processing end to end: each action happens on the PBX and the missed call
is listed for calling back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.sim import Answer, NeverAnswer

from .stack import Stack, running

NOBODY = {a: NeverAnswer() for a in ("anna", "boris", "clara", "dmitri")}


def group(action: str, **missed: Any) -> dict[str, Any]:
    return {"id": "sales", "members": ["anna", "boris"], "mode": "all", "rings": 2, "ring_seconds": 2,
            "missed": {"action": action, **missed}}


async def missed_call(s: Stack) -> Any:
    call = await s.sim.call(did="5000", caller="15550009")
    await s.until(lambda: bool(s.acd.store.missed_calls()) or not s.acd.router.calls, 30)
    return call


async def listed(s: Stack, call: Any) -> Any:
    """The call on the call-back list, once it has ended."""
    if not call.ended.is_set():
        await call.hangup()
    await s.until(lambda: call.uniqueid not in s.acd.router.calls, 10)
    await s.acd.history.flush()
    return [m for m in s.acd.store.missed_calls(called_back=None) if m.call_id == call.uniqueid]


async def test_voicemail_of_the_first_member(tmp_path: Path) -> None:
    async with running(tmp_path, [group("voicemail")], NOBODY) as s:
        call = await missed_call(s)
        await s.until(lambda: call.channel.context == "acd-voicemail", 15)
        await s.clock.sleep(10)  # greeting, beep, a few seconds of message
        await call.hangup()
        await s.until(lambda: call.ended.is_set(), 5)
        assert call.voicemail == "101@default"
        [missed] = await listed(s, call)
        assert missed.tried == ("anna", "boris") and missed.group_id == "sales"


async def test_forward_to_the_responsible_persons_mobile(tmp_path: Path) -> None:
    async with running(tmp_path, [group("forward_mobile", person="boris")], NOBODY) as s:
        call = await missed_call(s)
        await s.until(lambda: call.answered.is_set(), 20)
        assert s.sim.trunk.dialled == ["+49151000102"]
        assert call.answered_by == "trunk"
        await call.hangup()
        await s.until(lambda: not s.acd.router.calls, 5)
        history = await s.history(call.uniqueid)
        # missed by the group, recorded so; answered on the mobile: nobody has to call back
        assert history.missed and history.forwarded_to == "+49151000102"
        assert await listed(s, call) == []


async def test_forward_to_a_number_through_the_trunk(tmp_path: Path) -> None:
    async with running(tmp_path, [group("forward_number", number="+4930123456")], NOBODY) as s:
        call = await missed_call(s)
        await s.until(lambda: call.answered.is_set(), 20)
        assert s.sim.trunk.dialled == ["+4930123456"]
        await call.hangup()
        await s.until(lambda: not s.acd.router.calls, 5)
        history = await s.history(call.uniqueid)
        assert history.forwarded_to == "+4930123456"


async def test_forward_to_another_group(tmp_path: Path) -> None:
    support = {"id": "support", "members": ["clara"], "mode": "strict"}
    phones = {**NOBODY, "clara": Answer(after=1)}
    async with running(tmp_path, [group("forward_group", group="support"), support], phones) as s:
        call = await s.sim.call(did="5000")
        await s.until(lambda: call.answered.is_set(), 30)
        assert call.answered_by == "103"
        history = await s.history(call.uniqueid)
        assert [e.detail["group"] for e in history.events if e.kind == "rerouted"] == ["support"]
        assert history.missed and history.missed_reason == "nobody answered"


async def test_keep_waiting_offers_the_call_when_a_member_frees_up(tmp_path: Path) -> None:
    sales = {"id": "sales", "members": ["boris"], "mode": "strict", "rings": 2, "ring_seconds": 2,
             "missed": {"action": "keep_waiting", "max_wait_seconds": 300, "retry_seconds": 60}}
    async with running(tmp_path, [sales], {"boris": Answer(after=1), "dmitri": Answer(after=1)}) as s:
        colleague = await s.phone("dmitri").dial("102")  # boris is busy on another call
        await s.until(lambda: colleague.answered.is_set(), 10)
        await s.until(lambda: s.acd.router.agents.status("boris").device.value == "INUSE", 5)
        call = await s.sim.call(did="5000")
        await s.until(lambda: any(c.phase.value == "waiting" for c in s.acd.router.calls.values()), 10)
        assert call.channel.context == "acd-hold"  # music, not silence
        await s.clock.sleep(10)
        await colleague.hangup()  # boris is free again: the waiting caller goes to him
        await s.until(lambda: call.answered.is_set(), 15)
        assert call.answered_by == "102"


async def test_hang_up_after_a_message(tmp_path: Path) -> None:
    async with running(tmp_path, [group("hangup", message="acd/closed")], NOBODY) as s:
        apps = s.watch_applications()
        call = await missed_call(s)
        await s.until(lambda: call.ended.is_set(), 20)
        mine = [(app, data) for uid, app, data in apps if uid == call.uniqueid]
        assert mine[-2:] == [("Playback", "acd/closed"), ("Hangup", "")]
        assert await listed(s, call)
