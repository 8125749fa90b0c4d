"""Bitrix24's CRM semantics against the stateful fake CRM: companies, both forms of a
number, the simple CRM mode, crm.item.* with its fallback, and what a transfer updates."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from acd.config import settings_from_dict
from acd.core.commands import ReportManualTransfer
from acd.crm import Bitrix24Connector, CrmOptions, Identity, create_lead, on_manual_transfer
from acd.crm.bitrix24_crm import Bitrix24Crm, find, first, phone_forms
from acd.crm.calls import crm_options
from acd.crm.outbox import DELIVERED, LEAD_CREATED, OWNER_CHANGED, Envelope

from .fake_bitrix24 import FakeBitrix24
from .fake_bitrix24_crm import COMPANY, CONTACT, DEAL, LEAD, SIMPLE_MODE, CrmApiError, FakeCrm, LocalPortal
from .support import tx

ANNA, BORIS = 11, 12


def envelope(event: str, payload: dict[str, Any], ref: tuple[str, str] | None = None) -> Envelope:
    return Envelope(1, "key-1", "bitrix", "client:1", 1, event, payload, 0, {}, ref)


def client(phone: str = "+49301234567", owner: str = "anna") -> dict[str, Any]:
    return {"id": 1, "kind": "lead", "name": "", "owner": owner, "revision": 1, "phones": [phone], "emails": [],
            "messengers": []}


async def deliver(crm: FakeCrm, env: Envelope):
    """One outbox job through the connector and its portal, to the fake portal over HTTP."""
    async with FakeBitrix24(crm=crm) as fake:
        connector = Bitrix24Connector("bitrix", fake.webhook(), {"anna": ANNA, "boris": BORIS})
        try:
            async with httpx.AsyncClient() as http:
                return await connector.deliver(http, env)
        finally:
            await connector.portal.aclose()


def test_a_number_is_sent_as_e164_and_in_the_national_form():
    assert phone_forms("+49301234567") == ["+49301234567", "0301234567"]
    assert phone_forms("030 1234567", "DE") == ["+49301234567", "0301234567", "030 1234567"]


async def test_a_client_known_only_as_a_company_gets_no_new_lead():
    crm = FakeCrm()
    company = crm.add(COMPANY, phones=("030 1234567",), assigned=BORIS, title="Daisy LLC")
    outcome = await deliver(crm, envelope(LEAD_CREATED, {"client": client(), "channel": "phone"}))
    assert outcome.state == DELIVERED and outcome.ref == (COMPANY, str(company))
    assert crm.entities[LEAD] == {} and crm.called("crm.item.add") == []
    # the portal's digits differ from E.164's: only the national form found it
    [search] = crm.called("crm.duplicate.findbycomm")
    assert "entity_type" not in search and search["values"] == ["+49301234567", "0301234567"]


async def test_a_contact_is_preferred_to_a_company_and_a_lead_with_the_same_number():
    crm = FakeCrm()
    crm.add(LEAD, phones=("+49301234567",))
    crm.add(COMPANY, phones=("0301234567",))
    contact = crm.add(CONTACT, phones=("+49 30 1234567",))
    found = await find(LocalPortal(crm).call, ["+49301234567"])
    assert set(found) == {LEAD, COMPANY, CONTACT}
    assert first(found) == (CONTACT, str(contact))


async def test_a_new_caller_becomes_a_lead_through_crm_item_add():
    crm = FakeCrm()
    outcome = await deliver(crm, envelope(LEAD_CREATED, {"client": client(), "channel": "phone"}))
    [(lead_id, lead)] = crm.entities[LEAD].items()
    assert outcome.ref == (LEAD, str(lead_id))
    assert lead["ASSIGNED_BY_ID"] == ANNA and lead["PHONE"][0]["VALUE"] == "+49301234567"
    assert lead["SOURCE_ID"] == "CALL" and crm.called("crm.lead.add") == []


async def test_a_portal_without_crm_item_gets_the_old_methods():
    crm = FakeCrm(item_api=False)
    await deliver(crm, envelope(LEAD_CREATED, {"client": client(), "channel": "phone"}))
    [lead] = crm.entities[LEAD].values()
    assert lead["ASSIGNED_BY_ID"] == ANNA and len(crm.called("crm.lead.add")) == 1


async def test_in_the_simple_crm_a_new_caller_becomes_a_contact_with_a_deal():
    crm = FakeCrm(mode=SIMPLE_MODE)
    outcome = await deliver(crm, envelope(LEAD_CREATED, {"client": client(), "channel": "phone"}))
    assert crm.entities[LEAD] == {}
    [(contact_id, contact)] = crm.entities[CONTACT].items()
    [deal] = crm.entities[DEAL].values()
    assert outcome.ref == (CONTACT, str(contact_id))
    assert contact["ASSIGNED_BY_ID"] == ANNA and deal["ASSIGNED_BY_ID"] == ANNA
    assert deal["CONTACT_IDS"] == [contact_id] and deal["STAGE_SEMANTIC_ID"] == "P"


async def test_the_simple_crm_steps_repeat_without_a_second_contact_or_deal():
    crm = FakeCrm(mode=SIMPLE_MODE)
    b24 = Bitrix24Crm()
    portal = LocalPortal(crm)
    contact = crm.add(CONTACT, phones=("+49301234567",))  # the contact made before a lost answer
    assert await b24.create(portal.call, client(), str(ANNA), channel="phone") == (CONTACT, str(contact))
    assert await b24.create(portal.call, client(), str(ANNA), channel="phone") == (CONTACT, str(contact))
    assert len(crm.entities[CONTACT]) == 1 and len(crm.entities[DEAL]) == 1


@pytest.mark.parametrize(("updates", "changed"), [
    ("client", [CONTACT]), ("lead", [LEAD]), ("contact", [CONTACT]), ("company", [COMPANY]), ("deal", [DEAL]),
])
async def test_a_transfer_updates_what_the_group_names(updates, changed):
    crm = FakeCrm()
    records = {LEAD: crm.add(LEAD, phones=("+49301234567",), assigned=ANNA),
               CONTACT: crm.add(CONTACT, phones=("0301234567",), assigned=ANNA),
               COMPANY: crm.add(COMPANY, phones=("+49301234567",), assigned=ANNA)}
    records[DEAL] = crm.add(DEAL, contact_ids=[records[CONTACT]], assigned=ANNA)
    payload = {"client": client(owner="boris"), "owner": "boris", "transfer_updates": updates}
    outcome = await deliver(crm, envelope(OWNER_CHANGED, payload))
    assert outcome.state == DELIVERED
    assert {e: crm.assigned(e, i) for e, i in records.items()} == {
        e: BORIS if e in changed else ANNA for e in records}


async def test_a_transfer_updates_the_open_deals_on_a_portal_without_crm_item():
    crm = FakeCrm(item_api=False)
    contact = crm.add(CONTACT, phones=("+49301234567",), assigned=ANNA)
    open_deal = crm.add(DEAL, contact_ids=[contact], assigned=ANNA)
    won = crm.add(DEAL, contact_ids=[contact], assigned=ANNA, stage_semantic_id="S")
    payload = {"client": client(owner="boris"), "owner": "boris", "transfer_updates": "deal"}
    assert (await deliver(crm, envelope(OWNER_CHANGED, payload))).state == DELIVERED
    assert (crm.assigned(DEAL, open_deal), crm.assigned(DEAL, won)) == (BORIS, ANNA)
    assert len(crm.called("crm.deal.update")) == 1


async def test_a_transfer_for_a_client_bitrix24_does_not_know_changes_nothing():
    crm = FakeCrm()
    outcome = await deliver(crm, envelope(OWNER_CHANGED, {"client": client(), "owner": "boris"}))
    assert outcome.state == DELIVERED and "nothing in Bitrix24" in outcome.note


async def test_the_fake_refuses_what_bitrix24_refuses():
    crm = FakeCrm()
    portal = LocalPortal(crm)
    with pytest.raises(CrmApiError, match="Communication type is not defined"):
        await portal.call("crm.duplicate.findbycomm", {"values": ["1"]})
    with pytest.raises(CrmApiError, match="Communication values is not defined"):
        await portal.call("crm.duplicate.findbycomm", {"type": "PHONE"})
    with pytest.raises(CrmApiError, match="Smart process not found"):
        await portal.call("crm.item.add", {"entityTypeId": 9, "fields": {}})
    with pytest.raises(CrmApiError, match="Element not found"):
        await portal.call("crm.item.update", {"entityTypeId": 3, "id": 99, "fields": {}})
    with pytest.raises(CrmApiError, match="Contact is not found"):
        await portal.call("crm.contact.update", {"id": 99, "fields": {}})
    with pytest.raises(CrmApiError, match="ID is not defined or invalid"):
        await portal.call("crm.lead.get", {"id": "x"})
    with pytest.raises(CrmApiError, match="PHONE_NUMBER is empty"):
        await portal.call("telephony.externalCall.searchCrmEntities", {})


def test_the_groups_transfer_setting_travels_with_the_owner_change(session):
    with tx(session):
        create_lead(session, [Identity.phone("+49301234567", "DE")], "anna", now=1.0)
    with tx(session):
        [job] = on_manual_transfer(session, ReportManualTransfer("c1", "030 1234567", "anna", "boris", "blind"),
                                   CrmOptions(transfer_updates="deal"), region="DE", targets=["bitrix"], now=2.0)
    assert job.payload["transfer_updates"] == "deal" and job.payload["owner"] == "boris"


def test_a_queue_groups_setting_reaches_the_crm_options():
    settings = settings_from_dict({
        "agents": [{"id": "anna", "endpoint": "PJSIP/101"}],
        "groups": [{"id": "sales", "members": ["anna"], "crm": {"transfer_updates": "company"}}],
        "numbers": {"5000": "sales"}}, "<test>")
    assert crm_options(settings)["sales"].transfer_updates == "company"
    with pytest.raises(Exception, match="transfer_updates"):
        settings_from_dict({"agents": [{"id": "anna", "endpoint": "PJSIP/101"}],
                            "groups": [{"id": "s", "members": ["anna"], "crm": {"transfer_updates": "invoice"}}],
                            "numbers": {"5000": "s"}}, "<test>")
