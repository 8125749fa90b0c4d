"""The customer connectors follow the settings live: a Telegram bot or an SMTP server
set on an open channel or a mailbox through the settings API (as the pages do) works at
once, without restarting the service; removed, it stops. The whole service
(``acd.serve.Acd``) runs in this process against the local fakes of the Bot API and of
an SMTP server (aiosmtpd) the other connector tests use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from acd.config import settings_from_dict
from acd.serve import Acd

from .connected import TOKEN, TOKEN_ENV, FakeBotApi, until
from .test_smtp_replies import PASSWORD_ENV, Inbox, smtp  # noqa: F401 - the SMTP server fixture

AGENTS = ("anna", "boris")


@pytest.fixture
async def bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBotApi]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


class Running:
    def __init__(self, acd: Acd, http: httpx.AsyncClient) -> None:
        self.acd, self.http = acd, http

    async def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = await self.http.request(method, path, json=body)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Running]:
    config = tmp_path / "acd.toml"
    config.write_text("")
    acd = Acd(settings_from_dict({
        "service": {"database": f"sqlite:///{tmp_path / 'acd.db'}"},
        "ami": {"host": "127.0.0.1", "port": 1, "secret": "unused", "simulate": "never"},
        "agents": [{"id": a, "endpoint": f"PJSIP/{101 + n}"} for n, a in enumerate(AGENTS)],
        "channels": [{"id": "tg", "kind": "chat", "members": ["anna"], "idle_seconds": "never"},
                     {"id": "support", "kind": "email", "members": ["anna"]}],
    }, "<test>"), config_path=config)
    accounts = acd.web_context.accounts
    assert accounts is not None
    boss = accounts.create_user("boss", "correct horse battery", role="supervisor",
                                permissions={"open_channels", "email", "agents"})
    headers = {"Authorization": f"Bearer {accounts.create_token(boss.id, 'test')}"}
    task = asyncio.create_task(acd.run(http=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=acd.web), base_url="http://acd",
                                 headers=headers) as http:
        yield Running(acd, http)
    acd.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    acd.store.close()


def telegram_polls(running: Running) -> bool:
    return any(task.get_name() == "telegram tg" and not task.done() for task in asyncio.all_tasks())


async def test_a_telegram_bot_set_in_the_settings_api_works_at_once_and_stops_when_removed(
        service: Running, bot: FakeBotApi) -> None:
    chat = await service.call("GET", "/api/channels-config/chats/tg")
    assert not telegram_polls(service)
    await service.call("PUT", "/api/channels-config/chats/tg", {
        **chat, "telegram": {"token_env": TOKEN_ENV, "api_url": bot.url, "poll_timeout_s": 1}})

    bot.write(4242, "Hello, is my order on its way?")  # no restart: the bot is polled now
    cid = await until(lambda: service.acd.desk.open_conversation("tg", "telegram:4242"), what="the chat")
    await service.call("POST", f"/api/channels/conversations/{cid}/answer",
                       {"text": "Yes, it left today.", "agent_id": "anna"})
    await until(lambda: bot.sent, what="the reply through sendMessage")
    assert bot.sent == [{"chat_id": 4242, "text": "Yes, it left today."}]

    await service.call("PUT", "/api/channels-config/chats/tg", chat)  # the bot removed
    await until(lambda: not telegram_polls(service), what="the poller stopped")
    assert "telegram:tg" not in service.acd.crm_sender.connectors


async def test_a_bot_whose_token_is_not_in_the_environment_is_refused_naming_the_variable(
        service: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_UNSET_BOT_TOKEN", raising=False)
    chat = await service.call("GET", "/api/channels-config/chats/tg")
    refused = await service.call("PUT", "/api/channels-config/chats/tg", {
        **chat, "telegram": {"token_env": "TEST_UNSET_BOT_TOKEN"}}, expect=422)
    assert any("TEST_UNSET_BOT_TOKEN" in p["problem"] and p["item"].endswith("telegram.token_env")
               for p in refused["detail"]), refused
    assert await service.call("GET", "/api/channels-config/chats/tg") == chat  # nothing changed
    assert not telegram_polls(service) and "telegram:tg" not in service.acd.crm_sender.connectors


async def test_an_smtp_server_set_on_a_mailbox_in_the_settings_api_sends_replies_at_once(
        service: Running, smtp: tuple[Inbox, int]) -> None:  # noqa: F811 - the fixture imported above
    inbox, port = smtp
    mailbox = await service.call("GET", "/api/channels-config/mailboxes/support")
    desk = service.acd.desk
    item_id, _ = await desk.email_received("support", "m1@customer.example", "kim@customer.example", "Order")
    await service.call("POST", f"/api/channels/items/{item_id}/reply", {"text": "before"}, expect=409)  # no SMTP

    await service.call("PUT", "/api/channels-config/mailboxes/support", {
        **mailbox, "smtp": {"address": "support@shop.example", "host": "127.0.0.1", "port": port,
                            "security": "none", "username": "acd", "password_env": PASSWORD_ENV}})
    await service.call("POST", f"/api/channels/items/{item_id}/reply", {"text": "It ships tomorrow."})
    await until(lambda: inbox.received, what="the reply at the SMTP server")
    assert inbox.received[0][1] == ["kim@customer.example"]

    await service.call("PUT", "/api/channels-config/mailboxes/support", mailbox)  # SMTP removed
    assert "smtp:support" not in service.acd.crm_sender.connectors
