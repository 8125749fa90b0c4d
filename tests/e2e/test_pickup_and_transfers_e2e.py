"""Pickup (intercept) and manual transfers from the phones, end to end."""

from __future__ import annotations

from pathlib import Path

from acd.sim import Answer, NeverAnswer

from .stack import running


def sales(allow_pickup: bool) -> dict[str, object]:
    return {"id": "sales", "members": ["anna", "boris", "clara"], "mode": "strict", "rings": 5,
            "allow_pickup": allow_pickup}


async def test_a_colleague_picks_up_with_the_code_where_the_group_allows_it(tmp_path: Path) -> None:
    phones = {"anna": NeverAnswer(), "boris": Answer(after=1)}
    async with running(tmp_path, [sales(True)], phones) as s:
        call = await s.sim.call(did="5000")
        await s.until(lambda: bool(s.rings("anna")), 10)
        await s.phone("boris").dial("*11")
        await s.until(call.answered.is_set, 10)
        assert call.answered_by == "102"
        assert s.rings("anna")[0].outcome in ("answered_elsewhere", "picked_up")
        history = await s.history(call.uniqueid)
        answered = next(e.detail for e in history.events if e.kind == "answered")
        assert answered["agent"] == "boris" and answered["picked_up_from"] == "anna"


async def test_directed_pickup_takes_the_call_ringing_at_the_named_colleague(tmp_path: Path) -> None:
    phones = {"anna": NeverAnswer(), "clara": Answer(after=1)}
    async with running(tmp_path, [sales(True)], phones) as s:
        call = await s.sim.call(did="5000")
        await s.until(lambda: bool(s.rings("anna")), 10)
        await s.phone("clara").dial("*11101")
        await s.until(call.answered.is_set, 10)
        assert call.answered_by == "103"


async def test_pickup_is_refused_cleanly_where_the_group_forbids_it_and_the_call_keeps_ringing(tmp_path: Path) -> None:
    phones = {"anna": NeverAnswer(), "boris": Answer(after=1)}
    async with running(tmp_path, [sales(False)], phones) as s:
        call = await s.sim.call(did="5000")
        await s.until(lambda: bool(s.rings("anna")), 10)
        attempt = await s.phone("boris").dial("*11")
        await s.until(attempt.ended.is_set, 10)
        assert attempt.channel.hangupcause == 21  # call rejected: the colleague hears it fail
        assert not call.answered.is_set() and s.phone("anna").ringing
        history = await s.history(call.uniqueid)
        refused = [e.detail for e in history.events if e.kind == "pickup_refused"]
        assert refused == [{"by": "boris", "reason": "the group does not allow call pickup"}]


async def test_the_intercept_button_rings_the_members_own_phone_which_takes_the_call(tmp_path: Path) -> None:
    phones = {"anna": NeverAnswer(), "clara": Answer(after=1)}
    async with running(tmp_path, [sales(True)], phones) as s:
        call = await s.sim.call(did="5000")
        # the button is offered once acd has seen anna's phone ring (the simulator knows it first)
        await s.until(lambda: call.uniqueid in s.acd.router.calls
                      and "anna" in s.acd.router.calls[call.uniqueid].ringing, 10)
        assert s.acd.intercept(call.uniqueid, "dmitri") == "you are not a member of this call's queue group"
        assert s.acd.intercept(call.uniqueid, "clara") is None
        await s.until(call.answered.is_set, 10)
        assert call.answered_by == "103"


async def test_the_intercept_button_takes_exactly_the_call_clicked(tmp_path: Path) -> None:
    phones = {"anna": NeverAnswer(), "boris": NeverAnswer(), "clara": Answer(after=1)}
    async with running(tmp_path, [sales(True)], phones) as s:
        older = await s.sim.call(did="5000", caller="+4930111")
        await s.until(lambda: bool(s.rings("anna")), 10)
        newer = await s.sim.call(did="5000", caller="+4930222")  # anna is busy ringing: boris
        # the button is offered once acd has seen boris's phone ring
        await s.until(lambda: newer.uniqueid in s.acd.router.calls
                      and "boris" in s.acd.router.calls[newer.uniqueid].ringing, 10)
        assert s.acd.intercept(newer.uniqueid, "clara") is None
        await s.until(newer.answered.is_set, 10)
        assert newer.answered_by == "103"
        assert not older.answered.is_set() and s.phone("anna").ringing  # the older caller was not taken
        await s.until(lambda: s.acd.router.calls[newer.uniqueid].agent == "clara", 10)
        assert s.acd.intercept(newer.uniqueid, "boris") == "the call is no longer ringing"


async def test_a_blind_transfer_is_reported_with_the_new_agent(tmp_path: Path) -> None:
    async with running(tmp_path, [sales(False)], {"anna": Answer(after=1), "clara": Answer(after=1)}) as s:
        call = await s.sim.call(did="5000", caller="15550042")
        await s.until(call.answered.is_set, 10)
        await s.clock.sleep(2)
        await s.phone("anna").transfer_blind("103")
        await s.until(lambda: bool(s.transfers), 15)
        [report] = s.transfers
        assert (report.caller_number, report.from_agent, report.to_agent, report.kind) == \
            ("15550042", "anna", "clara", "blind")
        assert call.talked_to == ["101", "103"]
        assert s.acd.router.agents.status("clara").calls == {call.uniqueid}
        assert s.acd.router.agents.status("anna").calls == set()


async def test_an_attended_transfer_is_reported_with_the_new_agent(tmp_path: Path) -> None:
    async with running(tmp_path, [sales(False)], {"anna": Answer(after=1), "clara": Answer(after=1)}) as s:
        call = await s.sim.call(did="5000", caller="15550043")
        await s.until(call.answered.is_set, 10)
        await s.clock.sleep(2)
        await s.phone("anna").transfer_attended("103")
        await s.clock.sleep(3)  # anna consults clara, then completes by hanging up
        await s.phone("anna").hangup()
        await s.until(lambda: bool(s.transfers), 15)
        [report] = s.transfers
        assert (report.from_agent, report.to_agent, report.kind) == ("anna", "clara", "attended")
        history = await s.history(call.uniqueid)
        assert [e.detail["to_agent"] for e in history.events if e.kind == "transferred"] == ["clara"]
