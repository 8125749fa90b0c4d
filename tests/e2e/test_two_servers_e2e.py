"""Two Asterisk servers with their own agents and groups spanning both: a member on
the other server rings through the trunk, calls are keyed by (server, Uniqueid),
and losing one server leaves the other routing."""

from __future__ import annotations

from pathlib import Path

from acd.core.call import Phase
from acd.core.events import DeviceState

from .two_servers import two_servers

# Berlin's callers ring max (Munich) first, Munich's ring anna (Berlin) first
GROUPS = [{"id": "sales", "members": ["max", "anna"], "rings": 2},
          {"id": "service", "members": ["anna", "max"], "rings": 2}]
NUMBERS = {"5000": "sales", "6000": "service"}
UID = "1700000000.0"  # each server's first channel: the same Uniqueid on both


async def test_a_call_on_each_server_rings_the_member_on_the_other_through_the_trunk(tmp_path: Path) -> None:
    async with two_servers(tmp_path, GROUPS, NUMBERS) as stack:
        in_berlin = await stack.berlin.call("5000", caller="111")
        in_munich = await stack.munich.call("6000", caller="222")
        assert in_berlin.uniqueid == in_munich.uniqueid == UID
        await stack.until(lambda: in_berlin.answered.is_set() and in_munich.answered.is_set())

        # what each server was asked: Berlin dialled 201 through its trunk to Munich,
        # where max's own phone rang and answered; and the other way round for anna
        assert stack.to_munich.dialled == ["201"] and stack.to_berlin.dialled == ["101"]
        assert [r.outcome for r in stack.munich.phone("201").rings] == ["answered"]
        assert [r.outcome for r in stack.berlin.phone("101").rings] == ["answered"]
        assert in_berlin.answered_by == "to-munich" and in_munich.answered_by == "to-berlin"

        assert stack.acd is not None
        calls = stack.acd.router.calls

        def talking(call_id: str) -> str | None:
            return calls[call_id].agent if call_id in calls else None

        # acd, not only the servers, has seen both answers
        await stack.until(lambda: (talking(UID), talking(f"{UID}@munich")) == ("max", "anna"))
        assert set(calls) == {UID, f"{UID}@munich"}  # the same Uniqueid, two calls

        await in_berlin.hangup()
        await in_munich.hangup()
        await stack.until(lambda: not stack.acd.router.calls)  # type: ignore[union-attr]
        berlin, munich = await stack.history(UID), await stack.history(f"{UID}@munich")
        assert (berlin.server, berlin.did, berlin.answered_by, berlin.outcome) == ("berlin", "5000", "max", "answered")
        assert (munich.server, munich.did, munich.answered_by, munich.outcome) == ("munich", "6000", "anna", "answered")


async def test_losing_one_server_leaves_the_other_routing_to_its_own_members(tmp_path: Path) -> None:
    async with two_servers(tmp_path, GROUPS, NUMBERS) as stack:
        await stack.lose(stack.munich)
        berlin, munich = stack.servers
        await stack.until(lambda: not munich.connection.ready)
        assert stack.acd is not None
        router = stack.acd.router
        await stack.until(lambda: router.agents.status("max").device is DeviceState.UNAVAILABLE)  # offline

        call = await stack.berlin.call("5000", caller="111")
        await stack.until(lambda: call.answered.is_set())
        # max's server is gone: acd rang anna at once, nothing went to the dead trunk
        assert call.answered_by == "101" and stack.to_munich.dialled == []
        await stack.until(lambda: stack.acd.router.calls[call.uniqueid].phase is Phase.CONNECTED)  # type: ignore[union-attr]
        assert stack.acd.router.calls[call.uniqueid].agent == "anna"
        assert berlin.connection.ready
