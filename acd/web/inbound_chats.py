"""Clients' chat messages from integrations (POST /api/channels/inbound/chat),
answered before FastAPI's routing.

Integrations post every message of every client there, so what one request costs is
what one chat costs the service (issue 16: 2,500 chats/s). Finding the route among
the app's and solving its dependencies cost more than the chat itself; this pure ASGI
middleware answers the usual request with the route's own code
(``channels_api.take_chat``): one whose Bearer token is a user's with
``open_channels``, checked within ``TOKEN_CACHE_S`` (``Accounts.cached_token_user``:
no I/O) or checked here (``Accounts.check_token``: one database read for all the
requests that come together with it; at a start, and every ``TOKEN_CACHE_S``, an
integration's requests in flight waited for the route instead, and the first of them
for FastAPI building its routes' tables, 30-60 ms).

Every other request goes on to the route, which answers it as it always did: a
session cookie (CSRF), no or an unknown token, a user without the permission (401,
403). The route stays for them and for the API's description (/docs).

The answers are the route's: ``parsed`` and ``take_chat`` raise the same
``HTTPException`` (413, 422, 404, 503) and the app's own handler for it answers, as the
route's would. It is the innermost of the app's middlewares (``install``), inside
``BodyLimit`` and ``SecurityHeaders``, so bodies are limited and answers marked as for
any request. The body is read from ``receive`` and the answer sent as two ASGI messages
by hand: Starlette's ``Request`` (its headers, its body stream) and ``JSONResponse``
cost as much as the rest of the HTTP path here.
"""

from __future__ import annotations

import inspect

import orjson
from fastapi import FastAPI
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..channels.desk import Desk
from .channels_api import OPEN_CHANNELS, ChatIn, body_too_large, parsed, take_chat
from .limits import MAX_BODY

PATH = "/api/channels/inbound/chat"


def install(app: FastAPI, desk: Desk) -> None:
    """Answer the app's inbound chats early; call it after the app's own middlewares
    are added (``create_app``): this one goes inside them."""
    app.user_middleware.append(Middleware(InboundChats, desk=desk))


class InboundChats:
    def __init__(self, app: ASGIApp, desk: Desk) -> None:
        self.app, self.desk = app, desk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = await _integration(scope) if (scope["type"] == "http" and scope["path"] == PATH
                                                 and scope["method"] == "POST" and not scope.get("root_path")) else None
        if declared is None:
            await self.app(scope, receive, send)
            return
        try:
            answer = await take_chat(self.desk, parsed(await _body(receive, declared), ChatIn))
        except HTTPException as e:
            request = Request(scope, receive)
            await (await _handled(request, e))(scope, receive, send)
            return
        body = orjson.dumps(answer)  # as JSONResponse renders it: compact, UTF-8
        await send({"type": "http.response.start", "status": 202,
                    "headers": [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


async def _integration(scope: Scope) -> bytes | None:
    """The request's declared Content-Length (b"" when none) when its Bearer token is
    a user's who may post chats (as ``security.current_user`` and ``require`` read it);
    None otherwise."""
    authorization, declared = None, b""
    for name, value in scope["headers"]:  # the first of each, as Starlette's Headers.get
        if name == b"authorization" and authorization is None:
            authorization = value
        elif name == b"content-length" and not declared:
            declared = value
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    accounts = getattr(scope["app"].state, "accounts", None)
    if scheme.lower() != "bearer" or not token.strip() or accounts is None:
        return None
    user = accounts.cached_token_user(token.strip()) or await accounts.check_token(token.strip())
    return declared if user is not None and user.can(OPEN_CHANNELS) else None


async def _body(receive: Receive, declared: bytes) -> bytes:
    """The body, as the route reads it (``limits.read_bounded``): 413 past ``MAX_BODY``
    by its declared length or as it comes in."""
    if declared.isdigit() and (len(declared) > 15 or int(declared) > MAX_BODY):
        raise body_too_large()
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise body_too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


async def _handled(request: Request, exc: HTTPException) -> Response:
    """The app's answer to ``exc``, from its handlers as Starlette picks them (by status,
    then by class)."""
    handlers = request.app.exception_handlers
    handler = handlers.get(exc.status_code) or next(
        (handlers[cls] for cls in type(exc).__mro__ if cls in handlers), http_exception_handler)
    response = handler(request, exc)
    return await response if inspect.isawaitable(response) else response  # type: ignore[no-any-return]
