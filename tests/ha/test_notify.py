"""Every node serves the web UI and API: a change saved on any node reaches the others
through the database and a NOTIFY, and the active node's router applies it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from acd.core.commands import Ring
from acd.core.events import CallArrived, DeviceState, DeviceStateChanged
from acd.crm import Identity, add_client
from acd.ha.shared_settings import SharedSettings

from .conftest import needs_postgres
from .nodes import api, settings, two_nodes, until

pytestmark = needs_postgres


async def test_a_group_saved_through_the_standbys_api_routes_the_next_call_on_the_active(pg_url: str) -> None:
    async with two_nodes(pg_url) as (active, standby), api(standby) as client:
        reply = await client.put("/api/groups/sales", json={"name": "Sales", "members": ["boris", "anna"]})
        assert reply.status_code == 200, reply.text

        await until(lambda: active.router.config.groups["sales"].members[0] == "boris", 5)
        for agent in ("anna", "boris"):
            active.distributor.feed(DeviceStateChanged(agent, DeviceState.NOT_INUSE))
        commands = active.distributor.feed(CallArrived("c1", "+4930111111", "+4915100000001"))
        assert [c.agent_ids for c in commands if isinstance(c, Ring)] == [("boris",)]


async def test_a_node_that_was_not_listening_reads_the_change_when_it_listens_again(pg_url: str) -> None:
    async with two_nodes(pg_url) as (active, standby), api(standby) as client:
        assert active.shared is not None
        notifications = active.shared.notifications
        with create_engine(pg_url).connect() as db:  # its connection cut, as by a network failure
            db.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": notifications.backend_pid})
        await until(lambda: not notifications.listening.is_set())

        reply = await client.put("/api/groups/sales", json={"name": "Sales", "members": ["clara"]})
        assert reply.status_code == 200, reply.text

        await until(lambda: notifications.connections == 2, 5)
        await until(lambda: active.router.config.groups["sales"].members == ("clara",), 5)


async def test_a_node_started_later_starts_with_the_settings_saved_in_the_web_ui(pg_url: str) -> None:
    async with two_nodes(pg_url) as (_, standby), api(standby) as client:
        reply = await client.put("/api/groups/sales", json={"name": "Sales", "members": ["boris"]})
        assert reply.status_code == 200, reply.text
    engine = create_engine(pg_url)
    later = SharedSettings(engine, current=lambda: settings(pg_url), apply=lambda _: None)
    # what acd.serve.Acd starts with: its file lists anna
    assert later.at_start(settings(pg_url)).routing().groups["sales"].members == ("boris",)
    engine.dispose()


async def test_the_standby_shows_the_active_nodes_live_view_and_wallboard(pg_url: str) -> None:
    async with two_nodes(pg_url) as (active, standby), api(active) as on_active, \
            api(standby, "admin2") as on_standby:
        active.distributor.feed(DeviceStateChanged("anna", DeviceState.NOT_INUSE))
        active.distributor.feed(CallArrived("c1", "+4930111111", "+4915100000001"))

        async def seen(client: httpx.AsyncClient) -> Any:
            live = (await client.get("/api/live")).json()
            board = (await client.get("/api/wallboard")).json()
            return ([(c["call_id"], c["phase"], c["ringing"]) for c in live["calls"]],
                    [(a["id"], a["state"]) for a in live["agents"]],
                    [(g["id"], g["waiting"]) for g in board["groups"]])

        on_the_active = await seen(on_active)
        assert on_the_active[0] == [("c1", "ringing", [])]  # anna is being called
        for _ in range(500):
            if await seen(on_standby) == on_the_active:
                break
            await asyncio.sleep(0.01)
        assert await seen(on_standby) == on_the_active


async def test_a_break_started_on_the_standby_is_taken_on_the_active_and_its_next_call_skips_the_agent(
        pg_url: str) -> None:
    async with two_nodes(pg_url) as (active, standby), api(standby) as client:
        reply = await client.post("/api/channels/agents/anna/break/start", json={"reason": "lunch"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["on_break"] is True  # as the active node has it now

        for agent in ("anna", "boris"):
            active.distributor.feed(DeviceStateChanged(agent, DeviceState.NOT_INUSE))
        commands = active.distributor.feed(CallArrived("c1", "+4930111111", "+4915100000001"))
        assert [c.agent_ids for c in commands if isinstance(c, Ring)] == [("boris",)]

        reply = await client.post("/api/channels/agents/anna/break/end")
        assert reply.status_code == 200, reply.text
        assert active.desk.work_state("anna")["on_break"] is False


async def test_an_agents_change_on_a_standby_with_no_active_node_is_a_503_saying_so(pg_url: str) -> None:
    async with two_nodes(pg_url) as (active, standby), api(standby) as client:
        active.is_active = lambda: False  # between two leaders
        assert standby.shared is not None and standby.shared.agent_work is not None
        standby.shared.agent_work.timeout_s = 0.5
        reply = await client.post("/api/channels/agents/anna/break/start", json={"reason": "lunch"})
        assert reply.status_code == 503
        assert "no active node" in reply.text


async def test_a_clients_owner_changed_on_the_standby_is_who_the_active_node_asks_for(pg_url: str) -> None:
    phone = Identity.phone("+49 151 00000001")
    async with two_nodes(pg_url) as (active, standby), api(standby) as client:
        made = await active.crm_feed.apply(lambda session: add_client(session, [phone], owner="anna", now=0.0).id)
        await until(lambda: standby.crm_feed._owners is not None
                    and standby.crm_feed._owners.get((phone.kind, phone.value)) == "anna", 5)

        reply = await client.put(f"/api/clients/{made}/owner", json={"owner": "boris"})
        assert reply.status_code == 200, reply.text

        await until(lambda: active.crm_feed._owners is not None
                    and active.crm_feed._owners.get((phone.kind, phone.value)) == "boris", 5)
        assert await active.crm_feed.owner_for(phone) == "boris"


async def test_a_token_revoked_on_the_standby_is_refused_at_once_by_the_active(pg_url: str) -> None:
    async with two_nodes(pg_url) as (active, standby), api(active, "integration") as on_active, \
            api(standby) as on_standby:
        assert (await on_active.get("/api/live")).status_code == 200  # the active node trusts it for a while
        first = min(t["id"] for t in (await on_standby.get("/api/tokens")).json())  # the integration's
        assert (await on_standby.delete(f"/api/tokens/{first}")).status_code == 204

        for _ in range(300):  # well before TOKEN_CACHE_S
            if (await on_active.get("/api/live")).status_code == 401:
                break
            await asyncio.sleep(0.01)
        assert (await on_active.get("/api/live")).status_code == 401
