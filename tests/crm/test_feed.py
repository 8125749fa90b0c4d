"""The CRM wired to the service: the distributor's transfer reports, owner look-ups
under a time budget, and a database that is slow must not hold routing up."""

import asyncio
import sqlite3
import time

from sqlalchemy.orm import Session

from acd.clock import Clock
from acd.core.commands import ReportManualTransfer
from acd.core.events import (
    CallArrived,
    DeviceState,
    DeviceStateChanged,
    MemberAnswered,
    MemberRinging,
    TransferredByHand,
)
from acd.core.model import Agent, QueueGroup, RoutingConfig
from acd.core.router import Router
from acd.crm import CrmFeed, CrmOptions, Identity, WebhookConnector, create_lead, list_outbox
from acd.distributor import Distributor

from .crm_server import CrmServer
from .support import fast_sender, running, tx, until

NOW = 1_700_000_000.0


class Nowhere:
    """PBX and history ports that only listen."""

    def __init__(self) -> None:
        self.commands: list = []

    def execute(self, command) -> None:
        self.commands.append(command)

    def add(self, records) -> None:
        pass

    def offered(self, group_id, agent_ids, at) -> None:
        pass


def distributor() -> Distributor:
    agents = {a: Agent(a, a.title(), f"PJSIP/{100 + n}", str(100 + n)) for n, a in enumerate(("anna", "boris"))}
    cfg = RoutingConfig(agents=agents, groups={"sales": QueueGroup("sales", "Sales", ("anna", "boris"))},
                        numbers={"5000": "sales"})
    ports = Nowhere()
    d = Distributor(Router(cfg), Clock(), ports, ports)
    for agent in agents:
        d.feed(DeviceStateChanged(agent, DeviceState.NOT_INUSE))
    return d


async def test_a_transfer_made_on_the_phone_moves_the_owner_in_the_crm(engine, session):
    with tx(session):
        client = create_lead(session, [Identity.phone("+49 30 1234567", "DE")], "anna", now=NOW)
    async with CrmServer() as server:
        sender = fast_sender(engine, [WebhookConnector("hook", server.url, "secret")])
        feed = CrmFeed(engine, region="DE", targets=["hook"], sender=sender)
        d = distributor()
        d.transfer_listeners.append(feed.manual_transfer)
        async with running(feed, sender):
            d.feed(CallArrived("c1", "5000", "030 1234567"))
            d.feed(MemberRinging("c1", 1, "anna"))
            d.feed(MemberAnswered("c1", 1, "anna"))
            d.feed(TransferredByHand("c1", "boris", "attended"))
            await until(lambda: server.delivered())
    assert server.requests[0].json()["owner"] == "boris"
    session.refresh(client)
    assert client.owner == "boris"


async def test_the_owner_is_looked_up_for_routing(engine, session):
    with tx(session):
        create_lead(session, [Identity.messenger("telegram", "42")], "anna", now=NOW)
    feed = CrmFeed(engine, options={"night": CrmOptions(owner_first=False)})
    assert await feed.owner_for(Identity.messenger("telegram", "42")) == "anna"
    assert await feed.owner_for(Identity.messenger("telegram", "42"), queue="night") is None
    assert await feed.owner_for(Identity.messenger("telegram", "43")) is None


async def test_a_locked_database_delays_neither_the_owner_look_up_nor_reports(engine, db_url, session):
    with tx(session):
        create_lead(session, [Identity.phone("030 1234567", "DE")], "anna", now=NOW)
    feed = CrmFeed(engine)
    blocker = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        started = time.monotonic()
        owner = await feed.owner_for(Identity.phone("030 1234567", "DE"), budget_s=0.2)
        assert owner is None and time.monotonic() - started < 0.5  # routing goes on as for a stranger
        async with running(feed):
            started = time.monotonic()
            feed.manual_transfer(ReportManualTransfer("c1", "030 1234567", "anna", "boris", "blind"))
            assert time.monotonic() - started < 0.15  # a wait would last until the ROLLBACK below
            await asyncio.sleep(0.2)
            blocker.execute("ROLLBACK")  # the database is free again: the report is applied
            await asyncio.wait_for(feed.drained(), 5)
    finally:
        blocker.close()
    with Session(engine) as s:
        assert [j.payload["owner"] for j in list_outbox(s)] == []  # no targets configured: built-in CRM only
    assert await feed.owner_for(Identity.phone("030 1234567", "DE")) == "boris"
