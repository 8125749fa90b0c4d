"""The connectors' requests as a real server receives them, and secrets kept secret."""

import json
import logging

import pytest
from sqlalchemy.orm import Session

from acd.core.commands import ReportManualTransfer
from acd.crm import (
    DEAD,
    DELIVERED,
    Bitrix24Connector,
    CrmFeed,
    Envelope,
    Identity,
    Interaction,
    WebhookConnector,
    create_lead,
    list_outbox,
    sign,
    verify,
)
from acd.crm.bitrix24 import flatten
from acd.crm.bitrix24_portal import Bitrix24Portal, WebhookAuth

from .crm_server import CrmServer, Reply, Request
from .support import fast_sender, running, tx, until

TOKEN = "x9k2TOKENsecret77"
SECRET = "hmac-SECRET-42"
NOW = 1_700_000_000.0
USERS = {"anna": 11, "boris": 12}


def envelope(**kw) -> Envelope:
    base = {"id": 1, "key": "k-1", "target": "hook", "order_key": "client:1", "client_id": 1,
            "event": "owner.changed", "payload": {"owner": "boris"}, "attempts": 0, "progress": {}, "ref": None}
    return Envelope(**{**base, **kw})


class FakeBitrix:
    """Answers like a Bitrix24 portal's REST webhook and keeps its records."""

    def __init__(self) -> None:
        self.known: dict[str, dict] = {}  # findbycomm answers by phone
        self.next_id = 501

    def __call__(self, request: Request) -> Reply:
        method = request.path.rsplit("/", 1)[1].removesuffix(".json")
        form = request.form()
        if method == "crm.duplicate.findbycomm":
            return self.ok(self.known.get(form.get("values[0]", ""), []))
        if method == "crm.settings.mode.get":
            return self.ok(1)  # classic CRM, with leads
        if method == "crm.item.add":
            self.next_id += 1
            return self.ok({"item": {"id": self.next_id - 1}})
        if method == "crm.item.update":
            return self.ok({"item": {"id": int(form["id"])}})
        if method == "telephony.externalcall.register":
            return self.ok({"CALL_ID": "externalCall.c0ffee.1", "CRM_CREATED_LEAD": None})
        if method == "telephony.externalcall.finish":
            return self.ok({"CALL_ID": form["CALL_ID"]})
        return Reply(400, json.dumps({"error": "ERROR_METHOD_NOT_FOUND"}).encode())

    @staticmethod
    def ok(result) -> Reply:
        return Reply(200, json.dumps({"result": result, "time": {"start": 1}}).encode())


def outbox(engine, state=None):
    with Session(engine) as session:
        return list_outbox(session, state)


def settled(engine, count: int) -> bool:
    """``count`` jobs, all delivered or dead, in ONE read: two reads could see no job
    (nothing pending) and then the feed's ``count`` fresh ones (the right number)."""
    jobs = outbox(engine)
    return len(jobs) == count and all(j.state in (DEAD, DELIVERED) for j in jobs)


def methods(server: CrmServer) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in server.requests]


def bitrix(server: CrmServer, **kw) -> Bitrix24Connector:
    # a quick portal: these tests' sender gives an attempt 1 s, Bitrix24's 2/s would not fit
    portal = Bitrix24Portal("bitrix", WebhookAuth(f"{server.url}/rest/1/{TOKEN}/"), rate=100, max_wait_s=0.5)
    return Bitrix24Connector("bitrix", portal, USERS, **kw)


# -- the generic webhook ------------------------------------------------------------


def test_the_webhook_signature_covers_the_raw_body():
    connector = WebhookConnector("hook", "https://crm.example.com/in", SECRET, now=lambda: NOW)
    body = connector.body(envelope(), int(NOW))
    assert json.loads(body) == {"owner": "boris", "idempotency_key": "k-1", "event": "owner.changed",
                                "sent_at": int(NOW), "attempt": 1}
    assert verify(SECRET, body, sign(SECRET, body))
    assert not verify(SECRET, body.replace(b"boris", b"mallory"), sign(SECRET, body))
    assert not verify("another secret", body, sign(SECRET, body))


async def test_the_webhook_request_carries_key_timestamp_and_signature(engine):
    async with CrmServer() as server:
        sender = fast_sender(engine, [WebhookConnector("hook", f"{server.url}/in", SECRET, now=lambda: NOW)])
        feed = CrmFeed(engine, targets=["hook"], sender=sender)
        async with running(feed, sender):
            feed.answered(Interaction.call("c1", "030 1234567", NOW, region="DE"), "anna")
            await until(lambda: server.delivered())
    [request] = server.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-acd-timestamp"] == str(int(NOW))
    assert request.headers["x-acd-signature"] == sign(SECRET, request.body)
    assert request.json()["event"] == "lead.created" and request.json()["owner"] == "anna"


# -- Bitrix24 -------------------------------------------------------------------------


def test_bitrix24_parameters_are_sent_as_php_style_form_fields():
    assert flatten({"id": 7, "fields": {"ASSIGNED_BY_ID": 12, "PHONE": [{"VALUE": "+4930", "VALUE_TYPE": "WORK"}]},
                    "params": {"REGISTER_SONET_EVENT": True}}) == [
        ("id", "7"), ("fields[ASSIGNED_BY_ID]", "12"), ("fields[PHONE][0][VALUE]", "+4930"),
        ("fields[PHONE][0][VALUE_TYPE]", "WORK"), ("params[REGISTER_SONET_EVENT]", "Y")]


async def test_a_transfer_reassigns_the_bitrix24_contact_found_by_phone(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone("030 1234567", "DE")], "anna", now=NOW)
    portal = FakeBitrix()
    portal.known["+49301234567"] = {"CONTACT": [42], "LEAD": [7]}
    async with CrmServer(responder=portal) as server:
        sender = fast_sender(engine, [bitrix(server)])
        feed = CrmFeed(engine, targets=["bitrix"], sender=sender)
        async with running(feed, sender):
            feed.manual_transfer(ReportManualTransfer("c1", "+49 30 1234567", "anna", "boris", "blind"))
            await until(lambda: len(server.delivered()) == 2)
            feed.manual_transfer(ReportManualTransfer("c1", "+49 30 1234567", "boris", "anna", "blind"))
            await until(lambda: len(server.delivered()) == 3)
    assert methods(server) == ["crm.duplicate.findbycomm.json", "crm.item.update.json", "crm.item.update.json"]
    find, update, again = server.requests
    assert find.path == f"/rest/1/{TOKEN}/crm.duplicate.findbycomm.json"
    assert find.headers["content-type"] == "application/x-www-form-urlencoded"
    # E.164 and the national form: Bitrix24 compares numbers in its own normal form
    assert find.form() == {"type": "PHONE", "values[0]": "+49301234567", "values[1]": "0301234567"}
    assert update.form() == {"entityTypeId": "3", "id": "42", "fields[assignedById]": "12"}
    assert again.form()["fields[assignedById]"] == "11"  # the contact id was remembered: no second search


async def test_bitrix24_query_limit_is_retried(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone("030 1234567", "DE")], "anna", now=NOW)
    portal = FakeBitrix()
    portal.known["+49301234567"] = {"LEAD": [7]}
    limit = Reply(503, b'{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}')
    async with CrmServer(responder=portal) as server:
        server.script = [limit]
        sender = fast_sender(engine, [bitrix(server)])
        feed = CrmFeed(engine, targets=["bitrix"], sender=sender)
        async with running(feed, sender):
            feed.manual_transfer(ReportManualTransfer("c1", "030 1234567", "anna", "boris", "blind"))
            await until(lambda: len(server.delivered()) == 2)
    assert methods(server) == ["crm.duplicate.findbycomm.json", "crm.duplicate.findbycomm.json",
                               "crm.item.update.json"]


async def test_an_agent_without_a_bitrix24_user_is_a_dead_job_saying_so(engine, session):
    with tx(session):
        create_lead(session, [Identity.phone("030 1234567", "DE")], "anna", now=NOW)
    async with CrmServer(responder=FakeBitrix()) as server:
        sender = fast_sender(engine, [bitrix(server)])
        feed = CrmFeed(engine, targets=["bitrix"], sender=sender)
        async with running(feed, sender):
            feed.manual_transfer(ReportManualTransfer("c1", "030 1234567", "anna", "zoe", "blind"))
            await until(lambda: outbox(engine, DEAD))
    [job] = outbox(engine, DEAD)
    assert job.last_error == "agent 'zoe' has no Bitrix24 user in the mapping"
    assert server.requests == []


@pytest.mark.parametrize("url", ["https://portal.bitrix24.com/rest/1/", "https://portal.bitrix24.com/x/1/tok/",
                                 "ftp://portal.bitrix24.com/rest/1/tok/", f"https://p.bitrix24.com/rest/me/{TOKEN}/"])
def test_a_malformed_bitrix24_webhook_url_is_refused_without_echoing_it(url):
    with pytest.raises(ValueError) as error:
        Bitrix24Connector("bitrix", url, USERS)
    assert TOKEN not in str(error.value)


# -- secrets ----------------------------------------------------------------------------


def test_webhook_urls_and_tokens_are_masked_in_repr():
    b24 = Bitrix24Connector("bitrix", f"https://portal.bitrix24.com/rest/1/{TOKEN}/", USERS)
    hook = WebhookConnector("hook", f"https://crm.example.com/hooks/{TOKEN}?sig=1", SECRET)
    assert b24.masked() == "https://portal.bitrix24.com/rest/1/****/"
    assert hook.masked() == "https://crm.example.com/****"
    for text in (repr(b24), str(b24), repr(hook), str(hook), repr([b24, hook])):
        assert TOKEN not in text and SECRET not in text


async def test_secrets_never_reach_the_logs_or_the_outbox(engine, session, caplog):
    caplog.set_level(logging.DEBUG)  # everything, the HTTP libraries' request logs included
    with tx(session):
        create_lead(session, [Identity.phone("030 1234567", "DE")], "anna", now=NOW)
    denied = Reply(401, json.dumps({"error": "INVALID_CREDENTIALS",
                                    "error_description": f"bad token {TOKEN} for /rest/1/{TOKEN}/"}).encode())
    async with CrmServer(responder=FakeBitrix()) as server, CrmServer() as receiver:
        server.script = [Reply(500), denied]
        connectors = [bitrix(server), WebhookConnector("hook", f"{receiver.url}/hooks/{TOKEN}", SECRET),
                      WebhookConnector("down", f"http://127.0.0.1:1/hooks/{TOKEN}", SECRET)]
        sender = fast_sender(engine, connectors, max_attempts=2)
        feed = CrmFeed(engine, targets=["bitrix", "hook", "down"], sender=sender)
        async with running(feed, sender):
            feed.manual_transfer(ReportManualTransfer("c1", "030 1234567", "anna", "boris", "blind"))
            await until(lambda: settled(engine, 3))
    assert any(TOKEN in r.path for r in server.requests)  # the token was used...
    assert any(r.name == "httpx" for r in caplog.records)  # ...and requests were logged
    for record in caplog.records:
        assert TOKEN not in record.getMessage() and SECRET not in record.getMessage()
        assert TOKEN not in repr(record.__dict__) and SECRET not in repr(record.__dict__)
    assert TOKEN not in caplog.text
    jobs = {j.target: j for j in outbox(engine)}
    assert jobs["bitrix"].state == DEAD and "INVALID_CREDENTIALS" in jobs["bitrix"].last_error
    assert jobs["hook"].state == DELIVERED and jobs["down"].state == DEAD
    for job in jobs.values():
        assert TOKEN not in (job.last_error or "") and SECRET not in json.dumps(job.payload)
    assert "bad token **** for /rest/1/****/" in jobs["bitrix"].last_error
