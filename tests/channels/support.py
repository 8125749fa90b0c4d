"""The desk behind its HTTP API, on a clock the test moves (no tests in this file).

``FakeClock`` has the ``acd.clock.Clock`` interface the desk uses (``now``,
``call_later``, ``real``, ``sleep``); ``advance`` fires what falls due, in time order.
``Service`` is the desk, its router in a bare FastAPI app with real accounts and
Bearer tokens (``acd.web.security``), and an httpx client over ASGI; as in the
service, an integration's chats are answered before the routing once its token was
checked (``acd.web.inbound_chats``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session

from acd.channels import Desk, WorkCalendar
from acd.config import Settings, settings_from_dict
from acd.core.conversation_model import CreateLead, ReportConversationTransfer
from acd.crm.identity import Identity
from acd.store import make_engine
from acd.web.accounts import Accounts
from acd.web.channels_api import channels_router
from acd.web.inbound_chats import install as install_inbound_chats
from acd.web.security import use_accounts

MONDAY_10_UTC = datetime(2024, 3, 4, 10, 0, tzinfo=ZoneInfo("UTC")).timestamp()
AGENTS = ("anna", "boris", "clara", "dmitri")
PASSWORD = "correct horse battery"


def at(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


class _Handle:
    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when, self.callback, self.args, self.cancelled = when, callback, args, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    def __init__(self, start: float = MONDAY_10_UTC) -> None:
        self._now = start
        self._heap: list[tuple[float, int, _Handle]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay_s: float, callback: Callable[..., Any], *args: Any) -> _Handle:
        handle = _Handle(self._now + max(0.0, delay_s), callback, args)
        heapq.heappush(self._heap, (handle.when, next(self._seq), handle))
        return handle

    def real(self, delay_s: float) -> float:
        return delay_s

    async def sleep(self, delay_s: float) -> None:
        self.advance(delay_s)

    def advance(self, seconds: float) -> None:
        end = self._now + seconds
        while self._heap and self._heap[0][0] <= end + 1e-9:
            when, _, handle = heapq.heappop(self._heap)
            if not handle.cancelled:
                self._now = max(self._now, when)
                handle.callback(*handle.args)
        self._now = end

    def pending(self) -> int:
        return sum(1 for *_, h in self._heap if not h.cancelled)


def settings(*channels: dict[str, Any], agents: tuple[str, ...] = AGENTS,
             work: dict[str, dict[str, Any]] | None = None) -> Settings:
    work = work or {}
    data: dict[str, Any] = {
        "agents": [{"id": a, "endpoint": f"PJSIP/{101 + i}", **({"work": work[a]} if a in work else {})}
                   for i, a in enumerate(agents)],
        "channels": list(channels),
    }
    return settings_from_dict(data, "test")


def chat(id: str = "telegram", members: tuple[str, ...] = ("anna", "boris", "clara"), **kw: Any) -> dict[str, Any]:
    return {"id": id, "kind": "chat", "members": list(members), **kw}


class FakeCrm:
    """The CRM hook: records the changes the desk commits (when their transaction
    runs them); knows some owners."""

    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self.owners = owners or {}
        self.leads: list[CreateLead] = []
        self.transfers: list[tuple[ReportConversationTransfer, str | None]] = []

    def lead_change(self, command: CreateLead) -> Callable[[Session], None]:
        return lambda session: self.leads.append(command)

    def transfer_change(self, report: ReportConversationTransfer,
                        queue: str | None = None) -> Callable[[Session], None]:
        return lambda session: self.transfers.append((report, queue))

    async def owner_for(self, *identities: Identity, queue: str | None = None, budget_s: float = 0.2) -> str | None:
        return next((self.owners[i.value] for i in identities if i.value in self.owners), None)


_ACCOUNTS: dict[str, Any] = {}


def accounts() -> tuple[Accounts, dict[str, str]]:
    """One set of users and tokens for every test (argon2 makes users slow to create)."""
    if not _ACCOUNTS:
        acc = Accounts.in_memory()
        tokens: dict[str, str] = {}

        def add(name: str, role: str, permissions: set[str], agent_id: str | None = None) -> None:
            user = acc.create_user(name, PASSWORD, role=role, permissions=permissions, agent_id=agent_id)
            tokens[name] = acc.create_token(user.id, "test")

        add("integration", "supervisor", {"open_channels", "email", "crm_forms"})
        add("boss", "supervisor", {"open_channels", "email", "crm_forms", "agents"})
        add("mailer", "supervisor", {"email"})
        for agent in AGENTS:
            add(agent, "agent", {"open_channels"}, agent)
        _ACCOUNTS.update(accounts=acc, tokens=tokens)
    return _ACCOUNTS["accounts"], _ACCOUNTS["tokens"]


class Service:
    def __init__(self, config: Settings, db_url: str, clock: Any, *, crm: Any = None,
                 calendar: WorkCalendar | None = None) -> None:
        self.settings = config
        self.clock = clock
        self.engine = make_engine(db_url)
        self.desk = Desk(config.conversations(), self.engine, clock, crm=crm, calendar=calendar)
        self.app = FastAPI()
        self.app.include_router(channels_router(self.desk))
        install_inbound_chats(self.app, self.desk)  # as acd.serve does: chats of known tokens answered early
        acc, self.tokens = accounts()
        use_accounts(self.app, acc)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://acd")

    async def __aenter__(self) -> Service:
        await self.desk.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        await self.desk.close()
        await self.http.aclose()
        self.engine.dispose()

    def headers(self, user: str | None) -> dict[str, str]:
        return {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}

    async def post(self, path: str, body: Any = None, as_: str | None = "boss", expect: int | None = None,
                   **kw: Any) -> httpx.Response:
        response = await self.http.post(f"/api/channels{path}", json=body, headers=self.headers(as_), **kw)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

    async def get(self, path: str, as_: str | None = "boss", expect: int | None = 200) -> Any:
        response = await self.http.get(f"/api/channels{path}", headers=self.headers(as_))
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.json()

    # -- sentences ------------------------------------------------------------------
    async def chat(self, client: str, text: str = "hello", queue: str = "telegram") -> str:
        response = await self.post("/inbound/chat", {"queue": queue, "client": client, "text": text},
                                   as_="integration", expect=202)
        return str(response.json()["conversation_id"])

    async def holding(self, agent: str) -> dict[str, list[str]]:
        """The agent's queue as they see it: offered and active conversation ids."""
        queue = await self.get(f"/agents/{agent}/queue", as_=agent if agent in AGENTS else "boss")
        out: dict[str, list[str]] = {"offered": [], "active": []}
        for c in queue["conversations"]:
            out["active" if c["agent"] == agent else "offered"].append(c["id"])
        return out

    async def timeline(self, item_id: str) -> list[dict[str, Any]]:
        return list((await self.get(f"/conversations/{item_id}/timeline"))["timeline"])

    async def kinds(self, item_id: str) -> list[str]:
        return [line["kind"] for line in await self.timeline(item_id)]
