"""Agents' work changes made through a standby (breaks, clock in/out, online) are made
on the active node, whose router gives out the calls."""

from __future__ import annotations

from acd.core.commands import Ring
from acd.core.events import CallArrived, DeviceState, DeviceStateChanged

from .conftest import needs_postgres
from .nodes import api, two_nodes

pytestmark = needs_postgres


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
