"""The website chat widget's API end to end: a visitor token, the customer's messages
entering the queue, the agent's reply arriving on a waiting long poll, the thread
surviving a reload and a restart; CORS for allowed sites only, size and rate limits,
HTML kept as text, unknown channels."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi.responses import JSONResponse

from acd.channels import widget
from acd.channels.widget import Waiters
from acd.config import Settings
from acd.web.widget_api import AnswerEarly

from .connected import Connected
from .support import chat, settings

SHOP = "https://shop.example"


def widget_settings(**limits: Any) -> Settings:
    return settings(chat("site", idle_seconds="never",
                         widget={"allowed_origins": [SHOP, "http://localhost:8080"], **limits}),
                    chat("phone-chat", idle_seconds="never"))


class Visitor:
    def __init__(self, service: Connected, channel: str = "site", origin: str = SHOP) -> None:
        self.http, self.channel, self.origin = service.http, channel, origin
        self.token = ""

    def headers(self) -> dict[str, str]:
        return {"Origin": self.origin, **({"X-ACD-Visitor": self.token} if self.token else {})}

    async def arrive(self) -> Visitor:
        response = await self.http.post(f"/widget/{self.channel}/visitors", headers=self.headers())
        assert response.status_code == 201, response.text
        self.token = response.json()["visitor"]
        return self

    async def write(self, text: str, expect: int = 202, **kw: Any) -> httpx.Response:
        response = await self.http.post(f"/widget/{self.channel}/messages", json={"text": text},
                                        headers=self.headers(), **kw)
        assert response.status_code == expect, response.text
        return response

    async def read(self, after: int = 0, wait: float = 0, conversation: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"after": after, "wait": wait}
        if conversation:
            params["conversation"] = conversation
        response = await self.http.get(f"/widget/{self.channel}/messages", params=params, headers=self.headers())
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == self.origin
        return dict(response.json())


async def test_a_visitor_writes_an_agent_answers_and_the_reply_reaches_the_waiting_page(db_url: str) -> None:
    async with Connected(widget_settings(), db_url) as service:
        visitor = await Visitor(service).arrive()
        written = await visitor.write("<b>Hello</b> <script>alert(1)</script>")
        cid = written.json()["conversation"]
        assert written.headers["access-control-allow-origin"] == SHOP
        conversation = service.desk.conversation(cid) or {}
        assert (conversation["queue"], conversation["offered_to"]) == ("site", ["anna"])  # routed like any chat
        first = await visitor.read()
        assert [(m["from"], m["text"]) for m in first["messages"]] == \
            [("you", "<b>Hello</b> <script>alert(1)</script>")]  # as written: the page shows it as text
        waiting = asyncio.ensure_future(visitor.read(after=first["last"], wait=10, conversation=cid))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # the page waits for the agent
        await service.api("POST", f"/conversations/{cid}/accept", {"agent_id": "anna"}, as_="anna")
        await service.api("POST", f"/conversations/{cid}/answer", {"text": "Hi! How can I help?"}, as_="anna")
        reply = await asyncio.wait_for(waiting, 5)
        assert [(m["from"], m["text"]) for m in reply["messages"]] == [("agent", "Hi! How can I help?")]
        assert service.jobs() == []  # the widget reads the committed thread: no outbox job


async def test_a_reload_and_a_restart_keep_the_visitors_thread(db_url: str) -> None:
    config = widget_settings()
    async with Connected(config, db_url) as service:
        visitor = await Visitor(service).arrive()
        cid = (await visitor.write("first")).json()["conversation"]
        await service.api("POST", f"/conversations/{cid}/answer", {"text": "answer", "agent_id": "anna"})
        token = visitor.token
        other = await Visitor(service).arrive()
        await other.write("someone else")
    async with Connected(config, db_url) as restarted:
        reloaded = Visitor(restarted)
        reloaded.token = token  # the page reloads: the token comes back from localStorage
        thread = await reloaded.read()
        assert thread["conversation"] == cid and thread["open"]
        assert [(m["from"], m["text"]) for m in thread["messages"]] == [("you", "first"), ("agent", "answer")]
        assert (await reloaded.write("still me")).json() == {"conversation": cid, "new": False}
        stranger = Visitor(restarted)
        stranger.token = "x" * 43  # well formed, never issued: a visitor of its own, with nothing to read
        assert (await stranger.read(conversation=cid))["messages"] == []


async def test_only_the_allowed_sites_may_use_the_chat(db_url: str) -> None:
    async with Connected(widget_settings(), db_url) as service:
        ok = await service.http.options("/widget/site/messages", headers={
            "Origin": SHOP, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-acd-visitor"})
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == SHOP
        assert "POST" in ok.headers["access-control-allow-methods"]
        assert "X-ACD-Visitor" in ok.headers["access-control-allow-headers"]
        evil = await service.http.options("/widget/site/messages", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
        visitor = await Visitor(service).arrive()
        visitor.origin = "https://evil.example"
        refused = await visitor.write("hello", expect=403)
        assert "access-control-allow-origin" not in refused.headers
        no_origin = await service.http.post("/widget/site/visitors")
        assert no_origin.status_code == 403
        assert service.desk.live_conversations() == []


async def test_bad_input_is_a_clear_4xx_and_changes_nothing(db_url: str) -> None:
    async with Connected(widget_settings(max_message_chars=100), db_url) as service:
        visitor = await Visitor(service).arrive()
        too_long = await visitor.write("x" * 101, expect=413)
        assert "100 characters" in too_long.json()["detail"]
        assert too_long.headers["access-control-allow-origin"] == SHOP  # the page can read why
        huge = await service.http.post("/widget/site/messages", content=b'{"text": "' + b"y" * 10**6 + b'"}',
                                       headers={**visitor.headers(), "Content-Type": "application/json"})
        assert huge.status_code == 413
        await visitor.write("   ", expect=422)
        bad_json = await service.http.post("/widget/site/messages", content=b"{not json",
                                           headers=visitor.headers())
        assert bad_json.status_code == 422
        nobody = Visitor(service)
        assert (await nobody.write("who am I?", expect=401)).json()["detail"].startswith("no visitor token")
        for channel in ("nowhere", "phone-chat"):  # unknown, or a chat queue without a widget
            response = await service.http.post(f"/widget/{channel}/visitors", headers={"Origin": SHOP})
            assert response.status_code == 404
        assert service.desk.live_conversations() == []


async def test_a_visitor_or_an_address_writing_too_fast_gets_429(db_url: str) -> None:
    config = widget_settings(visitor_messages_per_minute=3, address_messages_per_minute=5, new_visitors_per_minute=3)
    async with Connected(config, db_url) as service:
        first = await Visitor(service).arrive()
        for n in range(3):
            await first.write(f"message {n}")
        limited = await first.write("one too many", expect=429)
        assert int(limited.headers["retry-after"]) >= 1
        second = await Visitor(service).arrive()
        await second.write("a")
        await second.write("b")
        await second.write("c from the same address", expect=429)  # the address's five are used up
        await Visitor(service).arrive()
        again = await service.http.post("/widget/site/visitors", headers={"Origin": SHOP})
        assert again.status_code == 429  # new visitors per address
        thread = await first.read()
        assert [m["text"] for m in thread["messages"]] == ["message 0", "message 1", "message 2"]


async def test_the_script_is_served_by_acd_and_loads_nothing_from_elsewhere(db_url: str) -> None:
    async with Connected(widget_settings(), db_url) as service:
        response = await service.http.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    code = response.text.split("*/", 1)[1]  # past the header comment
    assert "textContent" in code and "innerHTML" not in code
    assert "http" not in code  # no CDN, no font, no image: it works offline


async def test_a_long_poll_ends_when_the_visitor_leaves(db_url: str) -> None:
    # a page closed or reloaded while its long poll waits: the wait ends at once rather
    # than holding its waiter (and the service's shutdown) for the rest of ``wait``
    async with Connected(widget_settings(), db_url) as service:
        visitor = await Visitor(service).arrive()
        await visitor.write("hello")
        left = asyncio.Event()
        messages: list[dict[str, Any]] = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await left.wait()
            return {"type": "http.disconnect"}

        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": "/widget/site/messages", "raw_path": b"/widget/site/messages",
                 "query_string": b"after=1000000&wait=20", "root_path": "", "server": ("acd", 80),
                 "client": ("203.0.113.7", 5000),
                 "headers": [(k.lower().encode(), v.encode()) for k, v in visitor.headers().items()]}
        poll = asyncio.ensure_future(service.app(scope, receive, send))
        await asyncio.sleep(0.2)
        assert not poll.done()  # it waits: nothing new for the visitor
        left.set()
        await asyncio.wait_for(poll, 3)  # not the 20 s it asked to wait


async def test_many_visitors_waiting_at_once_each_get_their_reply(db_url: str) -> None:
    config = widget_settings(new_visitors_per_minute=1000, address_messages_per_minute=1000)
    async with Connected(config, db_url) as service:
        visitors = [await Visitor(service).arrive() for _ in range(40)]
        written = await asyncio.gather(*(v.write(f"question {n}") for n, v in enumerate(visitors)))
        cids = [w.json()["conversation"] for w in written]
        firsts = await asyncio.gather(*(v.read(conversation=c) for v, c in zip(visitors, cids, strict=True)))
        waiting = [asyncio.ensure_future(v.read(after=f["last"], wait=20, conversation=c))
                   for v, f, c in zip(visitors, firsts, cids, strict=True)]
        await asyncio.sleep(0.1)
        assert not any(w.done() for w in waiting)
        await asyncio.gather(*(  # the agents answer at once: the replies commit together (group commit)
            service.api("POST", f"/conversations/{cid}/answer",
                        {"text": f"answer {n}", "agent_id": (service.desk.conversation(cid) or {})["offered_to"][0]})
            for n, cid in enumerate(cids)))
        replies = await asyncio.wait_for(asyncio.gather(*waiting), 10)
        assert [[m["text"] for m in r["messages"]] for r in replies] == [[f"answer {n}"] for n in range(40)]


async def test_a_poll_asks_the_database_only_when_a_line_of_the_visitors_may_have_come() -> None:
    waiters = Waiters(max_keys=4)
    assert not waiters.nothing_new("v1", 0, ["c1"])  # never read: ask
    waiters.read("v1", waiters.wakes, 7, ["c1"])
    assert waiters.nothing_new("v1", 7, ["c1"])  # nothing woken since: the same answer
    assert not waiters.nothing_new("v1", 3, ["c1"])  # from elsewhere in the thread
    assert not waiters.nothing_new("v1", 7, ["c1", "c2"])  # another conversation of theirs
    started = waiters.wakes
    waiters.wake("c1")  # a line committed while the read ran: the read may have missed it
    waiters.read("v1", started, 7, ["c1"])
    assert not waiters.nothing_new("v1", 7, ["c1"])
    waiters.read("v1", waiters.wakes, 8, ["c1"])
    assert waiters.nothing_new("v1", 8, ["c1"])
    for n in range(5):  # past max_keys: the oldest are forgotten, and count as woken
        waiters.wake(f"other{n}")
    assert not waiters.nothing_new("v1", 8, ["c1"])


async def test_the_pages_calls_are_answered_before_the_apps_routing(db_url: str) -> None:
    # every page polls and writes all the time: the widget answers those calls itself
    # (FastAPI's routing and parameters cost more than the widget's own work), the
    # same answers as its routes give
    async with Connected(widget_settings(), db_url) as service:
        routed: list[str] = []

        async def routes(scope: Any, receive: Any, send: Any) -> None:  # the app's routing, here refusing
            routed.append(f"{scope['method']} {scope['path']}?{scope['query_string'].decode()}")
            await JSONResponse({"detail": "routed"}, 404)(scope, receive, send)

        early = httpx.AsyncClient(transport=httpx.ASGITransport(app=AnswerEarly(routes, service.widget),
                                                                client=("203.0.113.7", 5000)), base_url="http://acd")
        visitor = await Visitor(service).arrive()
        visitor.http = early
        preflight = await early.options("/widget/site/messages", headers={
            "Origin": SHOP, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == SHOP
        cid = (await visitor.write("hello")).json()["conversation"]
        thread = await visitor.read(conversation=cid)
        assert [(m["from"], m["text"]) for m in thread["messages"]] == [("you", "hello")]
        await visitor.write("x" * 5000, expect=413)
        assert routed == []
        # what the early path does not take as it stands goes to the routes
        odd = await early.get("/widget/site/messages", params={"after": "1.5"}, headers=visitor.headers())
        assert odd.json() == {"detail": "routed"}
        await early.post("/widget/site/visitors", headers=visitor.headers())
        assert routed == ["GET /widget/site/messages?after=1.5", "POST /widget/site/visitors?"]
        visitor.origin = "https://evil.example"
        assert "access-control-allow-origin" not in (await visitor.write("hi", expect=403)).headers
        await early.aclose()


async def test_a_query_the_early_path_does_not_take_gets_fastapis_answer(db_url: str) -> None:
    async with Connected(widget_settings(), db_url) as service:
        visitor = await Visitor(service).arrive()
        for params in ({"after": "-1"}, {"after": "abc"}, {"wait": "31"}, {"wait": "nan"},
                       {"conversation": "c" * 101}):
            response = await service.http.get("/widget/site/messages", params=params, headers=visitor.headers())
            assert response.status_code == 422, params
        assert (await visitor.read(after=0, wait=0.001))["messages"] == []  # a plain one is answered


async def test_a_page_polling_its_closed_conversation_asks_the_database_once_whose_it_is(
        db_url: str, monkeypatch: Any) -> None:
    async with Connected(widget_settings(), db_url) as service:
        visitor = await Visitor(service).arrive()
        cid = (await visitor.write("hello")).json()["conversation"]
        await service.api("POST", f"/conversations/{cid}/close")
        asked: list[str] = []
        belongs = widget.belongs

        def counted(engine: Any, conversation: str, client: str) -> bool:
            asked.append(conversation)
            return belongs(engine, conversation, client)

        monkeypatch.setattr(widget, "belongs", counted)
        for _ in range(3):  # the page keeps showing it, and polls
            thread = await visitor.read(conversation=cid)
            assert (thread["conversation"], thread["open"]) == (cid, False)
            assert [m["text"] for m in thread["messages"]] == ["hello"]
        assert asked == [cid]
        stranger = Visitor(service)
        stranger.token = "y" * 43
        assert (await stranger.read(conversation=cid))["conversation"] is None  # not theirs: still refused
