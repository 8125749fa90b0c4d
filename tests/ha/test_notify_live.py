"""The live view and the wallboard show the same picture on every node: the active node's."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from acd.core.events import CallArrived, DeviceState, DeviceStateChanged

from .conftest import needs_postgres
from .nodes import api, two_nodes

pytestmark = needs_postgres


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
