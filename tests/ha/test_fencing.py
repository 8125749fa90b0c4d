"""A node that is not active for the server writes not one AMI byte and runs no call
timers (acd/ha/leadership.py): the gate, without PostgreSQL."""

from __future__ import annotations

import asyncio

from acd.clock import Clock
from acd.core.commands import Command, Record
from acd.core.events import CallArrived
from acd.core.model import Agent, QueueGroup, RoutingConfig
from acd.core.router import Router
from acd.distributor import Distributor
from acd.pbx.asterisk import AsteriskPbx
from tests.pbx.fakeami import FAST, SECRET, FakeAsterisk, until

CONFIG = RoutingConfig(agents={"anna": Agent("anna", "Anna", "PJSIP/101", "101")},
                       groups={"sales": QueueGroup("sales", "Sales", ("anna",), ring_seconds=0.05)},
                       numbers={"5000": "sales"})


async def test_once_the_gate_shuts_no_action_leaves_not_even_a_ping_and_the_link_is_dropped() -> None:
    fake = FakeAsterisk()
    await fake.start()
    active = True
    pbx = AsteriskPbx(CONFIG, host="127.0.0.1", port=fake.port, username="acd", secret=SECRET,
                      timing=FAST, active=lambda: active)
    seen: list[object] = []
    pbx.attach(seen.append)
    run = asyncio.create_task(pbx.run())
    try:
        await until(lambda: pbx.connection.ready)
        assert await pbx.connection.send({"Action": "Ping"}) is not None
        sent = len(fake.arrivals)
        seen_before = len(seen)
        active = False  # the lease ran out on this node's clock
        fake.push(Event="Newchannel", Channel="PJSIP/trunk-00000009", Uniqueid="9.9", ChannelState="4",
                  Exten="5000", Context="acd-inbound")
        await asyncio.sleep(0.05)
        assert len(seen) == seen_before  # its events are not acted on
        answer = await pbx.connection.send({"Action": "Ping"})
        assert answer.get("Message") == "not active"
        await until(lambda: not pbx.connection.ready)
        await asyncio.sleep(0.3)  # several reconnect back-offs
        assert len(fake.arrivals) == sent  # nothing more reached Asterisk, no new Login
        assert len(fake.sessions) == 1  # not even a new connection
    finally:
        pbx.close()
        await asyncio.wait_for(run, 5)
        await fake.stop()


class Pbx:
    def __init__(self) -> None:
        self.commands: list[Command] = []

    def execute(self, command: Command) -> None:
        self.commands.append(command)


class History:
    def add(self, records: list[Record]) -> None:
        pass

    def offered(self, group_id: str, agent_ids: tuple[str, ...], at: float) -> None:
        pass


async def test_the_calls_timers_fire_only_on_the_active_node() -> None:
    pbx = Pbx()
    distributor = Distributor(Router(CONFIG), Clock(), pbx, History())
    active = True
    distributor.owns_calls = lambda: active
    distributor.feed(CallArrived("1.1", "5000", "15550001"))
    rung = len(pbx.commands)
    active = False  # the node lost the lease while the member's phone was to ring
    await asyncio.sleep(0.2)
    assert distributor.timers.pending() == []  # the timer went off...
    assert len(pbx.commands) == rung  # ...and changed nothing here
    distributor.timers.cancel_all()
