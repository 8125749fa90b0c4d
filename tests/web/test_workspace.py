"""The agent workspace's API: an agent's own offers, conversations, e-mails and forms,
work state in words, client card; scoped strictly to the signed-in agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from acd.channels import Desk
from acd.core.commands import Ring
from acd.core.events import CallArrived, CallerHungUp, MemberAnswered, MemberRinging
from acd.crm.clients import add_client
from acd.crm.identity import Identity
from tests.channels.support import MONDAY_10_UTC, FakeClock

from .conftest import Service
from .workspace_support import build_with_desk


class Web:
    """The service, its desk and an HTTP client that signs in with API tokens."""

    def __init__(self, service: Service, desk: Desk, clock: FakeClock) -> None:
        self.service, self.desk, self.clock = service, desk, clock
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app), base_url="http://acd")
        self.tokens: dict[str, str] = {}

    def user(self, name: str, role: str = "agent", permissions: set[str] | None = None,
             agent_id: str | None = None) -> None:
        user = self.service.user(name, role, permissions or {"open_channels"}, agent_id)
        self.tokens[name] = self.service.accounts.create_token(user.id, "test")

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def get(self, path: str, user: str, expect: int = 200) -> Any:
        response = await self.http.get(path, headers=self.auth(user))
        assert response.status_code == expect, response.text
        return response.json()

    async def post(self, path: str, user: str, body: Any = None, expect: int = 200) -> Any:
        response = await self.http.post(f"/api/channels{path}", json=body or {}, headers=self.auth(user))
        assert response.status_code == expect, response.text
        return response.json()

    async def chat(self, client: str, text: str, queue: str = "site") -> str:
        answer = await self.post("/inbound/chat", "integration", {"queue": queue, "client": client, "text": text},
                                 expect=202)
        return str(answer["conversation_id"])

    async def workspace(self, user: str, agent: str | None = None) -> dict[str, Any]:
        return dict(await self.get("/api/workspace" + (f"?agent={agent}" if agent else ""), user))


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    clock = FakeClock(MONDAY_10_UTC)
    service, desk = build_with_desk(tmp_path, clock)
    await desk.start()
    w = Web(service, desk, clock)
    for agent in ("anna", "ben", "chloe"):
        w.user(agent, agent_id=agent)
    w.user("integration", "supervisor", {"open_channels", "email", "crm_forms"})
    w.user("sue", "supervisor", {"open_channels"})
    yield w
    await w.http.aclose()
    await desk.close()
    service.store.close()


async def clock_in(web: Web, *agents: str) -> None:
    for agent in agents:
        await web.post(f"/agents/{agent}/clock-in", agent)


async def test_an_offer_shows_in_the_agents_own_workspace_only_with_the_time_left(web: Web) -> None:
    await clock_in(web, "anna", "ben")
    cid = await web.chat("telegram:501", "Hello <b>there</b>")
    holder = next(iter(web.desk.holders(cid)))
    other = "ben" if holder == "anna" else "anna"
    web.clock.advance(15)
    mine = await web.workspace(holder)
    assert [o["id"] for o in mine["offers"]] == [cid] and mine["conversations"] == []
    offer = mine["offers"][0]
    assert offer["time_left_s"] == pytest.approx(45) and offer["time_left"] == "45 s"
    assert offer["queue_name"] == "Website chat"
    assert [(line["who"], line["text"]) for line in offer["thread"]] == [("Client", "Hello <b>there</b>")]
    theirs = await web.workspace(other)
    assert theirs["offers"] == [] and theirs["conversations"] == []
    assert cid not in str(theirs)  # not even in a client card or a thread


async def test_an_agent_cannot_open_a_colleagues_workspace_but_a_supervisor_can_read_it(web: Web) -> None:
    await clock_in(web, "anna")
    await web.get("/api/workspace?agent=ben", "anna", expect=403)
    await web.get("/api/workspace/stream?agent=ben", "anna", expect=403)
    page = await web.http.get("/workspace?agent=ben", headers=web.auth("anna"))
    assert page.status_code == 403 and "own workspace" in page.text
    looked = await web.workspace("sue", "anna")
    assert looked["read_only"] is True and looked["agent"]["id"] == "anna"
    assert looked["work"]["words"] == "working since 11:00"
    assert (await web.workspace("anna"))["read_only"] is False
    problem = await web.get("/api/workspace", "sue", expect=422)
    assert "name the agent" in str(problem)
    await web.get("/api/workspace?agent=zoe", "sue", expect=404)
    chooser = await web.http.get("/workspace", headers=web.auth("sue"))  # sue is nobody's agent: whose?
    assert chooser.status_code == 200 and 'href="/workspace?agent=anna"' in chooser.text
    unpermitted = web.service.user("carl", "agent", set(), "chloe")
    web.tokens["carl"] = web.service.accounts.create_token(unpermitted.id, "test")
    await web.get("/api/workspace", "carl", expect=403)  # no open_channels permission


async def test_an_agent_acting_on_a_colleagues_conversation_is_refused_and_nothing_changes(web: Web) -> None:
    await clock_in(web, "anna", "ben", "chloe")
    cid = await web.chat("telegram:502", "hi")
    holder = next(iter(web.desk.holders(cid)))
    other = next(a for a in ("anna", "ben", "chloe") if a != holder)
    await web.post(f"/conversations/{cid}/accept", holder)
    await web.desk.flush()
    before = (web.desk.router.snapshot(), web.desk.history.counts())
    await web.post(f"/conversations/{cid}/answer", other, {"text": "I take it"}, expect=403)
    await web.post(f"/conversations/{cid}/close", other, expect=403)
    await web.post(f"/conversations/{cid}/transfer", other, {"to_agent": other}, expect=403)
    await web.post(f"/conversations/{cid}/accept", other, expect=409)
    await web.get(f"/api/channels/conversations/{cid}/timeline", other, expect=403)
    await web.desk.flush()
    assert (web.desk.router.snapshot(), web.desk.history.counts()) == before
    assert cid not in str(await web.workspace(other))


async def test_accept_reply_transfer_and_close_show_in_both_workspaces(web: Web) -> None:
    await clock_in(web, "anna", "ben")
    cid = await web.chat("telegram:503", "Do you ship to Spain?")
    holder = next(iter(web.desk.holders(cid)))
    colleague = "ben" if holder == "anna" else "anna"
    await web.post(f"/conversations/{cid}/accept", holder)
    await web.post(f"/conversations/{cid}/answer", holder, {"text": "Yes, in 3 days."})
    await web.chat("telegram:503", "Great, and to Portugal?")
    mine = await web.workspace(holder)
    assert [c["id"] for c in mine["conversations"]] == [cid] and mine["offers"] == []
    thread = [(line["sender"], line["text"]) for line in mine["conversations"][0]["thread"]]
    assert thread == [("client", "Do you ship to Spain?"), ("agent", "Yes, in 3 days."),
                      ("client", "Great, and to Portugal?")]
    assert {c["id"] for c in mine["colleagues"]} == {"anna", "ben", "chloe"} - {holder}
    assert {q["id"] for q in mine["queues"]} == {"site", "vip"}

    await web.post(f"/conversations/{cid}/transfer", holder, {"to_agent": colleague})
    assert cid not in str((await web.workspace(holder))["conversations"])
    theirs = await web.workspace(colleague)
    assert [o["id"] for o in theirs["offers"]] == [cid]
    assert len(theirs["offers"][0]["thread"]) == 3  # the whole thread goes along
    await web.post(f"/conversations/{cid}/accept", colleague)
    await web.post(f"/conversations/{cid}/close", colleague)
    assert (await web.workspace(colleague))["conversations"] == []


async def test_work_state_in_words_in_the_agents_time_zone_and_telephony_follows(web: Web) -> None:
    assert (await web.workspace("anna"))["work"]["words"] == "clocked out"
    await clock_in(web, "anna")  # 10:00 UTC is 11:00 in Berlin
    assert (await web.workspace("anna"))["work"]["words"] == "working since 11:00"
    web.clock.advance(3 * 60)
    await web.post("/agents/anna/break/start", "anna", {"reason": "lunch"})
    state = await web.workspace("anna")
    assert state["work"]["words"] == "on a break: lunch since 11:03"
    assert state["agent"]["time_zone"] == "Europe/Berlin"
    await web.post("/agents/anna/break/start", "anna", {"reason": "x" * 101}, expect=422)
    colleague_view = {c["id"]: c["state"] for c in (await web.workspace("ben"))["colleagues"]}
    assert colleague_view["anna"] == "on a break: lunch"  # the reason shows live (issue 14)
    # the telephony side: a call to sales skips anna (on a break) and rings ben
    await clock_in(web, "ben")
    web.service.pbx.commands.clear()
    web.service.distributor.feed(CallArrived("c1", "+4930111111", "+4917100000001"))
    rung = [a for c in web.service.pbx.commands if isinstance(c, Ring) for a in c.agent_ids]
    assert rung == ["ben"], web.service.pbx.commands
    await web.post("/agents/anna/break/end", "anna")
    await web.post("/agents/anna/clock-out", "anna")
    assert (await web.workspace("anna"))["work"]["words"] == "clocked out since 11:03"


async def test_emails_and_forms_assigned_to_the_agent_come_with_the_client_card(web: Web) -> None:
    await clock_in(web, "anna", "ben")
    with Session(web.service.store.engine) as session, session.begin():
        add_client(session, [Identity.email("olga@example.org"), Identity.phone("+49 30 5550123")],
                   owner="anna", name="Olga Petrova", now=MONDAY_10_UTC - 86400)
    web.service.store.apply_records([])  # the calls table exists
    await web.post("/inbound/email", "integration", {"queue": "mail", "message_id": "<m1@example.org>",
                                                     "sender": "Olga <olga@example.org>", "subject": "Invoice",
                                                     "body": "Please send <script>x</script> the invoice"},
                   expect=202)
    await web.post("/inbound/form", "integration", {"form": "callback", "fields": {"phone": "+49 30 5550123",
                                                                                  "name": "Olga"}}, expect=202)
    mine = await web.workspace("anna")
    kinds = {i["kind"]: i for i in mine["items"]}
    assert set(kinds) == {"email", "form"}
    email = kinds["email"]
    assert email["subject"] == "Invoice" and "<script>" in email["body"]
    card = email["card"]
    assert card["known"] and card["name"] == "Olga Petrova" and card["owner"] == "Anna Berg"
    assert set(card["identities"]) == {"olga@example.org", "+49305550123"}
    assert kinds["form"]["card"]["name"] == "Olga Petrova"
    assert ["phone", "+49 30 5550123"] in kinds["form"]["fields"]
    assert (await web.workspace("ben"))["items"] == []
    await web.post(f"/items/{email['id']}/close", "ben", expect=409)  # not his
    await web.post(f"/items/{email['id']}/close", "anna")
    assert [i["kind"] for i in (await web.workspace("anna"))["items"]] == ["form"]


async def test_the_agents_own_calls_and_the_clients_calls_on_the_card(web: Web) -> None:
    await clock_in(web, "anna", "ben")
    with Session(web.service.store.engine) as session, session.begin():
        add_client(session, [Identity.email("ivo@example.org"), Identity.phone("+49 30 5550199")], owner="anna",
                   name="Ivo Novak", now=MONDAY_10_UTC - 86400)
    distributor = web.service.distributor
    distributor.feed(CallArrived("call-1", "+4930111111", "0305550199"))  # as Asterisk gives a national number
    ring = next(c for c in reversed(web.service.pbx.commands) if isinstance(c, Ring))
    assert ring.agent_ids == ("anna",)
    distributor.feed(MemberRinging("call-1", ring.attempt, "anna"))
    distributor.feed(MemberAnswered("call-1", ring.attempt, "anna"))
    web.clock.advance(65)
    distributor.feed(CallerHungUp("call-1"))
    await web.post("/inbound/email", "integration", {"queue": "mail", "message_id": "<m2@example.org>",
                                                     "sender": "ivo@example.org", "subject": "After our call"},
                   expect=202)
    anna = await web.workspace("anna")
    assert [(c["caller"], c["outcome"]) for c in anna["calls"]] == [("0305550199", "answered")]
    assert anna["calls"][0]["href"] == "/calls/call-1"
    card = anna["items"][0]["card"]
    assert card["calls"] == [{"time": "11:00", "outcome": "answered", "agent": "Anna Berg"}]
    assert (await web.workspace("ben"))["calls"] == []


async def test_a_conversations_thread_holds_the_clients_emails_too(web: Web) -> None:
    await clock_in(web, "anna", "ben")
    with Session(web.service.store.engine) as session, session.begin():
        add_client(session, [Identity.messenger("telegram", "777"), Identity.email("mia@example.org")],
                   owner="anna", name="Mia Wong", now=MONDAY_10_UTC - 86400)
    await web.post("/inbound/email", "integration", {"queue": "mail", "message_id": "<m3@example.org>",
                                                     "sender": "mia@example.org", "subject": "Order 42",
                                                     "body": "Where is order 42?"}, expect=202)
    web.clock.advance(60)
    cid = await web.chat("telegram:777", "I wrote you an e-mail")
    assert web.desk.holders(cid) == {"anna"}  # the responsible person first
    offer = (await web.workspace("anna"))["offers"][0]
    assert [(line["channel_name"], line["subject"], line["text"]) for line in offer["thread"]] == [
        ("e-mail", "Order 42", "Where is order 42?"), ("chat", "", "I wrote you an e-mail")]
    assert offer["card"]["name"] == "Mia Wong" and offer["card"]["owner"] == "Anna Berg"
    assert [c["channel"] for c in offer["card"]["chats"]] == ["e-mail"]


async def test_the_workspace_api_is_described_with_its_errors(web: Web) -> None:
    paths = (await web.http.get("/openapi.json")).json()["paths"]
    assert {"401", "403", "404", "422"} <= set(paths["/api/workspace"]["get"]["responses"])
    assert "application/json" in paths["/api/workspace/stream"]["get"]["responses"]["403"]["content"]
    assert "reason" in str(paths["/api/channels/agents/{agent_id}/break/start"]["post"])


async def test_an_agent_without_a_work_schedule_is_told_clocking_changes_nothing(web: Web) -> None:
    config = web.desk.config
    web.desk.reconfigure(replace(config, agents={**config.agents, "chloe": replace(config.agents["chloe"],
                                                                                  schedule=None)}))
    state = await web.workspace("chloe")
    assert state["work"]["words"] == "working (no work schedule: always available)"
    assert state["work"]["tracked"] is False
