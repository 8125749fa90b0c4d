"""Chats through the HTTP API: idle time, responses, capacity, transfers, closing."""

from __future__ import annotations

from .support import FakeClock, FakeCrm, Service, chat, settings


async def test_idle_time_passes_an_unanswered_chat_to_the_next_agent(db_url: str) -> None:
    clock = FakeClock()
    async with Service(settings(chat(idle_seconds=60)), db_url, clock) as svc:
        cid = await svc.chat("telegram:1001", "hi, is anyone there?")
        assert (await svc.holding("anna"))["offered"] == [cid]
        clock.advance(59)
        assert (await svc.holding("anna"))["offered"] == [cid]
        clock.advance(1)
        assert (await svc.holding("anna"))["offered"] == []
        assert (await svc.holding("boris"))["offered"] == [cid]
        await svc.post(f"/conversations/{cid}/accept", {}, as_="boris", expect=200)
        clock.advance(600)  # accepted: no idle time any more
        assert (await svc.holding("boris"))["active"] == [cid]
        kinds = await svc.kinds(cid)
        assert kinds[:4] == ["arrived", "considered", "offered", "message"]
        assert "no_response" in kinds and kinds[-1] == "accepted"
        line = next(x for x in await svc.timeline(cid) if x["kind"] == "no_response")
        assert line["agents"] == ["anna"] and line["idle_s"] == 60


async def test_the_same_client_writes_into_the_open_conversation_and_an_answer_is_recorded(db_url: str) -> None:
    async with Service(settings(chat()), db_url, FakeClock()) as svc:
        cid = await svc.chat("telegram:7", "first")
        assert await svc.chat("telegram:7", "second") == cid
        await svc.post(f"/conversations/{cid}/answer", {"text": "Hello, how can I help?"}, as_="anna", expect=200)
        conv = await svc.get(f"/conversations/{cid}", as_="anna")
        assert conv["agent"] == "anna" and conv["answered"] is True
        messages = [(x["sender"], x["text"]) for x in await svc.timeline(cid) if x["kind"] == "message"]
        assert messages == [("client", "first"), ("client", "second"), ("agent", "Hello, how can I help?")]
        await svc.post(f"/conversations/{cid}/close", as_="anna", expect=200)
        assert await svc.chat("telegram:7", "me again") != cid  # closed: a new conversation
        item = (await svc.get(f"/conversations/{cid}/timeline"))["item"]
        assert item["status"] == "closed" and item["agent"] == "anna" and item["client"] == "telegram:7"


async def test_capacity_limits_open_chats_and_a_close_serves_the_line(db_url: str) -> None:
    config = settings(chat(members=("anna", "boris"), capacity=2), work={"anna": {"clock_in_required": False,
                                                                               "capacity": 1}})
    async with Service(config, db_url, FakeClock()) as svc:
        ids = [await svc.chat(f"telegram:{n}") for n in range(5)]
        assert (await svc.holding("anna"))["offered"] == ids[:1]
        assert (await svc.holding("boris"))["offered"] == ids[1:3]
        waiting = await svc.get("/queues/telegram/waiting")
        assert [c["id"] for c in waiting["waiting"]] == ids[3:]
        alerts = (await svc.get("/alerts"))["alerts"]
        assert alerts[0]["kind"] == "nobody_available" and alerts[0]["members"]["anna"] == "full (1 of 1)"
        await svc.post(f"/conversations/{ids[0]}/accept", {}, as_="anna", expect=200)
        await svc.post(f"/conversations/{ids[0]}/close", as_="anna", expect=200)
        assert (await svc.holding("anna"))["offered"] == [ids[3]]
        assert [c["id"] for c in (await svc.get("/queues/telegram/waiting"))["waiting"]] == [ids[4]]


async def test_a_transfer_to_a_colleague_or_a_queue_is_recorded_and_reported_to_the_crm(db_url: str) -> None:
    crm = FakeCrm()
    config = settings(chat(), chat(id="vip", members=("dmitri",)))
    async with Service(config, db_url, FakeClock(), crm=crm) as svc:
        cid = await svc.chat("telegram:55")
        await svc.post(f"/conversations/{cid}/accept", {}, as_="anna", expect=200)
        await svc.post(f"/conversations/{cid}/transfer", {"to_agent": "clara"}, as_="anna", expect=200)
        assert (await svc.holding("clara"))["offered"] == [cid]
        reports = [(r.from_agent, r.to_agent, r.by, q) for r, q in crm.transfers]
        assert reports == [("anna", "clara", "anna", "telegram")]
        await svc.post(f"/conversations/{cid}/accept", {}, as_="clara", expect=200)
        await svc.post(f"/conversations/{cid}/transfer", {"to_queue": "vip"}, as_="clara", expect=200)
        assert (await svc.holding("dmitri"))["offered"] == [cid]
        assert (await svc.get(f"/conversations/{cid}"))["queue"] == "vip"
        kinds = await svc.kinds(cid)
        assert kinds.count("transferred") == 2 and "returned_to_queue" in kinds


async def test_a_chat_from_a_client_the_crm_knows_goes_to_the_owner_first(db_url: str) -> None:
    crm = FakeCrm(owners={"telegram:42": "clara"})
    async with Service(settings(chat()), db_url, FakeClock(), crm=crm) as svc:
        cid = await svc.chat("telegram:42")
        assert (await svc.holding("clara"))["offered"] == [cid]
        considered = next(x for x in await svc.timeline(cid) if x["kind"] == "considered")
        assert considered["rule"] == "client's owner"


async def test_a_rejected_chat_goes_to_the_next_agent(db_url: str) -> None:
    async with Service(settings(chat()), db_url, FakeClock()) as svc:
        cid = await svc.chat("telegram:9")
        await svc.post(f"/conversations/{cid}/reject", {}, as_="anna", expect=200)
        assert (await svc.holding("boris"))["offered"] == [cid]


async def test_new_settings_apply_at_once_and_serve_the_waiting_line(db_url: str) -> None:
    async with Service(settings(chat(members=("anna",), capacity=1)), db_url, FakeClock()) as svc:
        first, second = await svc.chat("telegram:1"), await svc.chat("telegram:2")
        assert [c["id"] for c in (await svc.get("/queues/telegram/waiting"))["waiting"]] == [second]
        svc.desk.reconfigure(settings(chat(members=("anna", "dmitri"), capacity=1)).conversations())
        assert (await svc.holding("dmitri"))["offered"] == [second]
        assert (await svc.holding("anna"))["offered"] == [first]


async def test_the_api_is_described_for_integrators(db_url: str) -> None:
    async with Service(settings(chat()), db_url, FakeClock()) as svc:
        paths = (await svc.http.get("/openapi.json")).json()["paths"]
        chat_body = paths["/api/channels/inbound/chat"]["post"]["requestBody"]["content"]["application/json"]
        assert set(chat_body["schema"]["required"]) == {"queue", "client"}
        assert "/api/channels/conversations/{cid}/transfer" in paths
