"""Clients' chat messages from integrations (POST /api/channels/inbound/chat),
answered before FastAPI's routing.

Integrations post every message of every client there, so what one request costs is
what one chat costs the service (issue 16: 2,500 chats/s). Finding the route among
the app's and solving its dependencies cost more than the chat itself; this pure ASGI
middleware answers the usual request with the route's own code
(``channels_api.take_chat``): one whose Bearer token was checked within
``TOKEN_CACHE_S`` (``Accounts.cached_token_user``: no I/O) for a user with
``open_channels``.

Every other request goes on to the route, which answers it as it always did: a
session cookie (CSRF), no or an unknown token, one not checked lately (the database
is asked), a user without the permission (401, 403). The route stays for them and for
the API's description (/docs).

The answers are the route's: ``take_chat`` raises the same ``HTTPException`` (413,
422, 404, 503) and the app's own handler for it answers, as the route's would. It is
the innermost of the app's middlewares (``install``), inside ``BodyLimit`` and
``SecurityHeaders``, so bodies are limited and answers marked as for any request.
"""

from __future__ import annotations

import inspect

from fastapi import FastAPI
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..channels.desk import Desk
from .channels_api import OPEN_CHANNELS, take_chat

PATH = "/api/channels/inbound/chat"


def install(app: FastAPI, desk: Desk) -> None:
    """Answer the app's inbound chats early; call it after the app's own middlewares
    are added (``create_app``): this one goes inside them."""
    app.user_middleware.append(Middleware(InboundChats, desk=desk))


class InboundChats:
    def __init__(self, app: ASGIApp, desk: Desk) -> None:
        self.app, self.desk = app, desk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST"
                or scope.get("root_path") or not _integration(scope)):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        answer: Response
        try:
            answer = JSONResponse(await take_chat(self.desk, request), status_code=202)
        except HTTPException as e:
            answer = await _handled(request, e)
        await answer(scope, receive, send)


def _integration(scope: Scope) -> bool:
    """Whether the request's Bearer token was checked lately for a user who may post
    chats (as ``security.current_user`` and ``require`` read it)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            accounts = getattr(scope["app"].state, "accounts", None)
            if scheme.lower() != "bearer" or not token.strip() or accounts is None:
                return False
            user = accounts.cached_token_user(token.strip())
            return user is not None and bool(user.can(OPEN_CHANNELS))
    return False


async def _handled(request: Request, exc: HTTPException) -> Response:
    """The app's answer to ``exc``, from its handlers as Starlette picks them (by status,
    then by class)."""
    handlers = request.app.exception_handlers
    handler = handlers.get(exc.status_code) or next(
        (handlers[cls] for cls in type(exc).__mro__ if cls in handlers), http_exception_handler)
    response = handler(request, exc)
    return await response if inspect.isawaitable(response) else response  # type: ignore[no-any-return]
