"""Agents' pauses through the whole service and the simulator running the project's
dialplan: auto-pause after offers that rang out, the phone's pause and resume codes,
a paused agent getting no chat either, and the stuck-state watchdog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.sim import NeverAnswer

from .stack import Stack, running

QUICK = {"rings": 2, "ring_seconds": 1.0}


def skips(history: Any, agent: str) -> list[str]:
    return [e.detail["reason"] for e in history.events
            if e.kind == "considered" and e.detail["decision"] == "skip" and e.detail["agent"] == agent]


async def answered_call(s: Stack, caller: str) -> Any:
    call = await s.sim.call(did="5000", caller=caller)
    await s.until(call.answered.is_set, 20)
    return call


async def test_auto_pause_after_n_offers_that_rang_out_skips_the_agent_with_that_reason(tmp_path: Path) -> None:
    sales = {"id": "sales", "members": ["anna", "boris"], "mode": "strict", "pause_after_missed": 2,
             "auto_resume_minutes": 1, **QUICK}
    async with running(tmp_path, [sales], phones={"anna": NeverAnswer()}) as s:
        assert s.acd is not None
        for n in range(2):  # anna's phone rings out twice; boris answers each call
            call = await answered_call(s, f"1555000{n}")
            assert call.answered_by == "102"
            await call.hangup()
        await s.until(lambda: not s.acd.router.agents.status("anna").working, 5)
        assert s.acd.desk.work_state("anna")["reason"] == "on a break: missed 2 calls"
        alert = next(a for a in s.acd.desk.alerts if a["kind"] == "agent_auto_paused")
        assert (alert["queue"], alert["agent"], alert["reason"]) == ("sales", "anna", "missed 2 calls")
        rings_before = len(s.rings("anna"))
        third = await answered_call(s, "15550009")
        assert third.answered_by == "102" and len(s.rings("anna")) == rings_before
        assert skips(await s.history(third.uniqueid), "anna") == ["not working (on a break: missed 2 calls)"]
        await third.hangup()
        # auto-resume after one minute: anna is offered calls again
        await s.until(lambda: s.acd.router.agents.status("anna").working, 90)
        assert s.acd.desk.work_state("anna")["working"]


async def test_the_phone_codes_pause_with_a_reason_and_resume_and_a_paused_agent_gets_no_chat(tmp_path: Path) -> None:
    sales = {"id": "sales", "members": ["anna", "boris"], "mode": "strict"}
    async with running(tmp_path, [sales], channels=[{"id": "tg", "members": ["anna", "boris"]}],
                       pauses={"reasons": ["lunch", "training"]}) as s:
        acd = s.acd
        assert acd is not None
        code = await s.phone("anna").dial("*122")  # pause, reason 2: training
        await s.until(code.ended.is_set, 10)
        await s.until(lambda: not acd.router.agents.status("anna").working, 5)
        assert acd.desk.work_state("anna")["reason"] == "on a break: training"
        call = await answered_call(s, "15550001")
        assert call.answered_by == "102"
        assert skips(await s.history(call.uniqueid), "anna") == ["not working (on a break: training)"]
        await call.hangup()
        cid, _ = await acd.desk.chat_message("tg", "tg:olga", "hello")
        assert acd.desk.conversation(cid)["offered_to"] == ["boris"]  # type: ignore[index]
        code = await s.phone("anna").dial("*13")  # resume
        await s.until(code.ended.is_set, 10)
        await s.until(lambda: acd.router.agents.status("anna").working, 5)
        again = await answered_call(s, "15550002")
        assert again.answered_by == "101"


async def test_the_watchdog_frees_an_agent_whose_hang_up_acd_never_saw(tmp_path: Path) -> None:
    sales = {"id": "sales", "members": ["anna", "boris"], "mode": "strict"}
    async with running(tmp_path, [sales], pauses={"stuck_state_seconds": 10}) as s:
        acd = s.acd
        assert acd is not None
        first = await answered_call(s, "15550001")
        assert first.answered_by == "101"
        await s.until(lambda: acd.router.agents.status("anna").calls == {first.uniqueid}, 5)
        # the events of the hang-up are lost on the way; only the device states get through
        emit = s.sim.pbx.emit
        s.sim.pbx.emit = lambda name, cls, pairs: emit(name, cls, pairs) if name == "DeviceStateChange" else None  # type: ignore[method-assign]
        await s.phone("anna").hangup()
        await s.until(lambda: s.sim.pbx.device_state("PJSIP/101") == "NOT_INUSE", 5)
        await s.until(lambda: acd.router.agents.status("anna").device.value == "NOT_INUSE", 5)
        s.sim.pbx.emit = emit  # type: ignore[method-assign]
        assert acd.router.agents.status("anna").calls == {first.uniqueid}  # acd still believes it
        await s.until(lambda: not acd.router.agents.status("anna").calls, 30)
        fixed = [e.detail for e in (await s.history(first.uniqueid)).events if e.kind == "state_corrected"]
        assert fixed and fixed[0]["acd_said"] == "on a call" and fixed[0]["device"] == "NOT_INUSE"
        second = await answered_call(s, "15550002")
        assert second.answered_by == "101"
