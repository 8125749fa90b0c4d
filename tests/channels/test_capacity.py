"""One capacity across channels at the desk: open e-mails draw on the budget until closed
through the API, and the desk tells telephony what each agent holds (``on_load``)."""

from __future__ import annotations

from .support import FakeClock, Service, chat, settings

MAILBOX = {"id": "mail", "kind": "email", "members": ["anna"]}


async def test_closing_an_email_makes_room_for_the_waiting_chat_and_telephony_is_told(db_url: str) -> None:
    config = settings(chat(members=("anna",)), MAILBOX).with_changes({"capacity": {"email": 50}})
    async with Service(config, db_url, FakeClock()) as svc:
        told: list[tuple[str, int, int, int]] = []
        svc.desk.on_load.append(lambda *load: told.append(load))
        mails = []
        for n in range(2):  # two open e-mails at 50: anna's budget is full
            response = await svc.post("/inbound/email", {"queue": "mail", "message_id": f"<m{n}@x.org>",
                                                         "sender": f"c{n}@x.org"}, as_="integration", expect=202)
            mails.append(response.json()["item_id"])
        cid = await svc.chat("tg:olga")
        assert svc.desk.conversation(cid)["phase"] == "waiting"  # type: ignore[index]
        considered = [line for line in await svc.timeline(cid) if line["kind"] == "considered"]
        assert considered[0]["skipped"] == {"anna": "e-mails take their whole capacity (2 e-mails: 100 of 100)"}
        assert told == [("anna", 0, 1, 0), ("anna", 0, 2, 0)]
        await svc.post(f"/items/{mails[0]}/close", as_="anna", expect=200)
        assert (await svc.holding("anna"))["offered"] == [cid]
        assert told[-1] == ("anna", 1, 1, 0)


async def test_the_desk_hears_of_phone_calls_and_serves_the_line_when_they_end(db_url: str) -> None:
    async with Service(settings(chat(members=("anna",))), db_url, FakeClock()) as svc:
        svc.desk.phone_calls("anna", 1)
        svc.desk.phone_calls("nobody", 1)  # an agent the channels do not know: ignored
        cid = await svc.chat("tg:olga")
        assert (await svc.holding("anna"))["offered"] == []
        assert (await svc.get("/agents/anna/work-state"))["phone_calls"] == 1
        svc.desk.phone_calls("anna", 0)
        assert (await svc.holding("anna"))["offered"] == [cid]
