"""E-mails and CRM forms through the HTTP API and from an IMAP mailbox."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aioimaplib.imap_testing_server import Mail, MockImapServer

from acd.channels import MailboxPoller, mailbox_pollers, parse_message
from acd.config import ImapSettings
from acd.core.conversation_model import ChannelKind

from .support import FakeClock, FakeCrm, Service, settings

MAILBOX = {"id": "mail", "kind": "email", "members": ["anna", "boris", "clara"]}
FORM = {"id": "contact", "kind": "form", "members": ["anna", "boris", "clara"]}


def email(message_id: str, sender: str, subject: str = "Question") -> dict[str, Any]:
    return {"queue": "mail", "message_id": message_id, "sender": sender, "subject": subject, "body": "Hello"}


async def test_mail_from_a_known_client_goes_to_the_owner_and_a_new_sender_becomes_a_lead_in_list_order(
        history_url: str) -> None:
    crm = FakeCrm(owners={"known@client.org": "clara"})
    async with Service(settings(MAILBOX), history_url, FakeClock(), crm=crm) as svc:
        posted = []
        for n, sender in enumerate(["Known <Known@Client.org>", "new1@x.org", "new2@x.org", "new3@x.org",
                                    "new4@x.org"]):
            response = await svc.post("/inbound/email", email(f"<m{n}@x.org>", sender), as_="integration",
                                      expect=202)
            posted.append(response.json()["item_id"])
        assert posted[0] == "email:m0@x.org"
        assigned = [(await svc.get(f"/conversations/{i}/timeline"))["item"]["agent"] for i in posted]
        assert assigned == ["clara", "anna", "boris", "clara", "anna"]
        assert [(lead.client, lead.owner_agent, lead.source) for lead in crm.leads] == [
            ("new1@x.org", "anna", ChannelKind.EMAIL), ("new2@x.org", "boris", ChannelKind.EMAIL),
            ("new3@x.org", "clara", ChannelKind.EMAIL), ("new4@x.org", "anna", ChannelKind.EMAIL)]
        first = await svc.timeline(posted[0])
        assert [x["kind"] for x in first] == ["received", "assigned"] and first[1]["rule"] == "client's owner"
        queue = await svc.get("/agents/anna/queue", as_="anna")
        assert [i["id"] for i in queue["items"]] == [posted[1], posted[4]]
        assert queue["items"][0]["detail"]["subject"] == "Question"
        await svc.post(f"/items/{posted[1]}/close", as_="boris", expect=403)  # not his
        await svc.post(f"/items/{posted[1]}/close", as_="anna", expect=200)
        await svc.post(f"/items/{posted[1]}/close", as_="anna", expect=409)  # done already
        assert [i["id"] for i in (await svc.get("/agents/anna/queue", as_="anna"))["items"]] == [posted[4]]
        assert (await svc.timeline(posted[1]))[-1]["kind"] == "closed"


async def test_the_same_message_id_twice_is_taken_once(history_url: str) -> None:
    crm = FakeCrm()
    async with Service(settings(MAILBOX), history_url, FakeClock(), crm=crm) as svc:
        first = (await svc.post("/inbound/email", email("<same@x.org>", "a@x.org"), as_="integration")).json()
        again = (await svc.post("/inbound/email", email("same@x.org", "a@x.org"), as_="integration")).json()
        assert (first["duplicate"], again["duplicate"]) == (False, True)
        assert len(crm.leads) == 1
        await svc.desk.close()
    async with Service(settings(MAILBOX), history_url, FakeClock(), crm=crm) as svc:  # and after a restart
        again = (await svc.post("/inbound/email", email("<same@x.org>", "a@x.org"), as_="integration")).json()
        assert again["duplicate"] is True and len(crm.leads) == 1


async def test_form_submissions_go_in_turn_to_people_who_are_at_work(db_url: str) -> None:
    crm = FakeCrm()
    clock_in = {"clock_in_required": True}
    config = settings(FORM, work={a: clock_in for a in ("anna", "boris", "clara")})
    async with Service(config, db_url, FakeClock(), crm=crm) as svc:
        for agent in ("anna", "clara"):
            await svc.post(f"/agents/{agent}/clock-in", as_=agent, expect=200)
        items = []
        for n in range(4):
            body = {"form": "contact", "fields": {"name": f"Client {n}", "email": f"c{n}@x.org"}}
            items.append((await svc.post("/inbound/form", body, as_="integration", expect=202)).json()["item_id"])
        assert [lead.owner_agent for lead in crm.leads] == ["anna", "clara", "anna", "clara"]
        assert crm.leads[0].client == "c0@x.org" and crm.leads[0].source is ChannelKind.FORM
        skipped = (await svc.timeline(items[1]))[1]["skipped"]
        assert skipped == {"boris": "not working (not clocked in)"}
        await svc.post("/agents/clara/break/start", as_="clara", expect=200)
        body = {"form": "contact", "fields": {"phone": "+49 30 1234567"}, "submission_id": "s-1"}
        await svc.post("/inbound/form", body, as_="integration", expect=202)
        assert crm.leads[-1].owner_agent == "anna"  # clara is on a break, boris not in
        again = (await svc.post("/inbound/form", body, as_="integration", expect=202)).json()
        assert again == {"item_id": "form:contact:s-1", "duplicate": True} and len(crm.leads) == 5


async def test_without_the_availability_check_forms_go_in_plain_list_order(db_url: str) -> None:
    crm = FakeCrm()
    config = settings({**FORM, "check_availability": False}, work={a: {} for a in ("anna", "boris", "clara")})
    async with Service(config, db_url, FakeClock(), crm=crm) as svc:
        for n in range(4):
            await svc.post("/inbound/form", {"form": "contact", "fields": {"email": f"c{n}@x.org"}},
                           as_="integration", expect=202)
        assert [lead.owner_agent for lead in crm.leads] == ["anna", "boris", "clara", "anna"]


# ------------------------------------------------------------------ IMAP
def test_a_message_is_parsed_for_its_id_sender_subject_and_text() -> None:
    raw = (b"From: Ann Client <ann@client.org>\r\nTo: sales@example.com\r\nSubject: =?utf-8?q?Pr=C3=A9ise?=\r\n"
           b"Message-ID: <abc.123@client.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHow much?\r\n")
    mail = parse_message(raw)
    assert (mail.message_id, mail.subject, mail.body.strip()) == ("abc.123@client.org", "Préise", "How much?")
    assert "ann@client.org" in mail.sender
    anonymous = parse_message(raw.replace(b"Message-ID: <abc.123@client.org>\r\n", b""))
    assert anonymous.message_id.startswith("sha256-") and anonymous == parse_message(
        raw.replace(b"Message-ID: <abc.123@client.org>\r\n", b""))


@pytest.fixture
async def imap_server() -> Any:
    server = MockImapServer(loop=asyncio.get_running_loop())
    listening = await server.run_server(host="127.0.0.1", port=0)
    yield server, listening.sockets[0].getsockname()[1]
    server.reset()
    listening.close()


async def test_new_mail_in_an_imap_mailbox_becomes_items_once(db_url: str, imap_server: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Against aioimaplib's own fake IMAP server, over TCP (no TLS)."""
    server, port = imap_server
    monkeypatch.setenv("ACD_TEST_IMAP_PASSWORD", "imap-secret")
    imap = {"host": "127.0.0.1", "port": port, "ssl": False, "username": "sales@example.com",
            "password_env": "ACD_TEST_IMAP_PASSWORD"}
    crm = FakeCrm()
    config = settings({**MAILBOX, "imap": imap})
    async with Service(config, db_url, FakeClock(), crm=crm) as svc:
        [poller] = mailbox_pollers(config, svc.desk)
        poller.search = ("UNKEYWORD", "\\Seen")  # the fake server knows no UNSEEN; real servers do
        for n in range(3):
            server.receive(Mail.create(["sales@example.com"], mail_from=f"client{n}@x.org", subject=f"Order {n}",
                                       content="Please call me", message_id=f"order{n}@x.org"))
        assert await poller.poll_once() == 3
        assert await poller.poll_once() == 0  # flagged \Seen after being taken
        server.receive(Mail.create(["sales@example.com"], mail_from="client0@x.org", subject="Order 0",
                                   content="Please call me", message_id="order0@x.org"))  # delivered twice
        assert await poller.poll_once() == 0
        assert [lead.client for lead in crm.leads] == ["client0@x.org", "client1@x.org", "client2@x.org"]
        item = (await svc.get("/conversations/email:order1@x.org/timeline"))["item"]
        assert (item["agent"], item["detail"]["subject"], item["detail"]["body"].strip()) == (
            "boris", "Order 1", "Please call me")


async def test_a_mailbox_without_its_password_in_the_environment_fetches_nothing(
        db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("ACD_TEST_IMAP_PASSWORD", raising=False)
    imap = ImapSettings(host="127.0.0.1", port=1, ssl=False, username="u", password_env="ACD_TEST_IMAP_PASSWORD")
    poller = MailboxPoller(object(), "mail", imap)  # type: ignore[arg-type]
    assert await poller.poll_once() == 0
    assert "channels.imap_password_missing" in caplog.text


async def test_the_running_desk_polls_its_mailboxes_until_closed(db_url: str, imap_server: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from acd.channels import Desk
    from acd.clock import Clock
    from acd.store import make_engine

    server, port = imap_server
    monkeypatch.setenv("ACD_TEST_IMAP_PASSWORD", "imap-secret")
    imap = {"host": "127.0.0.1", "port": port, "ssl": False, "username": "sales@example.com",
            "password_env": "ACD_TEST_IMAP_PASSWORD", "poll_seconds": 5}
    engine = make_engine(db_url)
    desk = Desk.from_settings(settings({**MAILBOX, "imap": imap}), engine, Clock(speed=100.0))
    [poller] = desk.pollers
    poller.search = ("UNKEYWORD", "\\Seen")
    running = asyncio.create_task(desk.run())
    server.receive(Mail.create(["sales@example.com"], mail_from="ann@x.org", subject="Hi", message_id="hi@x.org"))
    for _ in range(500):
        await asyncio.sleep(0.02)
        if await desk.item("email:hi@x.org"):
            break
    assert (await desk.item("email:hi@x.org"))["agent"] == "anna"  # type: ignore[index]
    await desk.close()
    await asyncio.wait_for(running, timeout=5)
    engine.dispose()


async def test_a_mailbox_given_an_imap_connection_while_running_starts_polling_and_stops_when_removed(
        db_url: str, imap_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from acd.channels import Desk
    from acd.clock import Clock
    from acd.store import make_engine

    server, port = imap_server
    monkeypatch.setenv("ACD_TEST_IMAP_PASSWORD", "imap-secret")
    imap = {"host": "127.0.0.1", "port": port, "ssl": False, "username": "sales@example.com",
            "password_env": "ACD_TEST_IMAP_PASSWORD", "poll_seconds": 5}
    engine = make_engine(db_url)
    desk = Desk.from_settings(settings(MAILBOX), engine, Clock(speed=100.0))
    assert desk.pollers == []
    running = asyncio.create_task(desk.run())
    await asyncio.sleep(0.05)
    desk.use_mailboxes(settings({**MAILBOX, "imap": imap}))  # saved on the Mailboxes page
    [poller] = desk.pollers
    poller.search = ("UNKEYWORD", "\\Seen")
    server.receive(Mail.create(["sales@example.com"], mail_from="ann@x.org", subject="Hi", message_id="hi@x.org"))
    for _ in range(500):
        await asyncio.sleep(0.02)
        if await desk.item("email:hi@x.org"):
            break
    assert (await desk.item("email:hi@x.org"))["agent"] == "anna"  # type: ignore[index]
    task = desk._polling["mail"]
    desk.use_mailboxes(settings({**MAILBOX, "imap": {**imap, "poll_seconds": 60}}))
    assert desk.pollers == [poller] and poller.imap.poll_seconds == 60  # the same poller, from its next round
    desk.use_mailboxes(settings(MAILBOX))
    await asyncio.sleep(0.05)
    assert desk.pollers == [] and task.cancelled()
    await desk.close()
    await asyncio.wait_for(running, timeout=5)
    engine.dispose()
