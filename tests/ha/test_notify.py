"""Every node serves the web UI and API: a change saved on any node reaches the others
through the database and a NOTIFY, and the active node's router applies it."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from acd.core.commands import Ring
from acd.core.events import CallArrived, DeviceState, DeviceStateChanged
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
