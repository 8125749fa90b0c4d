"""The example configuration, the real router and distributor, the store, and a restart."""

from __future__ import annotations

from pathlib import Path

from acd.clock import Clock
from acd.config import load_settings
from acd.core.commands import Command, Ring
from acd.core.events import CallArrived, CallerHungUp, DeviceState, DeviceStateChanged, MemberAnswered, MemberRinging
from acd.core.router import Router
from acd.distributor import Distributor
from acd.store import HistoryWriter, Store

EXAMPLE = Path(__file__).resolve().parents[2] / "acd.example.toml"
SUPPORT = "+4930222222"  # evenly: chloe, dev, anna


class Pbx:
    def __init__(self) -> None:
        self.commands: list[Command] = []

    def execute(self, command: Command) -> None:
        self.commands.append(command)


def start(store: Store, writer: HistoryWriter) -> tuple[Distributor, Pbx]:
    routing = load_settings(EXAMPLE).routing()
    pbx = Pbx()
    distributor = Distributor(Router(routing, last_offered=store.load_offers()), Clock(), pbx, writer)
    for agent_id in routing.agents:
        distributor.feed(DeviceStateChanged(agent_id, DeviceState.NOT_INUSE))
    return distributor, pbx


def answered_call(distributor: Distributor, pbx: Pbx, call_id: str) -> str:
    distributor.feed(CallArrived(call_id, SUPPORT, "+4917000000"))
    ring = next(c for c in pbx.commands if isinstance(c, Ring) and c.call_id == call_id)
    agent = ring.agent_ids[0]
    distributor.feed(MemberRinging(call_id, ring.attempt, agent))
    distributor.feed(MemberAnswered(call_id, ring.attempt, agent))
    distributor.feed(CallerHungUp(call_id))
    distributor.timers.cancel_all()
    return agent


async def test_the_history_of_a_routed_call_and_the_rotation_survive_a_restart(db_url: str) -> None:
    store = Store(db_url)
    store.create_all()
    async with HistoryWriter(store, batch_delay_s=0.01) as writer:
        first = answered_call(*start(store, writer), "call-1")
        await writer.flush(timeout_s=5)
    store.close()
    assert first == "chloe"  # never-offered members first, in list order

    store = Store(db_url)  # the service restarts
    call = store.call("call-1")
    assert call is not None and call.outcome == "answered" and call.answered_by == "chloe"
    assert call.group_id == "support" and call.hung_up_by == "caller" and store.open_calls() == []
    assert [e.kind for e in call.events][:3] == ["arrived", "considered", "ringing"]

    async with HistoryWriter(store, batch_delay_s=0.01) as writer:
        second = answered_call(*start(store, writer), "call-2")
    assert second == "dev"  # the rotation went on where it stopped, not back at chloe
    assert {key for key in store.load_offers()} == {("support", "chloe"), ("support", "dev")}
    store.close()
