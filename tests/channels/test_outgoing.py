"""Durable delivery of texts to customers: a reply acknowledged to the agent is in the
outbox in the same transaction, and reaches the customer once their side is back, in
order; a failed write acknowledges nothing; ``Desk.say`` is the one way in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from acd.channels.desk import NotSaved
from acd.channels.history import Batch, ChannelHistory

from .connected import TOKEN, TOKEN_ENV, Connected, FakeBotApi, until
from .support import chat, settings


@pytest.fixture
async def bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBotApi]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


def config(bot: FakeBotApi):  # type: ignore[no-untyped-def]
    return settings(chat("tg", idle_seconds="never",
                         telegram={"token_env": TOKEN_ENV, "api_url": bot.url, "poll_timeout_s": 1}),
                    chat("site", idle_seconds="never"))


async def test_replies_acknowledged_while_telegram_is_down_go_out_in_order_when_it_is_back(
        bot: FakeBotApi, db_url: str) -> None:
    async with Connected(config(bot), db_url) as service:
        bot.write(31, "are you there?")
        cid = await until(lambda: service.desk.open_conversation("tg", "telegram:31"), what="the chat")
        await bot.stop()  # the customer's side is away: connections are refused
        for n in range(1, 6):
            await service.api("POST", f"/conversations/{cid}/answer", {"text": f"reply {n}", "agent_id": "anna"})
        assert [j.payload["text"] for j in service.jobs()] == [f"reply {n}" for n in range(1, 6)]  # all committed
        await until(lambda: service.jobs()[0].attempts >= 2, what="failed attempts")
        assert bot.sent == [] and all(j.state == "pending" for j in service.jobs())
        assert all(j.attempts == 0 for j in service.jobs()[1:])  # the later ones wait behind the first
        await bot.start()
        await until(lambda: len(bot.sent) == 5, what="the five replies")
        assert [m["text"] for m in bot.sent] == [f"reply {n}" for n in range(1, 6)]
        await until(lambda: {j.state for j in service.jobs()} == {"delivered"}, what="every job settled")


async def test_a_reply_whose_write_fails_is_not_acknowledged_and_its_job_comes_with_the_next_write(
        db_url: str, monkeypatch: pytest.MonkeyPatch, bot: FakeBotApi) -> None:
    async with Connected(config(bot), db_url) as service:
        bot.write(5, "hello")
        cid = await until(lambda: service.desk.open_conversation("tg", "telegram:5"), what="the chat")
        real_write = ChannelHistory.write

        def broken(self: ChannelHistory, batch: Batch) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(ChannelHistory, "write", broken)
        await service.api("POST", f"/conversations/{cid}/answer", {"text": "kept", "agent_id": "anna"},
                          expect=503)
        assert service.jobs() == [] and bot.sent == []
        monkeypatch.setattr(ChannelHistory, "write", real_write)
        for _ in range(100):  # a write begun while the disk was "full" may still be failing
            try:
                await service.desk.commit()
                break
            except NotSaved:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the reply was never written once the disk took writes again")
        await until(lambda: bot.sent, what="the kept reply")
        assert bot.sent == [{"chat_id": 5, "text": "kept"}]


async def test_say_is_the_one_way_to_tell_a_customer_something_and_a_widget_chat_gets_no_job(
        bot: FakeBotApi, db_url: str) -> None:
    async with Connected(config(bot), db_url) as service:
        bot.write(8, "hi")
        tg = await until(lambda: service.desk.open_conversation("tg", "telegram:8"), what="the chat")
        site, _ = await service.desk.chat_message("site", "widget:abc", "hello")
        service.desk.say(tg, "We are closed until 9:00; an agent will answer then.", sender="auto_reply")
        service.desk.say(site, "You are number 1 in the queue.")
        await service.desk.commit()
        await until(lambda: bot.sent, what="the auto-reply")
        assert bot.sent == [{"chat_id": 8, "text": "We are closed until 9:00; an agent will answer then."}]
        assert [j.payload["conversation"] for j in service.jobs()] == [tg]
        lines = await service.desk.timeline(site)
        assert [(ln["sender"], ln["text"]) for ln in lines if ln["kind"] == "message"][-1] == \
            ("system", "You are number 1 in the queue.")


async def test_a_reply_telegram_refuses_is_a_dead_letter_on_the_outbox_page_and_holds_the_next_back(
        bot: FakeBotApi, db_url: str) -> None:
    from sqlalchemy.orm import Session

    from acd.crm.outbox import list_outbox, retry, waiting_behind

    async with Connected(config(bot), db_url) as service:
        bot.write(13, "hi")
        cid = await until(lambda: service.desk.open_conversation("tg", "telegram:13"), what="the chat")
        bot.blocked.add(13)
        await service.api("POST", f"/conversations/{cid}/answer", {"text": "first", "agent_id": "anna"})
        await service.api("POST", f"/conversations/{cid}/answer", {"text": "second", "agent_id": "anna"})
        await until(lambda: service.jobs()[0].state == "dead", what="the dead letter")
        with Session(service.engine) as session:
            dead = list_outbox(session, "dead")  # what the outbox page lists
            assert [(j.target, j.payload["text"], j.last_status) for j in dead] == [("telegram:tg", "first", 403)]
            assert "blocked by the user" in (dead[0].last_error or "")
            pending = list_outbox(session, "pending")
            assert waiting_behind(session, pending) == {pending[0].id: dead[0].id}
        bot.blocked.clear()  # the customer unblocked the bot; a supervisor retries from the page
        with Session(service.engine) as session, session.begin():
            retry(session, dead[0].id, now=service.clock.now())
        service.sender.wake()
        await until(lambda: len(bot.sent) == 2, what="both replies")
        assert [m["text"] for m in bot.sent] == ["first", "second"]


async def test_the_queues_waiting_message_reaches_telegram_and_the_widget_like_a_reply(
        bot: FakeBotApi, db_url: str) -> None:
    from .test_widget import Visitor

    both = settings(chat("tg", idle_seconds="never", waiting_message="One moment please.",
                         telegram={"token_env": TOKEN_ENV, "api_url": bot.url, "poll_timeout_s": 1}),
                    chat("site", idle_seconds="never", waiting_message="An agent is on the way.",
                         widget={"allowed_origins": ["https://shop.example"]}))
    async with Connected(both, db_url) as service:
        bot.write(21, "hello")
        await until(lambda: bot.sent, what="the waiting message")
        assert bot.sent == [{"chat_id": 21, "text": "One moment please."}]
        visitor = await Visitor(service).arrive()
        await visitor.write("hi")
        thread = await visitor.read()
        assert [(m["from"], m["text"]) for m in thread["messages"]] == [("system", "An agent is on the way."),
                                                                        ("you", "hi")]
