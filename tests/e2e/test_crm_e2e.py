"""The CRM end to end: a known caller rings the owner first, an unknown caller becomes
a lead of the agent who answered, a manual transfer moves the owner and is delivered
exactly once to a real HTTP server, through an outage and an acd restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from crm.crm_server import CrmServer, Reply, free_port  # tests/crm: a real local HTTP server
from sqlalchemy.orm import Session

from acd.crm import Identity, add_client, find_client, verify
from acd.sim import Answer, NeverAnswer

from .stack import running

SALES = {"id": "sales", "members": ["anna", "boris"], "mode": "strict", "rings": 2}
HOOK = {"crm": {"region": "US", "webhooks": [{"name": "hook", "url_env": "E2E_HOOK_URL",
                                              "secret_env": "E2E_HOOK_SECRET"}]}}


def owner_of(stack: object, number: str) -> tuple[str | None, str | None]:
    with Session(stack.acd.crm_feed.engine) as session:  # type: ignore[attr-defined]
        client = find_client(session, Identity.phone(number, "US"))
        return (client.owner, client.kind) if client else (None, None)


async def test_a_known_caller_rings_the_owner_first_then_falls_back_to_the_group(tmp_path: Path) -> None:
    phones = {"clara": NeverAnswer(), "anna": Answer(after=1)}
    async with running(tmp_path, [SALES], phones, crm={"region": "US"}) as s:
        with Session(s.acd.crm_feed.engine) as session, session.begin():
            add_client(session, [Identity.phone("+12025550123", "US")], owner="clara", now=s.clock.now())
        await s.acd.crm_feed.reload_owners()  # written straight into the database, not through acd
        call = await s.sim.call(did="5000", caller="2025550123")  # national format, same client
        await s.until(call.answered.is_set, 30)
        assert [p.started for p in s.rings("clara")] < [p.started for p in s.rings("anna")]
        assert call.answered_by == "101"  # clara did not answer: the group as usual
        history = await s.history(call.uniqueid)
        first = next(e.detail for e in history.events if e.kind == "considered")
        assert first == {"agent": "clara", "decision": "ring", "attempt": 1, "reason": "client's owner"}


async def test_an_unknown_caller_becomes_a_lead_owned_by_the_agent_who_answered(tmp_path: Path) -> None:
    async with running(tmp_path, [SALES], {"anna": NeverAnswer(), "boris": Answer(after=1)},
                       crm={"region": "US"}) as s:
        call = await s.sim.call(did="5000", caller="+12025550199")
        await s.until(call.answered.is_set, 30)
        await s.acd.crm_feed.drained()
        await s.until(lambda: owner_of(s, "+12025550199") == ("boris", "lead"), 10)


@pytest.mark.parametrize("kind", ["blind", "attended"])
async def test_a_transfer_moves_the_owner_and_is_delivered_once_through_an_outage_and_a_restart(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crm = CrmServer(free_port())  # not listening yet: the CRM is down
    monkeypatch.setenv("E2E_HOOK_URL", crm.url + "/acd")
    monkeypatch.setenv("E2E_HOOK_SECRET", "hook-secret")
    async with running(tmp_path, [SALES], {"anna": Answer(after=1), "clara": Answer(after=1)}, **HOOK) as s:
        call = await s.sim.call(did="5000", caller="+12025550142")
        await s.until(call.answered.is_set, 30)
        await s.clock.sleep(2)
        if kind == "blind":
            await s.phone("anna").transfer_blind("103")
        else:
            await s.phone("anna").transfer_attended("103")
            await s.clock.sleep(3)  # anna consults clara, then completes by hanging up
            await s.phone("anna").hangup()
        await s.until(lambda: bool(s.transfers), 15)
        assert s.transfers[0].kind == kind
        await s.acd.crm_feed.drained()
        await s.until(lambda: owner_of(s, "+12025550142") == ("clara", "lead"), 10)
        await s.stop_acd()  # acd restarts while the CRM is still down
        await s.start_acd()
        await crm.start()  # the CRM comes back
        try:
            def owner_changes() -> list[object]:
                return [r for r in crm.delivered() if r.json().get("event") == "owner.changed"]

            await s.until(lambda: bool(owner_changes()), 600)
            await s.clock.sleep(60)  # more time for a duplicate to show up, if any would
            [delivery] = owner_changes()
            body = delivery.json()
            assert body["owner"] == "clara" and body["previous_owner"] == "anna"
            assert verify("hook-secret", delivery.body, delivery.headers["x-acd-signature"])
        finally:
            await crm.stop()


async def test_a_crm_that_hangs_never_delays_call_routing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crm = await CrmServer(free_port(), responder=lambda request: Reply(hang=True)).start()
    monkeypatch.setenv("E2E_HOOK_URL", crm.url + "/acd")
    monkeypatch.setenv("E2E_HOOK_SECRET", "hook-secret")
    try:
        async with running(tmp_path, [SALES], {"anna": Answer(after=1, hangup_after=1)}, **HOOK) as s:
            delays = []
            for n in range(5):  # every call makes CRM deliveries that hang
                call = await s.sim.call(did="5000", caller=f"+1202555{n:04d}")
                await s.until(lambda: len(s.rings("anna")) > n, 10)  # noqa: B023
                delays.append(s.rings("anna")[n].started - call.channel.created)
                await s.until(call.ended.is_set, 10)  # noqa: B023
            assert max(delays) < 1.5, delays  # Answer() 0.5 s + routing; no CRM wait in it
            assert any(r.answered is None for r in crm.requests)  # the CRM really hung
    finally:
        await crm.stop()
