"""An integration's chats are answered before FastAPI's routing once its token was
checked (``acd.web.inbound_chats``), the service's busiest request; the answers stay
the route's, whatever the request: the whole service (``acd.serve.Acd``) runs here,
with its pages' error handlers and security headers, and each request is sent twice,
once with the token checked lately (answered early) and once after the accounts
forgot it (the route answers and asks the database)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest

from acd.config import settings_from_dict
from acd.serve import Acd
from acd.web.accounts import Accounts
from acd.web.channels_api import MAX_BODY

PATH = "/api/channels/inbound/chat"


class Running:
    def __init__(self, acd: Acd, accounts: Accounts, tokens: dict[str, str], http: httpx.AsyncClient) -> None:
        self.acd, self.accounts, self.tokens, self.http = acd, accounts, tokens, http

    async def post(self, body: bytes, headers: dict[str, str], *, checked: bool) -> httpx.Response:
        """``checked``: the token was checked lately (else the accounts forgot every token)."""
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        if checked and token in self.tokens.values():
            assert self.accounts.token_user(token) is not None
        elif not checked:
            self.accounts.forget_tokens()
        return await self.http.post(PATH, content=body, headers={"Content-Type": "application/json", **headers})

    def bearer(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Running]:
    acd = Acd(settings_from_dict({
        "service": {"database": f"sqlite:///{tmp_path / 'acd.db'}"},
        "ami": {"host": "127.0.0.1", "port": 1, "secret": "unused", "simulate": "never"},
        "agents": [{"id": "anna", "endpoint": "PJSIP/101"}],
        "channels": [{"id": "web", "kind": "chat", "members": ["anna"], "idle_seconds": "never"},
                     {"id": "mail", "kind": "email", "members": ["anna"]}],
    }, "<test>"))
    accounts = acd.web_context.accounts
    assert accounts is not None
    tokens = {}
    for name, permissions in (("integration", {"open_channels"}), ("mailer", {"email"})):
        user = accounts.create_user(name, "correct horse battery", role="supervisor", permissions=permissions)
        tokens[name] = accounts.create_token(user.id, "test")
    task = asyncio.create_task(acd.run(http=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=acd.web), base_url="http://acd") as http:
        yield Running(acd, accounts, tokens, http)
    acd.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    acd.store.close()


def _routes_solved(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The requests whose route's dependencies FastAPI solved from now on (the route ran)."""
    solved: list[object] = []
    solve = fastapi.routing.solve_dependencies

    async def spy(*args: Any, **kwargs: Any) -> Any:
        solved.append(kwargs.get("request"))
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", spy)
    return solved


async def test_an_integrations_chat_is_answered_without_solving_the_routes_dependencies(
        service: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    solved = _routes_solved(monkeypatch)
    response = await service.post(b'{"queue": "web", "client": "tg:1", "text": "hello"}',
                                  service.bearer("integration"), checked=True)
    assert response.status_code == 202, response.text
    assert solved == []
    cid = response.json()["conversation_id"]
    assert service.acd.desk.load("anna") == 1  # offered
    # committed before the answer
    item = await asyncio.to_thread(service.acd.desk.history.item, cid)
    assert item is not None and item["client"] == "tg:1"


def _chat(client: str, **extra: Any) -> bytes:
    return json.dumps({"queue": "web", "client": client, "text": "hello", **extra}).encode()


# (what, body, user or headers): each sent with the token checked lately and not
CASES: list[tuple[str, bytes, str | dict[str, str]]] = [
    ("a first message", _chat("tg:{n}"), "integration"),
    ("a second message", _chat("tg:same"), "integration"),
    ("an unknown queue", b'{"queue": "viber", "client": "tg:1"}', "integration"),
    ("an e-mail queue", b'{"queue": "mail", "client": "tg:1"}', "integration"),
    ("no client", b'{"queue": "web", "text": "hi"}', "integration"),
    ("a blank client", b'{"queue": "web", "client": "   "}', "integration"),
    ("a field too many", _chat("tg:1", colour="red"), "integration"),
    ("a number for a text", b'{"queue": "web", "client": "tg:1", "text": 5}', "integration"),
    ("not JSON", b"{not json", "integration"),
    ("a JSON list", b"[1, 2]", "integration"),
    ("an empty body", b"", "integration"),
    ("a body too large", _chat("tg:1", text="x" * MAX_BODY), "integration"),
    ("a user without the permission", _chat("tg:1"), "mailer"),
    ("no token", _chat("tg:1"), {}),
    ("another scheme", _chat("tg:1"), {"Authorization": "Basic YTpi"}),
    ("an unknown token", _chat("tg:1"), {"Authorization": "Bearer not-a-token"}),
]


@pytest.mark.parametrize(("what", "body", "user"), CASES, ids=[c[0] for c in CASES])
async def test_the_early_answer_is_the_routes(service: Running, what: str, body: bytes,
                                               user: str | dict[str, str]) -> None:
    headers = service.bearer(user) if isinstance(user, str) else user
    answers = []
    for n, checked in enumerate((False, True)):
        if what == "a second message":
            await service.post(body, headers, checked=True)
        response = await service.post(body.replace(b"{n}", str(n).encode()), headers, checked=checked)
        shown = response.json()
        if response.status_code == 202:
            assert shown["conversation_id"].startswith("chat-")
            shown["conversation_id"] = "chat-..."
        answers.append((response.status_code, shown, sorted(response.headers.items())))
    route, early = answers
    assert early == route
    assert route[0] != 500
    assert ("x-frame-options", "DENY") in route[2]  # the pages' security headers, on every answer


async def test_a_body_past_the_limit_without_a_length_is_cut_off_while_read(service: Running) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"queue": "web", "client": "tg:1", "text": "'
        for _ in range(MAX_BODY // 4096 + 2):
            yield b"x" * 4096
        yield b'"}'

    assert service.accounts.token_user(service.tokens["integration"]) is not None
    response = await service.http.post(PATH, content=chunks(), headers={
        "Content-Type": "application/json", **service.bearer("integration")})
    assert response.status_code == 413
    assert "at most" in response.json()["detail"]
    assert service.acd.desk.router.conversations == {}


async def test_requests_that_come_together_with_a_token_not_checked_lately_ask_the_database_once(
        service: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restarted service (or every TOKEN_CACHE_S) gets an integration's 32 requests in
    flight at once: each asked the database, and each wrote the token's last use, racing
    for SQLite's write lock (the first answers took 150 ms, bench.http_assign's p99)."""
    checks: list[str] = []
    check = service.accounts.token_user

    def spy(token: str) -> Any:
        checks.append(token)
        return check(token)

    monkeypatch.setattr(service.accounts, "token_user", spy)
    service.accounts.forget_tokens()
    answers = await asyncio.gather(*(service.http.post(PATH, content=_chat(f"tg:{n}"), headers={
        "Content-Type": "application/json", **service.bearer("integration")}) for n in range(32)))
    assert [a.status_code for a in answers] == [202] * 32
    assert checks == [service.tokens["integration"]]
    assert service.acd.desk.load("anna") == 32



async def test_a_chat_with_a_token_not_checked_lately_is_answered_early_once_checked(
        service: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token is checked here (one check for the requests that come together), not
    by the route: at a start, and every TOKEN_CACHE_S, FastAPI's routing and the
    route's dependencies (30-60 ms of CPU at the first request, which builds the
    routes' tables) are not in an integration's way."""
    solved = _routes_solved(monkeypatch)
    response = await service.post(_chat("tg:1"), service.bearer("integration"), checked=False)
    assert response.status_code == 202, response.text
    assert solved == []
    assert service.acd.desk.load("anna") == 1
    # a user without the permission, and an unknown token, are the route's to answer
    assert (await service.post(_chat("tg:2"), service.bearer("mailer"), checked=False)).status_code == 403
    assert (await service.post(_chat("tg:3"), {"Authorization": "Bearer nope"}, checked=False)).status_code == 401
    assert len(solved) == 2
