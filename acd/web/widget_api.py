"""The website chat widget over HTTP: the script a site embeds, and the public API it
calls from the site's pages (cross-origin).

    <script src="https://acd.example/widget.js" data-channel="site" async></script>

  GET  /widget.js                               the chat window (plain JS, served by acd)
  POST /widget/{channel}/visitors               a new visitor token
  POST /widget/{channel}/messages {text}        the visitor writes (header X-ACD-Visitor)
  GET  /widget/{channel}/messages?after=&conversation=&wait=
                                                the thread after a line id; waits up to
                                                ``wait`` seconds for a new line (long poll)

Only chat queues with ``[channels.widget]`` answer (any other channel: 404), and only
to the sites its ``allowed_origins`` name (CORS, preflight included; any other Origin,
or none, is 403). A message past the channel's ``max_message_chars`` is 413; past the
visitor's or the address's messages per minute, or the address's new visitors per
minute, 429 with Retry-After. Texts are stored and returned as they were written: the
script shows them with ``textContent``, so HTML in a message is text.

The service installs it with ``WidgetApi``: its routes, and ``answer_early`` for the
calls to ``/widget/{channel}/messages`` (see there).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..channels import widget
from ..channels.desk import Desk, DeskError
from ..config import Settings
from ..connector_settings import WidgetSettings
from .limits import read_bounded
from .openapi import Message
from .pages import WEBUI

SCRIPT = WEBUI / "static" / "widget.js"
VISITOR_HEADER = "X-ACD-Visitor"
WAIT_MAX_S = 30.0
THEIRS_KEPT = 100_000  # visitors' conversations remembered (the oldest forgotten: asked again)


WHY = {
    401: "No visitor token (X-ACD-Visitor), or not one acd issues",
    403: "The page's site (Origin) is not among the channel's allowed_origins",
    404: "No chat queue with [channels.widget] of this id",
    413: "The message is longer than the channel's max_message_chars",
    422: 'The body is not {"text": "..."} with some text',
    429: "Too many messages or new visitors: wait Retry-After seconds",
}


def _answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Message, "description": WHY[code]} for code in codes}


class _Limits:
    def __init__(self, w: WidgetSettings) -> None:
        self.shape = _shape(w)
        self.visitor = widget.RateLimit(w.visitor_messages_per_minute)
        self.address = widget.RateLimit(w.address_messages_per_minute)
        self.new_visitors = widget.RateLimit(w.new_visitors_per_minute)


def _shape(w: WidgetSettings) -> tuple[int, int, int]:
    return w.visitor_messages_per_minute, w.address_messages_per_minute, w.new_visitors_per_minute


class _Refused(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        self.status, self.detail, self.headers = status, detail, headers or {}


# the thread's query, as FastAPI's Query() below checks it; anything else goes to the route
_AFTER = re.compile(r"^[0-9]{1,18}$")  # below 2**63: the database's largest line id
_WAIT = re.compile(r"^[0-9]{1,2}(\.[0-9]{1,6})?$")
_MESSAGES = re.compile(r"^/widget/([^/]+)/messages$")


class WidgetApi:
    """The widget's routes and what they share: the channels' rate limits, the long
    polls waiting (``widget.Waiters``) and the visitors' past conversations.

    ``answer_early`` serves the calls a page makes all the time (its long poll, its
    messages, their CORS preflight) before the app's routing: finding the route and
    solving its parameters cost FastAPI more than the widget's own work (issue 16),
    and every visitor's page polls. The routes stay, for the API's description and
    for a query the early path does not take as it stands (FastAPI's 422 then)."""

    def __init__(self, desk: Desk, settings: Callable[[], Settings]) -> None:
        self.desk, self.settings = desk, settings
        self.waiters = widget.Waiters()
        desk.on_written.append(self.waiters.written)
        self._limits: dict[str, _Limits] = {}
        # conversation -> the visitor it is theirs: a page keeps polling a closed one
        # (to show its last lines), and its client never changes: asked once, not per poll
        self._theirs: dict[str, str] = {}

    # ------------------------------------------------------------------ the checks
    def _channel_widget(self, channel: str) -> WidgetSettings:
        found = next((c for c in self.settings().channels if c.id == channel), None)
        if found is None or found.widget is None:
            raise _Refused(404, f"no website chat {channel!r}")
        return found.widget

    def _limits_of(self, channel: str, w: WidgetSettings) -> _Limits:
        current = self._limits.get(channel)
        if current is None or current.shape != _shape(w):
            current = self._limits[channel] = _Limits(w)
        return current

    @staticmethod
    def _visitor(request: Request) -> str:
        client = widget.visitor_client(request.headers.get(VISITOR_HEADER, ""))
        if client is None:
            raise _Refused(401, f"no visitor token ({VISITOR_HEADER}): ask /visitors for one")
        return client

    @staticmethod
    def _limit(rate: widget.RateLimit, key: str) -> None:
        wait = rate.take(key)
        if wait is not None:
            raise _Refused(429, "too many messages: wait a moment", {"Retry-After": str(int(wait + 0.999))})

    @staticmethod
    def _address(request: Request) -> str:
        return request.client.host if request.client else "?"

    async def _handled(self, request: Request, channel: str, work: Callable[[str, WidgetSettings], Any]) -> Response:
        origin = None
        try:
            w = self._channel_widget(channel)
            origin = request.headers.get("origin", "")
            if origin.lower() not in w.allowed_origins:
                origin = None
                raise _Refused(403, "this chat is not offered on this site (origin not allowed)")
            status, body = await work(origin, w)
            return _answer(origin, status, body)
        except _Refused as e:
            return _answer(origin, e.status, {"detail": e.detail}, e.headers)
        except DeskError as e:
            return _answer(origin, e.status, {"detail": str(e)})
        except HTTPException as e:  # the app's body limit: the page may read why too
            return _answer(origin, e.status_code, {"detail": e.detail}, dict(e.headers or {}))

    # ------------------------------------------------------------------ the calls
    async def preflight(self, channel: str, request: Request) -> Response:
        async def work(origin: str, w: WidgetSettings) -> tuple[int, dict[str, Any]]:
            if request.headers.get("access-control-request-method", "GET") not in ("GET", "POST"):
                raise _Refused(405, "only GET and POST")
            return 204, {}
        response = await self._handled(request, channel, work)
        if response.status_code == 204:
            response = Response(status_code=204, headers={
                **{k: v for k, v in response.headers.items() if k.lower() != "content-length"},
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": f"Content-Type, {VISITOR_HEADER}",
                "Access-Control-Max-Age": "600"})
        return response

    async def new_visitor(self, channel: str, request: Request) -> Response:
        async def work(origin: str, w: WidgetSettings) -> tuple[int, dict[str, Any]]:
            self._limit(self._limits_of(channel, w).new_visitors, self._address(request))
            return 201, {"visitor": widget.new_visitor()}
        return await self._handled(request, channel, work)

    async def write(self, channel: str, request: Request) -> Response:
        async def work(origin: str, w: WidgetSettings) -> tuple[int, dict[str, Any]]:
            client = self._visitor(request)
            text = await _text(request, w.max_message_chars)
            rates = self._limits_of(channel, w)
            self._limit(rates.visitor, client)
            self._limit(rates.address, self._address(request))
            cid, new = await self.desk.chat_message(channel, client, text)
            if new:  # another tab of the visitor's may wait for it (its lines wake the conversation)
                self.waiters.wake(client)
            return 202, {"conversation": cid, "new": new}
        return await self._handled(request, channel, work)

    async def read(self, channel: str, request: Request, after: int, conversation: str | None,
                   wait: float) -> Response:
        desk, waiters = self.desk, self.waiters

        async def work(origin: str, w: WidgetSettings) -> tuple[int, dict[str, Any]]:
            client = self._visitor(request)
            known: str | None = None  # a conversation of theirs the page still shows (closed since?)
            if conversation and (conversation == desk.open_conversation(channel, client)
                                 or await self._theirs_is(conversation, client)):
                known = conversation

            def watched() -> list[str]:
                current = desk.open_conversation(channel, client)
                return [c for c in dict.fromkeys((known, current)) if c]

            async def new_lines() -> list[dict[str, Any]]:
                keys = watched()
                if waiters.nothing_new(client, after, keys):
                    return []  # nothing of theirs committed since their last read: no need to ask
                wakes = waiters.wakes
                found = await asyncio.to_thread(widget.thread, desk.history.engine, keys, after)
                waiters.read(client, wakes, found[-1]["id"] if found else after, keys)
                return found

            with waiters.watching([*watched(), client]) as woken:
                lines = await new_lines()
                if not lines and wait > 0 and not await _waited(request, woken, wait):
                    return 200, {"conversation": None, "open": False, "messages": [], "last": after}  # nobody reads it
                if not lines and woken.done():
                    lines = await new_lines()
            current = desk.open_conversation(channel, client)
            return 200, {"conversation": current or known, "open": current is not None, "messages": lines,
                         "last": lines[-1]["id"] if lines else after}
        return await self._handled(request, channel, work)

    async def _theirs_is(self, conversation: str, client: str) -> bool:
        owner = self._theirs.get(conversation)
        if owner is None:
            if not await asyncio.to_thread(widget.belongs, self.desk.history.engine, conversation, client):
                return False  # not asked again only when it is theirs: it may not exist yet
            owner = self._theirs[conversation] = client
            if len(self._theirs) > THEIRS_KEPT:
                del self._theirs[next(iter(self._theirs))]
        return owner == client

    # ------------------------------------------------------------------ HTTP
    def router(self) -> APIRouter:
        api = APIRouter(tags=["website chat widget"])

        @api.get("/widget.js", include_in_schema=False)
        async def script() -> FileResponse:
            return FileResponse(SCRIPT, media_type="text/javascript; charset=utf-8",
                                headers={"Cache-Control": "public, max-age=300"})

        @api.options("/widget/{channel}/{rest:path}", include_in_schema=False)
        async def preflight(channel: str, rest: str, request: Request) -> Response:
            return await self.preflight(channel, request)

        @api.post("/widget/{channel}/visitors", status_code=201, responses=_answers(403, 404, 429),
                  summary="A new visitor token (keep it in the site's localStorage)")
        async def new_visitor(channel: str, request: Request) -> Response:
            return await self.new_visitor(channel, request)

        @api.post("/widget/{channel}/messages", status_code=202, responses=_answers(401, 403, 404, 413, 422, 429),
                  summary="The visitor writes: their conversation, or a new one")
        async def write(channel: str, request: Request) -> Response:
            return await self.write(channel, request)

        @api.get("/widget/{channel}/messages", responses=_answers(401, 403, 404),
                 summary="The visitor's thread after a line id (long poll)")
        async def read(channel: str, request: Request, after: int = Query(0, ge=0),
                       conversation: str | None = Query(None, max_length=100),
                       wait: float = Query(0.0, ge=0.0, le=WAIT_MAX_S)) -> Response:
            return await self.read(channel, request, after, conversation, wait)

        return api

    def answer_early(self, app: FastAPI) -> None:
        """Serve the pages' usual calls before ``app``'s routing; call it once the app's
        own middlewares are added: this one goes inside them (body limit, headers)."""
        app.user_middleware.append(Middleware(AnswerEarly, api=self))

    async def early(self, channel: str, scope: Scope, receive: Receive) -> Response | None:
        """The answer to a call to ``/widget/{channel}/messages``, or None for the route."""
        method = scope["method"]
        if method == "POST":
            return await self.write(channel, Request(scope, receive))
        if method == "OPTIONS":
            return await self.preflight(channel, Request(scope, receive))
        if method != "GET":
            return None
        query = QueryParams(scope["query_string"])
        after, conversation, wait = query.get("after", "0"), query.get("conversation"), query.get("wait", "0")
        if not _AFTER.match(after) or not _WAIT.match(wait) or float(wait) > WAIT_MAX_S or (
                conversation is not None and len(conversation) > 100):
            return None  # FastAPI says what is wrong (422)
        return await self.read(channel, Request(scope, receive), int(after), conversation, float(wait))


class AnswerEarly:
    def __init__(self, app: ASGIApp, api: WidgetApi) -> None:
        self.app, self.api = app, api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            path = _MESSAGES.match(scope["path"])
            answer = await self.api.early(path.group(1), scope, receive) if path else None
            if answer is not None:
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def widget_router(desk: Desk, settings: Callable[[], Settings]) -> APIRouter:
    """The widget's routes alone (without ``WidgetApi.answer_early``)."""
    return WidgetApi(desk, settings).router()


def _answer(origin: str | None, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> JSONResponse:
    out = {"Cache-Control": "no-store", "Vary": "Origin", **(headers or {})}
    if origin:
        out["Access-Control-Allow-Origin"] = origin
    return JSONResponse(body, status, headers=out)


async def _waited(request: Request, woken: asyncio.Future[None], wait: float) -> bool:
    """Wait up to ``wait`` seconds for ``woken``; False as soon as the visitor's
    connection closes (the page was left or reloaded): the poll ends then rather than
    holding its waiter, and the service's shutdown, for the rest of ``wait``."""
    async def gone() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass  # the (empty) body of the GET

    leaving = asyncio.ensure_future(gone())
    try:
        await asyncio.wait((woken, leaving), timeout=wait, return_when=asyncio.FIRST_COMPLETED)
    finally:
        leaving.cancel()
    return not (leaving.done() and not leaving.cancelled())


async def _text(request: Request, max_chars: int) -> str:
    """The message's text: 413 past ``max_chars`` (the body is read no further than
    its bound), 422 when the body is not ``{"text": "..."}``."""
    bound = max_chars * 4 + 1024  # UTF-8 and JSON escapes
    raw = await read_bounded(request, bound, lambda: _Refused(
        413, f"the message is longer than {max_chars} characters"))
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise _Refused(422, 'not a JSON body: send {"text": "..."}') from None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise _Refused(422, "text: write something")
    if len(text) > max_chars:
        raise _Refused(413, f"the message is longer than {max_chars} characters")
    return text

