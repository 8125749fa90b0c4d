"""A change of responsible person made in Bitrix24 reaches acd through its outgoing
events, authenticated with the application token and bounded."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from acd.clock import Clock
from acd.config import ConfigError, settings_from_dict
from acd.crm import CrmFeed, Identity, create_lead, find_client
from acd.crm.bitrix24_events import OwnerSync
from acd.crm.bitrix24_responsible import ResponsibleLookup, UserMap
from acd.crm.calls import build_crm
from acd.web.bitrix24_events import bitrix24_events_router

from .fake_bitrix24_crm import CONTACT, LEAD, FakeCrm, LocalPortal
from .support import tx

NOW = 1_700_000_000.0
TOKEN = "51856fefc120afa4b628cc82d3935cce"
ANNA, BORIS = 11, 12
NUMBER = "+49301234567"


def event(name: str, record_id: int | str, token: str = TOKEN) -> str:
    return urlencode({"event": name, "event_handler_id": "12", "data[FIELDS][ID]": str(record_id), "ts": "1724697689",
                      "auth[domain]": "portal.example", "auth[application_token]": token})


def app(sync: OwnerSync | None) -> httpx.AsyncClient:
    web = FastAPI()
    web.include_router(bitrix24_events_router(lambda: sync))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://acd")


async def post(client: httpx.AsyncClient, body: str) -> httpx.Response:
    return await client.post("/bitrix24/events", content=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})


def owner(engine) -> str | None:
    with Session(engine) as session:
        return find_client(session, Identity.phone(NUMBER, "DE")).owner


async def test_a_new_responsible_person_in_bitrix24_becomes_acds_owner(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone(NUMBER, "DE")], "anna", now=NOW)
    crm = FakeCrm()
    contact = crm.add(CONTACT, phones=("030 1234567",), assigned=ANNA)
    portal = LocalPortal(crm)
    users = UserMap({"anna": ANNA, "boris": BORIS})
    lookup = ResponsibleLookup(portal, users)
    assert (await lookup.responsible(NUMBER)).agent == "anna"  # cached from here on
    feed = CrmFeed(engine)
    sync = OwnerSync(portal.call, users, feed, application_token=TOKEN, lookup=lookup)
    crm.get(CONTACT, contact)["ASSIGNED_BY_ID"] = BORIS  # a person changes it in Bitrix24
    async with app(sync) as client:
        answer = await post(client, event("ONCRMCONTACTUPDATE", contact))
    assert answer.status_code == 200 and answer.json()["result"] == f"CONTACT {contact}: owner boris"
    assert owner(engine) == "boris"
    assert (await lookup.responsible(NUMBER)).agent == "boris"  # the cached answer was dropped


async def test_an_event_without_the_application_token_changes_nothing(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone(NUMBER, "DE")], "anna", now=NOW)
    crm = FakeCrm()
    lead = crm.add(LEAD, phones=(NUMBER,), assigned=BORIS)
    sync = OwnerSync(LocalPortal(crm).call, UserMap({"boris": BORIS}), CrmFeed(engine), application_token=TOKEN)
    async with app(sync) as client:
        forged = await post(client, event("ONCRMLEADUPDATE", lead, token="guessed"))
        missing = await post(client, urlencode({"event": "ONCRMLEADUPDATE", "data[FIELDS][ID]": lead}))
        malformed = await post(client, event("ONCRMLEADUPDATE", "1 OR 1=1"))
        other = await post(client, event("ONCRMDEALUPDATE", 5))
        huge = await post(client, "x=" + "a" * 70_000)
    assert (forged.status_code, missing.status_code, malformed.status_code) == (403, 403, 400)
    assert other.status_code == 200 and other.json()["result"] == "ONCRMDEALUPDATE: not handled"
    assert huge.status_code == 413
    assert owner(engine) == "anna" and crm.called("crm.lead.get") == []


async def test_bitrix24_unreachable_answers_503_so_the_event_can_come_again(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone(NUMBER, "DE")], "anna", now=NOW)
    crm = FakeCrm()
    portal = LocalPortal(crm)
    portal.down = True
    sync = OwnerSync(portal.call, UserMap({"boris": BORIS}), CrmFeed(engine), application_token=TOKEN)
    async with app(sync) as client:
        answer = await post(client, event("ONCRMLEADUPDATE", 7))
    assert answer.status_code == 503 and owner(engine) == "anna"


async def test_no_portal_for_events_is_404():
    async with app(None) as client:
        assert (await post(client, event("ONCRMLEADUPDATE", 7))).status_code == 404


async def test_a_record_deleted_since_is_a_clear_answer(engine):
    crm = FakeCrm()
    sync = OwnerSync(LocalPortal(crm).call, UserMap({"boris": BORIS}), CrmFeed(engine), application_token=TOKEN)
    async with app(sync) as client:
        answer = await post(client, event("ONCRMCONTACTUPDATE", 999))
    assert answer.status_code == 200 and answer.json()["result"] == "CONTACT 999: not in Bitrix24 (any more)"


async def test_the_settings_set_up_the_events_with_the_token_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("B24_WEBHOOK", "https://portal.example/rest/1/t0k3n/")
    monkeypatch.setenv("B24_EVENTS_TOKEN", TOKEN)
    settings = settings_from_dict({
        "agents": [{"id": "anna", "endpoint": "PJSIP/101"}, {"id": "boris", "endpoint": "PJSIP/102"}],
        "groups": [{"id": "sales", "members": ["anna", "boris"]}], "numbers": {"5000": "sales"},
        "crm": {"bitrix24": {"webhook_url_env": "B24_WEBHOOK", "users": {"anna": 11},
                             "events_token_env": "B24_EVENTS_TOKEN", "responsible_budget_ms": 300}}}, "<test>")
    _, _, calls = build_crm(settings, Clock(), f"sqlite:///{tmp_path / 'acd.db'}")
    assert calls.owner_sync is not None and calls.owner_sync.authentic({"auth[application_token]": TOKEN})
    assert calls.responsible is not None and calls.responsible.budget_s == 0.3
    assert calls.bitrix24_users.agent_of(11) == "anna"
    assert calls.bitrix24_users.unmapped_extensions == {"102": "boris"}  # looked up at start
    monkeypatch.delenv("B24_EVENTS_TOKEN")
    with pytest.raises(ConfigError, match="B24_EVENTS_TOKEN"):
        build_crm(settings, Clock(), f"sqlite:///{tmp_path / 'acd.db'}")
