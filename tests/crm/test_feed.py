"""The CRM wired to the service: the distributor's transfer reports, owner look-ups
under a time budget, and a database that is slow must not hold routing up."""

import asyncio
import sqlite3
import time

from sqlalchemy import event
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
from acd.crm import (
    CrmFeed,
    CrmOptions,
    Identity,
    Interaction,
    WebhookConnector,
    activities,
    create_lead,
    find_client,
    list_outbox,
)
from acd.crm.calls import CallCrm
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


def called(call_id: str, number: str = "030 1234567") -> Interaction:
    return Interaction.call(call_id, number, NOW, region="DE", line="5000", queue="sales")


async def test_a_new_callers_lead_routes_their_next_call_to_the_agent_who_answered(any_engine):
    feed = CrmFeed(any_engine, region="DE")
    async with running(feed):
        await until(lambda: feed.owner_known(Identity.phone("030 1234567"))[0])  # the index is loaded
        feed.answered(called("c1"), "anna")
        await feed.drained()
        await until(lambda: feed.owner_known(Identity.phone("+49 30 1234567")) == (True, "anna"))
    with Session(any_engine) as s:
        lead = find_client(s, Identity.phone("030 1234567"))
        assert lead is not None and (lead.kind, lead.owner, lead.revision) == ("lead", "anna", 0)
        assert [i.value for i in lead.identities] == ["+49301234567"]
        [created] = activities(s, lead.id)
        assert (created.kind, created.agent, created.detail) == ("lead_created", "anna", {"source": "phone:c1"})


async def test_a_finished_call_goes_to_the_external_crm_after_its_lead_with_the_client(any_engine):
    feed = CrmFeed(any_engine, region="DE", targets=["hook", "bitrix"])
    async with running(feed):
        feed.answered(called("c1"), "anna")
        feed.call_finished(called("c1"), "anna", 42.0)
        await feed.drained()
    with Session(any_engine) as s:
        lead = find_client(s, Identity.phone("030 1234567"))
        assert lead is not None
        jobs = sorted(list_outbox(s), key=lambda j: j.id)
    assert [(j.target, j.event, j.order_key) for j in jobs] == [
        ("hook", "lead.created", f"client:{lead.id}"), ("bitrix", "lead.created", f"client:{lead.id}"),
        ("hook", "call.finished", f"client:{lead.id}"), ("bitrix", "call.finished", f"client:{lead.id}")]
    client = {"id": lead.id, "kind": "lead", "name": "", "owner": "anna", "revision": 0, "phones": ["+49301234567"],
              "emails": [], "messengers": []}
    assert jobs[0].payload["client"] == client and jobs[2].payload["client"] == client
    assert jobs[2].payload["call"] | {"started_at": None} == {
        "id": "c1", "number": "+49301234567", "started_at": None, "duration_s": 42.0, "answered": True,
        "agent": "anna", "responsible": None, "queue": "sales", "line": "5000"}


async def test_with_no_external_crm_a_finished_call_costs_no_database_work(engine):
    feed = CrmFeed(engine, region="DE")  # the built-in CRM alone keeps no call log
    commits: list[object] = []
    event.listen(engine, "commit", commits.append)
    async with running(feed):
        feed.call_finished(called("c1"), "anna", 42.0)
        await feed.drained()
    assert commits == []


class CountingSender:
    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


async def test_changes_that_make_no_outbox_job_leave_the_sender_asleep(engine):
    sender = CountingSender()
    feed = CrmFeed(engine, region="DE", sender=sender)  # type: ignore[arg-type]  # no targets: no jobs
    async with running(feed):
        feed.answered(called("c1"), "anna")
        await feed.drained()
        await until(lambda: feed.owner_known(Identity.phone("030 1234567")) == (True, "anna"))
    assert sender.woken == 0


async def test_a_change_with_outbox_jobs_wakes_the_sender(engine):
    sender = CountingSender()
    feed = CrmFeed(engine, region="DE", targets=["hook"], sender=sender)  # type: ignore[arg-type]
    async with running(feed):
        feed.answered(called("c1"), "anna")
        await feed.drained()
        await until(lambda: sender.woken == 1)


async def test_a_known_caller_is_found_for_routing_in_any_form_of_the_number(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone("+49 30 1234567", "DE")], "anna", now=NOW)
    feed = CrmFeed(engine, region="DE")
    await feed.reload_owners()
    calls = CallCrm(feed, "DE")
    for number in ("030 1234567", "0049 (30) 123-45-67", "+49301234567"):
        assert calls.owner_known(number, "sales") == (True, "anna")
    for number in ("030 7654321", "101", "anonymous", ""):  # a stranger, an extension, a hidden number
        assert calls.owner_known(number, "sales") == (True, None)
