"""E-mail replies over SMTP, received by a local SMTP server (aiosmtpd): From the
mailbox, To the customer, Re: the subject, our own Message-ID, In-Reply-To and
References threading the customer's message; the password from the environment."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from acd.channels.mailbox import parse_message

from .connected import Connected, until
from .support import settings

PASSWORD_ENV, PASSWORD = "TEST_SMTP_PASSWORD", "s3cret-smtp"


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (b"acd", PASSWORD.encode())
        if isinstance(auth, LoginPassword):
            self.logins.append((auth.login.decode(), auth.password.decode()))
        return AuthResult(success=ok)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Inbox, int]]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate,
                            auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


def mailbox(port: int) -> Any:
    return settings({"id": "support", "kind": "email", "members": ["anna", "boris"],
                     "smtp": {"address": "support@shop.example", "host": "127.0.0.1", "port": port,
                              "security": "none", "username": "acd", "password_env": PASSWORD_ENV}})


CUSTOMER_MAIL = (b"From: Kim Lee <kim@customer.example>\r\nTo: support@shop.example\r\n"
                 b"Subject: Re: Where is my order?\r\nMessage-ID: <second@customer.example>\r\n"
                 b"In-Reply-To: <first@shop.example>\r\n"
                 b"References: <first@customer.example> <first@shop.example>\r\n\r\nStill nothing.\r\n")


async def test_an_agents_reply_to_an_email_goes_out_over_smtp_in_the_customers_thread(
        smtp: tuple[Inbox, int], db_url: str) -> None:
    inbox, port = smtp
    mail = parse_message(CUSTOMER_MAIL)  # as the IMAP poller reads it
    async with Connected(mailbox(port), db_url) as service:
        item_id, _ = await service.desk.email_received("support", mail.message_id, mail.sender, mail.subject,
                                                       mail.body, mail.references)
        item = await service.desk.item(item_id)
        assert item is not None
        agent = item["agent"]
        answer = await service.api("POST", f"/items/{item_id}/reply",
                                   {"text": "It ships tomorrow.\nSorry for the wait."}, as_=agent)
        await until(lambda: inbox.received, what="the reply at the SMTP server")
    mail_from, rcpt_tos, reply = inbox.received[0]
    assert (mail_from, rcpt_tos) == ("support@shop.example", ["kim@customer.example"])
    assert reply["From"] == "support@shop.example" and reply["To"] == "kim@customer.example"
    assert reply["Subject"] == "Re: Where is my order?"
    assert reply["Message-ID"] == f"<{answer['message_id']}>"
    assert reply["In-Reply-To"] == "<second@customer.example>"
    assert reply["References"].split() == ["<first@customer.example>", "<first@shop.example>",
                                           "<second@customer.example>"]  # folded: a long line
    assert reply.get_content().splitlines() == ["It ships tomorrow.", "Sorry for the wait."]
    assert inbox.logins == [("acd", PASSWORD)]


async def test_only_the_assigned_agent_replies_and_a_mailbox_without_smtp_says_so(
        smtp: tuple[Inbox, int], db_url: str) -> None:
    inbox, port = smtp
    config = settings({"id": "support", "kind": "email", "members": ["anna", "boris"],
                       "smtp": {"address": "support@shop.example", "host": "127.0.0.1", "port": port,
                                "security": "none"}},
                      {"id": "sales", "kind": "email", "members": ["anna"]})
    async with Connected(config, db_url) as service:
        item_id, _ = await service.desk.email_received("support", "m1@x.example", "kim@customer.example", "Hi")
        other, _ = await service.desk.email_received("sales", "m2@x.example", "kim@customer.example", "Hi")
        holder = (await service.desk.item(item_id) or {})["agent"]
        stranger = "boris" if holder == "anna" else "anna"
        await service.api("POST", f"/items/{item_id}/reply", {"text": "mine?"}, as_=stranger, expect=403)
        refused = await service.api("POST", f"/items/{other}/reply", {"text": "hello"}, as_="boss", expect=409)
        assert "no [channels.smtp]" in refused["detail"]
        await service.api("POST", "/items/email:nothing@x/reply", {"text": "hello"}, as_="boss", expect=404)
        assert service.jobs() == [] and inbox.received == []
