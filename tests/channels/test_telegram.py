"""Telegram as an open channel, against a local fake of the Bot API: a customer's
message comes in as a chat, an agent's reply goes out with sendMessage, a restart
neither loses nor repeats an update, a 429 waits for retry_after, the token stays
out of logs, notes and answers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from acd.config import Settings

from .connected import TOKEN, TOKEN_ENV, Connected, FakeBotApi, until
from .support import chat, settings


@pytest.fixture
async def bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBotApi]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


def telegram_settings(bot: FakeBotApi) -> Settings:
    return settings(chat("tg", idle_seconds="never",
                         telegram={"token_env": TOKEN_ENV, "api_url": bot.url, "poll_timeout_s": 1}))


async def messages(service: Connected, cid: str) -> list[tuple[str, str]]:
    lines = await service.api("GET", f"/conversations/{cid}/timeline")
    return [(line["sender"], line["text"]) for line in lines["timeline"] if line["kind"] == "message"]


async def test_a_telegram_message_opens_a_chat_and_the_agents_reply_goes_back_with_send_message(
        bot: FakeBotApi, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with Connected(telegram_settings(bot), db_url) as service:
        bot.write(4242, "Hello, is my order on its way?")
        cid = await until(lambda: service.desk.open_conversation("tg", "telegram:4242"), what="the chat")
        await service.api("POST", f"/conversations/{cid}/accept", {"agent_id": "anna"}, as_="anna")
        answered = await service.api("POST", f"/conversations/{cid}/answer", {"text": "Yes, it left today."},
                                     as_="anna")
        await until(lambda: bot.sent, what="sendMessage")
        assert bot.sent == [{"chat_id": 4242, "text": "Yes, it left today."}]
        assert await messages(service, cid) == [("client", "Hello, is my order on its way?"),
                                                ("agent", "Yes, it left today.")]
        await until(lambda: [j.state for j in service.jobs()] == ["delivered"], what="the job delivered")
        job = service.jobs()[0]
        assert (job.target, job.order_key, job.event) == ("telegram:tg", f"conversation:{cid}", "message.out")
        shown = repr(answered) + repr(await service.api("GET", f"/conversations/{cid}/timeline"))
    assert all(TOKEN in path for path in bot.requests)  # the fake was really asked with it...
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert "httpx" in {r.name for r in caplog.records}  # ...httpx logged those requests...
    assert TOKEN not in logged and TOKEN not in shown  # ...and the token is nowhere to be read


async def test_after_a_restart_no_update_is_lost_and_none_is_taken_twice(bot: FakeBotApi, db_url: str) -> None:
    config = telegram_settings(bot)
    async with Connected(config, db_url) as first:
        bot.write(7, "first")
        bot.write(7, "second")
        cid = await until(lambda: first.desk.open_conversation("tg", "telegram:7"), what="the chat")
        await until(lambda: first.pollers[0].offset == 3, what="both updates taken")
    bot.write(7, "third, while acd was away")  # the fake keeps every update: a poll from 0 would repeat all
    asked_before = len(bot.asked_offsets)
    async with Connected(config, db_url) as second:
        await until(lambda: second.pollers[0].offset == 4, what="the third update taken")
        assert bot.asked_offsets[asked_before] == 3  # the restart asked from the last committed update on
        assert second.desk.open_conversation("tg", "telegram:7") == cid
        assert await messages(second, cid) == [("client", "first"), ("client", "second"),
                                               ("client", "third, while acd was away")]


async def test_an_update_without_text_moves_past_and_hands_out_nothing(bot: FakeBotApi, db_url: str) -> None:
    async with Connected(telegram_settings(bot), db_url) as service:
        bot.write(9, None, sticker={"file_id": "x"})
        bot.write(9, "now in words")
        cid = await until(lambda: service.desk.open_conversation("tg", "telegram:9"), what="the chat")
        await until(lambda: service.pollers[0].offset == 3, what="both updates taken")
        assert await messages(service, cid) == [("client", "now in words")]


async def test_a_429_from_telegram_waits_for_retry_after_and_the_reply_still_goes_out(
        bot: FakeBotApi, db_url: str) -> None:
    bot.too_many = 1
    async with Connected(telegram_settings(bot), db_url) as service:
        bot.write(11, "hi")
        cid = await until(lambda: service.desk.open_conversation("tg", "telegram:11"), what="the chat")
        await service.api("POST", f"/conversations/{cid}/answer", {"text": "hello!", "agent_id": "anna"})
        await until(lambda: service.jobs() and service.jobs()[0].attempts == 1, what="the first attempt")
        first: Any = service.jobs()[0]
        assert (first.state, first.last_status) == ("pending", 429)
        assert first.next_attempt_at - first.updated_at == pytest.approx(1.0, abs=0.01)  # Telegram's retry_after
        await until(lambda: bot.sent, what="the reply after the wait")
        assert bot.sent == [{"chat_id": 11, "text": "hello!"}]


def test_a_missing_bot_token_stops_the_start_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from acd.channels import customer_connectors
    from acd.config import ConfigError

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    config = settings(chat("tg", telegram={"token_env": TOKEN_ENV}))
    with pytest.raises(ConfigError, match=TOKEN_ENV):
        customer_connectors(config)


def test_a_token_in_the_file_is_refused() -> None:
    from acd.config import ConfigError

    with pytest.raises(ConfigError, match="secret does not belong in the file"):
        settings(chat("tg", telegram={"token_env": TOKEN_ENV, "token": TOKEN}))


SECRET_ENV, SECRET = "TEST_TELEGRAM_WEBHOOK_SECRET", "webhook-Secret_42"


async def test_updates_by_webhook_need_telegrams_secret_token_and_a_repeat_is_taken_once(
        bot: FakeBotApi, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    config = settings(chat("tg", idle_seconds="never", telegram={
        "token_env": TOKEN_ENV, "api_url": bot.url, "webhook_secret_env": SECRET_ENV}))
    update = {"update_id": 500, "message": {"message_id": 1, "chat": {"id": 77}, "text": "by webhook"}}

    async def post(body: Any, secret: str | None = SECRET, channel: str = "tg") -> Any:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await service.http.post(f"/telegram/{channel}/webhook", json=body, headers=headers)

    async with Connected(config, db_url) as service:
        assert service.pollers == []  # Telegram refuses getUpdates while a webhook is set
        assert (await post(update, secret=None)).status_code == 403
        assert (await post(update, secret="webhook-Secret_43")).status_code == 403
        assert (await post(update, channel="elsewhere")).status_code == 404
        assert (await post({"no": "update_id"})).status_code == 400
        assert service.desk.live_conversations() == []
        first = await post(update)
        assert first.status_code == 200 and first.json()["taken"] is True
        assert (await post(update)).json()["taken"] is False  # Telegram repeats a delivery it saw no 2xx for
        cid = service.desk.open_conversation("tg", "telegram:77")
        assert cid is not None
        await service.api("POST", f"/conversations/{cid}/answer", {"text": "got it", "agent_id": "anna"})
        await until(lambda: bot.sent, what="the reply")
        assert bot.sent == [{"chat_id": 77, "text": "got it"}]
    async with Connected(config, db_url) as service:  # after a restart, too
        assert (await post(update)).json()["taken"] is False
        assert await messages(service, cid) == [("client", "by webhook"), ("agent", "got it")]


def test_a_webhook_secret_telegram_would_refuse_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from acd.channels import customer_connectors
    from acd.config import ConfigError

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(SECRET_ENV, "spaces are not allowed")
    config = settings(chat("tg", telegram={"token_env": TOKEN_ENV, "webhook_secret_env": SECRET_ENV}))
    with pytest.raises(ConfigError, match="1 to 256 of A-Z"):
        customer_connectors(config)
