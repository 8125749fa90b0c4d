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


async def test_evenly_spreads_100_calls_over_4_members_and_never_starts_twice_with_the_same(tmp_path: Path) -> None:
    group = {"id": "sales", "members": ["anna", "boris", "clara", "dmitri"], "mode": "evenly"}
    phones = {a: Answer(after=0.5) for a in ("anna", "boris", "clara", "dmitri")}
    async with running(tmp_path, [group], phones) as s:
        starts: list[str] = []
        for n in range(100):
            call = await s.sim.call(did="5000", caller=f"1555{n:07d}")
            await s.until(call.answered.is_set, 20)
            starts.append(call.answered_by)
            await call.hangup()
            await s.until(call.ended.is_set, 5)
            # ...and acd has seen it too (a loaded machine tells it later than the simulator
            # knows): a phone still busy in acd's eyes would rightly be skipped
            await s.until(lambda: not s.acd.router.calls and all(
                s.acd.router.agents.status(a).device.value == "NOT_INUSE" for a in phones), 5)
        counts = {ext: starts.count(ext) for ext in ("101", "102", "103", "104")}
        assert max(counts.values()) - min(counts.values()) <= 1, counts
        assert all(a != b for a, b in zip(starts, starts[1:], strict=False)), starts


async def test_all_at_once_rings_every_available_member_and_stops_the_others_when_one_answers(tmp_path: Path) -> None:
    group = {"id": "sales", "members": ["anna", "boris", "clara"], "mode": "all"}
    phones = {"anna": NeverAnswer(), "boris": Answer(after=2), "clara": NeverAnswer()}
    async with running(tmp_path, [group], phones) as s:
        call = await s.sim.call(did="5000")
        await s.until(lambda: call.answered.is_set(), 20)
        assert call.answered_by == "102"
        anna, clara = s.rings("anna")[0], s.rings("clara")[0]
        boris = s.rings("boris")[0]
        assert abs(anna.started - boris.started) < 0.5 and abs(clara.started - boris.started) < 0.5
        assert anna.outcome == clara.outcome == "answered_elsewhere"
        assert abs(anna.ended - boris.ended) < 0.5


async def test_offline_and_busy_members_are_skipped_without_waiting(tmp_path: Path) -> None:
    from acd.sim import Unreachable

    group = {"id": "sales", "members": ["anna", "boris", "clara"], "mode": "strict"}
    phones = {"anna": Unreachable(), "boris": Answer(after=0.5), "clara": Answer(after=1)}
    async with running(tmp_path, [group], phones) as s:
        colleague = await s.phone("dmitri").dial("102")  # boris is on an internal call
        await s.until(lambda: colleague.answered.is_set(), 10)
        await s.until(lambda: s.acd.router.agents.status("boris").device.value == "INUSE", 5)
        call = await s.sim.call(did="5000")
        await s.until(lambda: bool(s.rings("clara")), 10)
        assert s.rings("anna") == [] and len(s.rings("boris")) == 1  # boris: only the colleague's call
        await s.until(lambda: call.answered.is_set(), 10)
        history = await s.history(call.uniqueid)
        arrived = next(e.at for e in history.events if e.kind == "arrived")
        first_ring = s.rings("clara")[0].started
        assert first_ring - arrived < 0.5, "skipping must not cost ring time"
        skips = {e.detail["agent"]: e.detail["reason"] for e in history.events
                 if e.kind == "considered" and e.detail["decision"] == "skip"}
        assert skips == {"anna": "offline", "boris": "busy"}


async def test_a_caller_hanging_up_while_ringing_stops_all_ringing_and_is_recorded_abandoned(tmp_path: Path) -> None:
    group = {"id": "sales", "members": ["anna", "boris", "clara"], "mode": "all"}
    phones = {a: NeverAnswer() for a in ("anna", "boris", "clara")}
    async with running(tmp_path, [group], phones) as s:
        call = await s.sim.call(did="5000")
        await s.until(lambda: all(s.rings(a) for a in ("anna", "boris", "clara")), 10)
        await s.clock.sleep(3)
        await call.hangup()
        await s.until(lambda: all(s.rings(a)[0].ended is not None for a in ("anna", "boris", "clara")), 5)
        assert all(s.rings(a)[0].outcome == "cancelled" for a in ("anna", "boris", "clara"))
        await s.until(lambda: not s.acd.router.calls, 5)
        history = await s.history(call.uniqueid)
        assert history.outcome == "abandoned" and history.missed
        missed = s.acd.store.missed_calls()
        assert [m.call_id for m in missed] == [call.uniqueid]


async def test_a_number_the_trunk_sends_in_e164_reaches_the_group_configured_for_it(tmp_path: Path) -> None:
    # the config names the DID as "+4930111111"; a trunk presenting E.164 sends just that
    sales = {**strict(), "number": "+4930111111"}
    other = {"id": "other", "members": ["dmitri"], "number": "5000"}
    async with running(tmp_path, [sales, other], {"anna": Answer(after=1)}) as s:
        call = await s.sim.call(did="+4930111111", caller="15550001")
        await s.until(lambda: call.answered.is_set(), 20)
        assert call.answered_by == "101"
        history = await s.history(call.uniqueid)
        assert (history.did, history.group_id) == ("+4930111111", "sales")
