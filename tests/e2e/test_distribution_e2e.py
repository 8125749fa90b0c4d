"""A call from the simulated PBX through acd to the agents' phones, end to end over AMI."""

from __future__ import annotations

from pathlib import Path

from acd.sim import Answer, NeverAnswer

from .stack import running

RING_S = 5.0


def strict(**kw: object) -> dict[str, object]:
    return {"id": "sales", "members": ["anna", "boris", "clara"], "mode": "strict", "rings": 2,
            "ring_seconds": RING_S, **kw}


async def test_strict_order_rings_members_in_list_order_and_passes_on_after_exactly_n_rings(tmp_path: Path) -> None:
    phones = {"anna": NeverAnswer(), "boris": NeverAnswer(), "clara": Answer(after=1)}
    async with running(tmp_path, [strict()], phones) as s:
        call = await s.sim.call(did="5000", caller="15550001")
        await s.until(lambda: call.answered.is_set(), 40)
        assert call.answered_by == "103"
        anna, boris, clara = s.rings("anna"), s.rings("boris"), s.rings("clara")
        assert len(anna) == 1 and len(boris) == 1 and len(clara) == 1
        assert anna[0].started < boris[0].started < clara[0].started
        for period in (anna[0], boris[0]):  # 2 rings of 5 s, counted from the real ring
            assert abs(period.duration - 2 * RING_S) < 0.8, period
            assert period.outcome == "cancelled"
        await call.hangup()
        await s.until(lambda: call.ended.is_set(), 5)
        history = await s.history(call.uniqueid)
        assert history.answered_by == "clara"
        decisions = [(e.detail["agent"], e.detail["decision"]) for e in history.events if e.kind == "considered"]
        assert decisions == [("anna", "ring"), ("boris", "ring"), ("clara", "ring")]
