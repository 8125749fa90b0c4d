"""Agents' work time (clock in/out, breaks) changes telephony distribution at once."""

from __future__ import annotations

from pathlib import Path

from .stack import running

SALES = {"id": "sales", "members": ["anna", "boris"], "mode": "strict"}
ALWAYS = {"time_zone": "UTC", "hours": ["mon-sun 00:00-23:59"], "clock_in_required": True}


async def test_an_agent_who_has_not_clocked_in_gets_no_calls_until_they_do(tmp_path: Path) -> None:
    async with running(tmp_path, [SALES], work={"anna": ALWAYS}) as s:
        first = await s.sim.call(did="5000", caller="15550001")
        await s.until(first.answered.is_set, 15)
        assert first.answered_by == "102"  # anna has not clocked in: skipped at once
        history = await s.history(first.uniqueid)
        skip = [e.detail for e in history.events if e.kind == "considered" and e.detail["decision"] == "skip"]
        assert skip and skip[0]["agent"] == "anna" and skip[0]["reason"].startswith("not working")
        await first.hangup()
        s.acd.desk.clock_in("anna")
        await s.until(lambda: s.acd.router.agents.status("anna").working, 5)
        second = await s.sim.call(did="5000", caller="15550002")  # a new caller: no owner yet
        await s.until(second.answered.is_set, 15)
        assert second.answered_by == "101"
        await second.hangup()
        s.acd.desk.start_break("anna")
        await s.until(lambda: not s.acd.router.agents.status("anna").working, 5)
        third = await s.sim.call(did="5000", caller="15550003")
        await s.until(third.answered.is_set, 15)
        assert third.answered_by == "102"
