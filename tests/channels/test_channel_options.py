"""A chat queue's options through the desk: the CRM look-up (check the client, chat
tracking), the owner on a hand transfer, and the texts a customer is told."""

from __future__ import annotations

from .support import FakeClock, FakeCrm, Service, chat, settings

SATURDAY_NOON_UTC = 1709985600.0  # 2024-03-09 12:00 UTC


async def test_outside_the_channels_hours_the_auto_reply_is_recorded_and_handed_to_the_connector(db_url: str) -> None:
    config = settings(chat(working_hours=["mon-fri 09:00-18:00"], auto_reply="We answer on Monday."))
    async with Service(config, db_url, FakeClock(SATURDAY_NOON_UTC)) as svc:
        told: list[tuple[str, str, str]] = []
        svc.desk.deliver_to_customer = lambda cid, text, why: told.append((cid, text, why))
        cid = await svc.chat("telegram:1", "hello?")
        assert told == [(cid, "We answer on Monday.", "outside_hours")]
        lines = await svc.timeline(cid)
        assert any(x["kind"] == "outside_hours" for x in lines)
        assert [(x["sender"], x["text"]) for x in lines if x["kind"] == "message"] == [
            ("acd", "We answer on Monday."), ("client", "hello?")]
        assert (await svc.holding("anna"))["offered"] == [cid]  # still in the queue


async def test_a_failing_connector_does_not_stop_the_conversation(db_url: str) -> None:
    async with Service(settings(chat(waiting_message="One moment please.")), db_url, FakeClock()) as svc:
        def broken(cid: str, text: str, why: str) -> None:
            raise ConnectionError("widget gone")
        svc.desk.deliver_to_customer = broken
        cid = await svc.chat("telegram:2")
        assert (await svc.holding("anna"))["offered"] == [cid]


async def test_without_checking_the_client_the_crm_is_not_asked_and_the_queue_order_applies(db_url: str) -> None:
    crm = FakeCrm(owners={"telegram:42": "clara"})
    async with Service(settings(chat(check_client=False)), db_url, FakeClock(), crm=crm) as svc:
        cid = await svc.chat("telegram:42")
        assert (await svc.holding("anna"))["offered"] == [cid]


async def test_without_chat_tracking_a_phone_written_in_the_chat_does_not_find_the_client(db_url: str) -> None:
    crm = FakeCrm(owners={"+4930123456": "clara", "telegram:42": "boris"})
    async with Service(settings(chat(chat_tracking=False)), db_url, FakeClock(), crm=crm) as svc:
        by_phone = await svc.chat("+4930123456")
        assert (await svc.holding("anna"))["offered"] == [by_phone]
        own_id = await svc.chat("telegram:42")
        assert (await svc.holding("boris"))["offered"] == [own_id]


async def test_with_chat_tracking_a_phone_written_in_the_chat_finds_the_client_and_their_owner(db_url: str) -> None:
    crm = FakeCrm(owners={"+4930123456": "clara"})
    async with Service(settings(chat()), db_url, FakeClock(), crm=crm) as svc:
        cid = await svc.chat("+4930123456")
        assert (await svc.holding("clara"))["offered"] == [cid]


async def test_a_hand_transfer_leaves_the_crm_owner_when_the_queue_says_so(db_url: str) -> None:
    crm = FakeCrm()
    async with Service(settings(chat(owner_follows_transfer=False)), db_url, FakeClock(), crm=crm) as svc:
        cid = await svc.chat("telegram:55")
        await svc.post(f"/conversations/{cid}/accept", {}, as_="anna", expect=200)
        await svc.post(f"/conversations/{cid}/transfer", {"to_agent": "clara"}, as_="anna", expect=200)
        assert (await svc.holding("clara"))["offered"] == [cid]
        assert crm.transfers == []
