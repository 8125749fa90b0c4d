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
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

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
        self.shape = (w.visitor_messages_per_minute, w.address_messages_per_minute, w.new_visitors_per_minute)
        self.visitor = widget.RateLimit(w.visitor_messages_per_minute)
        self.address = widget.RateLimit(w.address_messages_per_minute)
        self.new_visitors = widget.RateLimit(w.new_visitors_per_minute)


class _Refused(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        self.status, self.detail, self.headers = status, detail, headers or {}


def widget_router(desk: Desk, settings: Callable[[], Settings]) -> APIRouter:
    api = APIRouter(tags=["website chat widget"])
    waiters = widget.Waiters()
    desk.on_written.append(waiters.written)
    limits: dict[str, _Limits] = {}

    def channel_widget(channel: str) -> WidgetSettings:
        found = next((c for c in settings().channels if c.id == channel), None)
        if found is None or found.widget is None:
            raise _Refused(404, f"no website chat {channel!r}")
        return found.widget

    def limits_of(channel: str, w: WidgetSettings) -> _Limits:
        current = limits.get(channel)
        if current is None or current.shape != _Limits(w).shape:
            current = limits[channel] = _Limits(w)
        return current

    def allowed(request: Request, w: WidgetSettings) -> str:
        origin = request.headers.get("origin", "")
        if origin.lower() not in w.allowed_origins:
            raise _Refused(403, "this chat is not offered on this site (origin not allowed)")
        return origin

    def visitor(request: Request) -> str:
        client = widget.visitor_client(request.headers.get(VISITOR_HEADER, ""))
        if client is None:
            raise _Refused(401, f"no visitor token ({VISITOR_HEADER}): ask /visitors for one")
        return client

    def answer(origin: str | None, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
               ) -> JSONResponse:
        out = {"Cache-Control": "no-store", "Vary": "Origin", **(headers or {})}
        if origin:
            out["Access-Control-Allow-Origin"] = origin
        return JSONResponse(body, status, headers=out)

    async def handled(request: Request, channel: str, work: Callable[[str, WidgetSettings], Any]) -> Response:
        origin = None
        try:
            w = channel_widget(channel)
            origin = allowed(request, w)
            status, body = await work(origin, w)
            return answer(origin, status, body)
        except _Refused as e:
            return answer(origin, e.status, {"detail": e.detail}, e.headers)
        except DeskError as e:
            return answer(origin, e.status, {"detail": str(e)})

    def limit(rate: widget.RateLimit, key: str) -> None:
        wait = rate.take(key)
        if wait is not None:
            raise _Refused(429, "too many messages: wait a moment", {"Retry-After": str(int(wait + 0.999))})

    def address(request: Request) -> str:
        return request.client.host if request.client else "?"

    @api.get("/widget.js", include_in_schema=False)
    async def script() -> FileResponse:
        return FileResponse(SCRIPT, media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "public, max-age=300"})

    @api.options("/widget/{channel}/{rest:path}", include_in_schema=False)
    async def preflight(channel: str, rest: str, request: Request) -> Response:
        async def work(origin: str, w: WidgetSettings) -> tuple[int, dict[str, Any]]:
            if request.headers.get("access-control-request-method", "GET") not in ("GET", "POST"):
                raise _Refused(405, "only GET and POST")
            return 204, {}
        response = await handled(request, channel, work)
        if response.status_code == 204:
            response = Response(status_code=204, headers={
                **{k: v for k, v in response.headers.items() if k.lower() != "content-length"},
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": f"Content-Type, {VISITOR_HEADER}",
                "Access-Control-Max-Age": "600"})
        return response

    @api.post("/widget/{channel}/visitors", status_code=201, responses=_answers(403, 404, 429),
              summary="A new visitor token (keep it in the site's localStorage)")
    async def new_visitor(channel: str, request: Request) -> Response:
        async def work(origin: str, w: WidgetSettings) -> tuple[int, dict[str, Any]]:
            limit(limits_of(channel, w).new_visitors, address(request))
            return 201, {"visitor": widget.new_visitor()}
        return await handled(request, channel, work)

    @api.post("/widget/{channel}/messages", status_code=202, responses=_answers(401, 403, 404, 413, 422, 429),
              summary="The visitor writes: their conversation, or a new one")
    async def write(channel: str, request: Request) -> Response:
        async def work(origin: str, w: WidgetSettings) -> tuple[int, dict[str, Any]]:
            client = visitor(request)
            text = await _text(request, w.max_message_chars)
            rates = limits_of(channel, w)
            limit(rates.visitor, client)
            limit(rates.address, address(request))
            cid, new = await desk.chat_message(channel, client, text)
            waiters.wake(client)  # another tab of the visitor's may wait for this new conversation
            return 202, {"conversation": cid, "new": new}
        return await handled(request, channel, work)

    @api.get("/widget/{channel}/messages", responses=_answers(401, 403, 404),
             summary="The visitor's thread after a line id (long poll)")
    async def read(channel: str, request: Request, after: int = Query(0, ge=0),
                   conversation: str | None = Query(None, max_length=100),
                   wait: float = Query(0.0, ge=0.0, le=WAIT_MAX_S)) -> Response:
        async def work(origin: str, w: WidgetSettings) -> tuple[int, dict[str, Any]]:
            client = visitor(request)
            engine = desk.history.engine
            known: str | None = None  # a conversation of theirs the page still shows (closed since?)
            if conversation and (conversation == desk.open_conversation(channel, client)
                                 or await asyncio.to_thread(widget.belongs, engine, conversation, client)):
                known = conversation

            def watched() -> list[str]:
                current = desk.open_conversation(channel, client)
                return [c for c in dict.fromkeys((known, current)) if c]

            async def new_lines() -> list[dict[str, Any]]:
                keys = watched()
                if waiters.nothing_new(client, after, keys):
                    return []  # nothing of theirs committed since their last read: no need to ask
                wakes = waiters.wakes
                found = await asyncio.to_thread(widget.thread, engine, keys, after)
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
        return await handled(request, channel, work)

    return api


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

