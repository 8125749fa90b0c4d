"""A lost AMI connection and an acd restart lose no call."""

from __future__ import annotations

from pathlib import Path

from acd.sim import Answer, NeverAnswer

from .stack import running

SALES = {"id": "sales", "members": ["anna", "boris"], "mode": "strict", "rings": 2, "ring_seconds": 5}


async def test_an_ami_disconnect_in_the_middle_of_ringing_loses_no_call(tmp_path: Path) -> None:
    async with running(tmp_path, [SALES], {"anna": NeverAnswer(), "boris": Answer(after=1)}) as s:
        call = await s.sim.call(did="5000")
        await s.until(lambda: bool(s.rings("anna")), 10)
        await s.sim.drop_clients()
        await s.until(lambda: not s.acd.pbx.connection.ready, 5)
        await s.until(lambda: s.acd.pbx.connection.ready, 10)  # reconnected, resynced
        await s.until(call.answered.is_set, 30)
        assert call.answered_by == "102"  # anna's rings ran out after the reconnect, boris took it
        assert len(s.rings("anna")) == 1  # the ringing phone was not disturbed by the resync


async def test_callers_waiting_while_the_link_is_down_are_routed_after_the_reconnect(tmp_path: Path) -> None:
    async with running(tmp_path, [SALES], {"anna": Answer(after=1)}) as s:
        await s.sim.server.stop()  # Asterisk's manager goes away...
        await s.until(lambda: not s.acd.pbx.connection.ready, 5)
        call = await s.sim.call(did="5000")  # ...while a caller arrives (music on hold)
        await s.clock.sleep(5)
        assert not s.rings("anna")
        await s.sim.server.start("127.0.0.1", s.sim.port)
        await s.until(call.answered.is_set, 30)
        assert call.answered_by == "101"


async def test_an_acd_restart_loses_no_call_and_keeps_its_history(tmp_path: Path) -> None:
    async with running(tmp_path, [SALES], {"anna": NeverAnswer(), "boris": NeverAnswer()}) as s:
        call = await s.sim.call(did="5000", caller="15550077")
        await s.until(lambda: bool(s.rings("anna")), 10)
        first = await s.history(call.uniqueid)
        await s.stop_acd()  # acd goes away while anna's phone rings
        s.phone("boris").behaviour = Answer(after=1)
        await s.clock.sleep(3)
        await s.start_acd()  # a new process: the caller is found and routed on
        await s.until(call.answered.is_set, 40)
        assert call.answered_by in ("101", "102")
        await call.hangup()
        await s.until(lambda: not s.acd.router.calls, 5)
        after = await s.history(call.uniqueid)
        assert after.arrived_at == first.arrived_at  # one call, its true arrival kept
        assert after.outcome == "answered"
        assert [c.call_id for c in s.acd.store.calls()] == [call.uniqueid]


async def test_after_an_acd_restart_a_ringing_member_is_given_up_after_the_ring_time_from_the_first_ring(
        tmp_path: Path) -> None:
    # 4 rings of 5 s: anna's phone may ring 20 s in all, however long acd was away meanwhile
    sales = {**SALES, "rings": 4}
    async with running(tmp_path, [sales], {"anna": NeverAnswer(), "boris": Answer(after=1)}) as s:
        call = await s.sim.call(did="5000")
        await s.until(lambda: bool(s.rings("anna")), 10)
        await s.clock.sleep(5)
        await s.stop_acd()  # 5 s into anna's ring...
        away_from = s.clock.now()
        await s.start_acd()  # ...and back: CoreShowChannels says how old her leg is
        away_s = s.clock.now() - away_from
        await s.until(lambda: s.rings("anna")[0].ended is not None, 40)
        rang = s.rings("anna")[0].duration
        assert rang is not None
        # Duration counts whole seconds (cut): up to 1 s more, never less; 1.5 s of slack
        # (75 ms real) for a loaded machine. Counted from the restart it was 5 + away + 20.
        # A restart slower than her remaining 15 s (a loaded machine) gives her up at once.
        assert 20 - 0.1 <= rang <= max(20, 5 + away_s) + 2.5, (rang, away_s)
        await s.until(call.answered.is_set, 10)
        assert call.answered_by == "102"
