"""Who is responsible, from Bitrix24: asked before a known caller is routed, within the
routing budget and cached, acd's own record when Bitrix24 is slow or down, acd's owner
following Bitrix24's, and the user mapping checked at start."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy.orm import Session

from acd.core.commands import Ring
from acd.core.events import CallArrived
from acd.crm import CrmFeed, Identity, create_lead, find_client
from acd.crm.bitrix24_crm import Bitrix24Crm
from acd.crm.bitrix24_portal import Bitrix24Portal, WebhookAuth
from acd.crm.bitrix24_responsible import ResponsibleLookup, UserMap, check_users
from acd.crm.calls import CallCrm

from .fake_bitrix24 import FakeBitrix24
from .fake_bitrix24_crm import COMPANY, CONTACT, DEAL, LEAD, FakeCrm, LocalPortal
from .support import running, tx
from .test_feed import distributor

NOW = 1_700_000_000.0
ANNA, BORIS = 11, 12
NUMBER = "+49301234567"


def users() -> UserMap:
    return UserMap({"anna": ANNA, "boris": BORIS})


def lookup(portal: LocalPortal, **kw) -> ResponsibleLookup:
    return ResponsibleLookup(portal, users(), **{"budget_s": 0.3, **kw})


@pytest.mark.parametrize("entity", [CONTACT, LEAD, COMPANY])
async def test_a_known_caller_rings_bitrix24s_responsible_person_first(engine, session, entity):
    with tx(session):  # acd's own record says anna
        create_lead(session, [Identity.phone(NUMBER, "DE")], "anna", now=NOW)
    crm = FakeCrm()
    crm.add(entity, phones=("030 1234567",), assigned=BORIS)  # Bitrix24 says boris
    feed = CrmFeed(engine)
    calls = CallCrm(feed, "DE", responsible=lookup(LocalPortal(crm)))
    async with running(feed):
        owner = await calls.owner_of("030 1234567", "sales")
        d = distributor()
        commands = d.feed(CallArrived("c1", "5000", "030 1234567", owner_agent=owner))
        await feed.drained()
    assert owner == "boris"
    assert next(c for c in commands if isinstance(c, Ring)).agent_ids == ("boris",)
    session.expire_all()
    assert find_client(session, Identity.phone(NUMBER, "DE")).owner == "boris"  # acd agrees with Bitrix24
    # both forms of the number, in one request
    assert crm.called("telephony.externalCall.searchCrmEntities") == [{"PHONE_NUMBER": NUMBER},
                                                                      {"PHONE_NUMBER": "0301234567"}]
    assert len(crm.called("batch")) == 1


async def test_a_slow_bitrix24_leaves_acds_own_owner_within_the_budget(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone(NUMBER, "DE")], "anna", now=NOW)
    crm = FakeCrm()
    crm.add(CONTACT, phones=(NUMBER,), assigned=BORIS)
    portal = LocalPortal(crm)
    portal.delay_s = 30.0  # far beyond any routing budget
    responsible = lookup(portal, budget_s=0.1)
    calls = CallCrm(CrmFeed(engine), "DE", responsible=responsible)
    started = time.monotonic()
    assert await calls.owner_of(NUMBER, "sales") == "anna"
    assert time.monotonic() - started < 5  # the budget, not Bitrix24's 30 s
    # the next call does not wait again while Bitrix24 cools off
    started = time.monotonic()
    assert await calls.owner_of(NUMBER, "sales") == "anna"
    assert time.monotonic() - started < 0.1 + 5
    await responsible.close()


async def test_bitrix24_down_leaves_acds_own_owner_and_is_not_asked_on_every_call(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone(NUMBER, "DE")], "anna", now=NOW)
    crm = FakeCrm()
    portal = LocalPortal(crm)
    portal.down = True
    clock = [100.0]
    calls = CallCrm(CrmFeed(engine), "DE", responsible=lookup(portal, cool_off_s=30, now=lambda: clock[0]))
    asked = []
    real_batch = portal.batch

    async def counting(commands, live=False):
        asked.append(commands)
        return await real_batch(commands, live=live)

    portal.batch = counting
    assert await calls.owner_of(NUMBER, "sales") == "anna"
    assert await calls.owner_of(NUMBER, "sales") == "anna"
    assert len(asked) == 1  # the cool-off: the second call went straight to acd's record
    clock[0] += 31
    portal.down = False
    crm.add(CONTACT, phones=(NUMBER,), assigned=BORIS)
    assert await calls.owner_of(NUMBER, "sales") == "boris"


async def test_answers_are_cached_until_bitrix24_says_the_client_changed():
    crm = FakeCrm()
    contact = crm.add(CONTACT, phones=(NUMBER,), assigned=ANNA)
    responsible = lookup(LocalPortal(crm))
    assert (await responsible.responsible(NUMBER)).agent == "anna"
    crm.get(CONTACT, contact)["ASSIGNED_BY_ID"] = BORIS
    assert (await responsible.responsible(NUMBER)).agent == "anna"  # cached
    assert len(crm.called("batch")) == 1
    responsible.forget([NUMBER])
    assert (await responsible.responsible(NUMBER)).agent == "boris"


async def test_a_responsible_employee_who_is_no_agent_leaves_acds_owner(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone(NUMBER, "DE")], "anna", now=NOW)
    crm = FakeCrm()
    crm.add(CONTACT, phones=(NUMBER,), assigned=99)  # a sales manager outside the call centre
    calls = CallCrm(CrmFeed(engine), "DE", responsible=lookup(LocalPortal(crm)))
    assert await calls.owner_of(NUMBER, "sales") == "anna"


async def test_an_agent_is_found_by_the_employees_internal_number():
    crm = FakeCrm()
    crm.add_user(31, phone_inner="103")
    crm.add(CONTACT, phones=(NUMBER,), assigned=31)
    responsible = ResponsibleLookup(LocalPortal(crm), UserMap({}, {"clara": "103"}))
    assert (await responsible.responsible(NUMBER)).agent == "clara"


async def test_the_user_mapping_is_checked_at_start(caplog):
    crm = FakeCrm()
    crm.add_user(ANNA)
    crm.add_user(BORIS, active=False)
    crm.add_user(31, phone_inner="103")
    mapping = UserMap({"anna": ANNA, "boris": BORIS, "zoe": 77}, {"clara": "103", "dora": "104"})
    with caplog.at_level(logging.WARNING):
        problems = await check_users(LocalPortal(crm).call, mapping)
    assert problems == ["agent 'boris': Bitrix24 user 12 is dismissed (not active)",
                        "agent 'zoe': Bitrix24 has no user 77",
                        "agent 'dora': no active Bitrix24 user has the internal number 104"]
    assert all(p in caplog.text for p in problems)
    assert mapping.user_of("clara") == "31" and mapping.agent_of(31) == "clara"


async def test_bitrix24s_owner_costs_no_database_work_when_acd_agrees(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone(NUMBER, "DE")], "boris", now=NOW)
    feed = CrmFeed(engine)
    async with running(feed):
        await feed.reload_owners()
        feed.crm_owner([Identity.phone(NUMBER, "DE")], "boris")
        assert feed._queue.empty()
    with Session(engine) as s:
        assert find_client(s, Identity.phone(NUMBER, "DE")).revision == 0


async def test_over_http_the_portal_carries_the_look_up_and_the_user_check():
    crm = FakeCrm()
    contact = crm.add(CONTACT, phones=("030 1234567",), assigned=BORIS)
    crm.add(DEAL, contact_ids=[contact], assigned=BORIS)
    async with FakeBitrix24(crm=crm) as fake:
        portal = Bitrix24Portal("b24", WebhookAuth(fake.webhook()))
        try:
            responsible = ResponsibleLookup(portal, users())
            assert (await responsible.responsible(NUMBER)).entity == (CONTACT, str(contact))
            assert await check_users(portal.call, UserMap({"anna": ANNA, "zoe": 77})) == [
                "agent 'zoe': Bitrix24 has no user 77"]
            client = {"phones": [NUMBER], "emails": [], "messengers": []}
            assert await Bitrix24Crm().transfer(portal.call, client, None, str(ANNA), "deal") == [(DEAL, "2")]
        finally:
            await portal.aclose()
    assert crm.assigned(DEAL, 2) == ANNA
    assert fake.requests("batch") == 1  # both forms of the number in one request
