"""Clients' responsible persons and users' API tokens changed on any node are what every
node goes by at once."""

from __future__ import annotations

import asyncio

from acd.crm import Identity, add_client

from .conftest import needs_postgres
from .nodes import api, two_nodes, until

pytestmark = needs_postgres


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
