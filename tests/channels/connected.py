"""The desk with its customer-facing connectors, on the real clock (no tests in this file).

``FakeBotApi`` is a local stand-in for Telegram's Bot API (``getUpdates`` with offset
and long-polling timeout, ``sendMessage`` with an optional 429), served by uvicorn on
127.0.0.1 on a port the system picks; ``stop``/``start`` take it away and bring it
back on the same port (connections refused meanwhile).

``Connected`` is the desk (``Desk.from_settings``: its outgoing routes), the outbox
sender with the channels' connectors and a quick back-off, the Telegram pollers, and
the channels' and widget's APIs in one app, with an httpx client over ASGI.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from acd.channels import Desk, customer_connectors, telegram_pollers
from acd.clock import Clock
from acd.config import Settings
from acd.crm.models import OutboxJob, create_all
from acd.crm.sender import Backoff, OutboxSender
from acd.store import make_engine
from acd.web.channels_api import channels_router
from acd.web.security import use_accounts
from acd.web.telegram_webhook import telegram_webhook_router
from acd.web.widget_api import WidgetApi

from .support import accounts

TOKEN_ENV, TOKEN = "TEST_TELEGRAM_TOKEN", "123456:SECRET-bot-token"


async def until(condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "the condition") -> Any:
    """Poll ``condition`` until it is truthy (no fixed sleeps: it returns as soon as it holds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class FakeBotApi:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.asked_offsets: list[int | None] = []
        self.too_many: int = 0  # answer this many sendMessage with 429 first
        self.blocked: set[int] = set()  # chats whose user blocked the bot (403)
        self.requests: list[str] = []  # paths as they came (the token in them)
        self._new = asyncio.Event()
        self._next_update = 1
        self._next_message = 100
        self.app = self._make_app()
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write(self, chat_id: int, text: str | None, **message: Any) -> int:
        """A Telegram user writes to the bot."""
        update_id = self._next_update
        self._next_update += 1
        body: dict[str, Any] = {"message_id": update_id, "chat": {"id": chat_id, "type": "private"}, **message}
        if text is not None:
            body["text"] = text
        self.updates.append({"update_id": update_id, "message": body})
        self._new.set()
        return update_id

    def _make_app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/bot{token}/{method}", methods=["GET", "POST"])
        async def bot(token: str, method: str, request: Request) -> JSONResponse:
            self.requests.append(request.url.path)
            if token != self.token:
                return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
            if method == "getUpdates":
                offset = request.query_params.get("offset")
                self.asked_offsets.append(int(offset) if offset else None)
                wanted = int(offset) if offset else 0
                timeout = float(request.query_params.get("timeout", "0"))
                found = [u for u in self.updates if u["update_id"] >= wanted]
                if not found and timeout:
                    self._new.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._new.wait(), timeout)
                    found = [u for u in self.updates if u["update_id"] >= wanted]
                return JSONResponse({"ok": True, "result": found})
            if method == "sendMessage":
                body = await request.json()
                if body["chat_id"] in self.blocked:
                    return JSONResponse({"ok": False, "error_code": 403,
                                         "description": "Forbidden: bot was blocked by the user"}, 403)
                if self.too_many:
                    self.too_many -= 1
                    return JSONResponse({"ok": False, "error_code": 429, "description": "Too Many Requests",
                                         "parameters": {"retry_after": 1}}, 429)
                self._next_message += 1
                self.sent.append(body)
                return JSONResponse({"ok": True, "result": {"message_id": self._next_message,
                                                            "chat": {"id": body["chat_id"]}, "text": body["text"]}})
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)

        return app

    async def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off"))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        await until(lambda: self._server is not None and self._server.started, what="the fake Bot API")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._new.set()  # a long poll under way ends now
            await self._task
            self._server = self._task = None


class Connected:
    def __init__(self, config: Settings, db_url: str, *, clock: Any = None) -> None:
        self.settings = config
        self.clock = clock or Clock()
        self.engine = make_engine(db_url)
        create_all(self.engine)  # the outbox's table (the service's migrations make it)
        self.desk = Desk.from_settings(config, self.engine, self.clock)
        self.sender = OutboxSender(self.engine, customer_connectors(config), now=self.clock.now, poll_s=0.2,
                                   backoff=Backoff(base_s=0.05, cap_s=0.3), max_attempts=100, rng=random.Random(1))
        self.desk.on_written.append(lambda batch: self.sender.wake() if batch.outgoing else None)
        self.pollers = telegram_pollers(config, self.desk)
        for poller in self.pollers:
            poller.retry_s = 0.05
        self.app = FastAPI()
        self.app.include_router(channels_router(self.desk))
        self.widget = WidgetApi(self.desk, lambda: self.settings)
        self.app.include_router(self.widget.router())
        self.widget.answer_early(self.app)  # as the service serves the pages' calls
        self.app.include_router(telegram_webhook_router(self.desk, lambda: self.settings))
        acc, self.tokens = accounts()
        use_accounts(self.app, acc)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app, client=("203.0.113.7", 5000)),
                                      base_url="http://acd")
        self._tasks: list[asyncio.Task[Any]] = []

    async def __aenter__(self) -> Connected:
        await self.desk.start()
        self._tasks = [asyncio.create_task(self.desk.run()), asyncio.create_task(self.sender.run()),
                       *(asyncio.create_task(p.run()) for p in self.pollers)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks[1:]:
            task.cancel()
        await self.desk.close()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.aclose()
        self.engine.dispose()

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def api(self, method: str, path: str, body: Any = None, as_: str = "boss", expect: int = 200) -> Any:
        response = await self.http.request(method, f"/api/channels{path}", json=body, headers=self.headers(as_))
        assert response.status_code == expect, response.text
        return response.json()

    def jobs(self, event: str | None = None) -> list[OutboxJob]:
        with Session(self.engine) as session:
            stmt = select(OutboxJob).order_by(OutboxJob.id)
            return [j for j in session.scalars(stmt) if event is None or j.event == event]
