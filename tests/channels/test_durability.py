"""A 2xx from the channels API means the change is in the database, with the CRM
outbox jobs it made: the service is killed with SIGKILL right after the answer, a new
one starts on the same database, and both are there."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from acd.channels.history import Base as ChannelTables
from acd.channels.history import Batch, ChannelHistory
from acd.crm.models import Base as CrmTables
from acd.store import make_engine
from acd.store.schema import ensure_current
from acd.web.accounts import Accounts

from .conftest import BACKENDS, POSTGRES_URL
from .support import FakeClock, FakeCrm, Service, chat, settings

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("service_process.py")


def _drop_tables() -> None:
    engine = create_engine(POSTGRES_URL)
    CrmTables.metadata.drop_all(engine)  # this test's tables only: the other tests' stay
    ChannelTables.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'acd.db'}"
        return
    _drop_tables()
    yield POSTGRES_URL
    _drop_tables()


@pytest.fixture
def token(database: str) -> str:
    engine = make_engine(database)
    ensure_current(engine)  # a database made as the service makes it, before the first user
    accounts = Accounts(engine)
    user = accounts.create_user(f"desk-{uuid.uuid4().hex[:8]}", "correct horse battery", role="supervisor",
                                permissions={"open_channels", "crm"})
    made = accounts.create_token(user.id, "durability")
    engine.dispose()
    return made


class ServiceProcess:
    """One service process on ``database``; ``kill`` is SIGKILL: nothing is flushed."""

    def __init__(self, database: str, token: str) -> None:
        self.process = subprocess.Popen([sys.executable, str(SCRIPT), database], stdout=subprocess.PIPE,
                                        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, text=True)
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            self.kill()
            raise AssertionError(f"the service did not start (exit code {self.process.returncode})")
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{line.strip()}", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})

    def post(self, path: str, body: dict[str, Any], expect: int = 200) -> Any:
        response = self.http.post(path, json=body)
        assert response.status_code == expect, response.text
        return response.json()

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(30)
        if hasattr(self, "http"):
            self.http.close()

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.kill()


def held(conversation: dict[str, Any]) -> tuple[str, str | None, list[str]]:
    return conversation["phase"], conversation["agent"], sorted(conversation["offered_to"])


def jobs(service: ServiceProcess, event: str) -> list[dict[str, Any]]:
    return [j for j in service.get("/api/outbox?state=pending") if j["event"] == event]


def test_a_chat_change_answered_with_200_survives_a_kill_9_with_its_crm_outbox_job(
        database: str, token: str) -> None:
    with ServiceProcess(database, token) as first:
        cid = first.post("/api/channels/inbound/chat", {"queue": "web", "client": "telegram:4242", "text": "hi"},
                         expect=202)["conversation_id"]
        first.post(f"/api/channels/conversations/{cid}/accept", {"agent_id": "anna"})
        to_boris = first.post(f"/api/channels/conversations/{cid}/transfer", {"to_agent": "boris"})
        first.kill()  # right after the 200

    with ServiceProcess(database, token) as second:
        assert held(second.get(f"/api/channels/conversations/{cid}")) == held(to_boris["conversation"])
        [lead] = jobs(second, "lead.created")  # an unknown client: the lead goes to boris
        assert lead["payload"]["owner"] == "boris"
        assert lead["payload"]["client"]["messengers"] == [{"channel": "telegram", "user_id": "4242"}]
        to_clara = second.post(f"/api/channels/conversations/{cid}/transfer", {"to_agent": "clara"})
        second.kill()

    with ServiceProcess(database, token) as third:
        assert held(third.get(f"/api/channels/conversations/{cid}")) == held(to_clara["conversation"])
        [change] = jobs(third, "owner.changed")
        assert (change["payload"]["previous_owner"], change["payload"]["owner"]) == ("boris", "clara")
        third.post(f"/api/channels/conversations/{cid}/close", {})
        third.kill()

    with ServiceProcess(database, token) as fourth:
        assert fourth.http.get(f"/api/channels/conversations/{cid}").status_code == 404  # closed stays closed


# -- in one process: how the commits are made ------------------------------------------


async def test_requests_that_come_together_share_one_transaction(history_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    write = ChannelHistory.write

    def counted(self: ChannelHistory, batch: Batch) -> None:
        writes.append(len(batch.items))
        write(self, batch)

    monkeypatch.setattr(ChannelHistory, "write", counted)
    async with Service(settings(chat(capacity=50)), history_url, FakeClock()) as svc:
        ids = await asyncio.gather(*(svc.chat(f"telegram:{n}") for n in range(40)))
        assert sum(writes) == 40 and len(writes) < 40  # group commit: fewer writes than requests
        assert {c["id"] for c in svc.desk.history.snapshot()["router"]["conversations"]} == set(ids)


async def test_a_failed_write_answers_503_and_the_change_is_written_with_the_next(
        history_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    write = ChannelHistory.write
    failures = [OperationalError("INSERT", {}, Exception("database is locked"))]

    def flaky(self: ChannelHistory, batch: Batch) -> None:
        if failures:
            raise failures.pop()
        write(self, batch)

    async with Service(settings(chat()), history_url, FakeClock()) as svc:
        cid = await svc.chat("telegram:1")
        monkeypatch.setattr(ChannelHistory, "write", flaky)
        response = await svc.post(f"/conversations/{cid}/accept", {}, as_="anna", expect=503)
        assert "not saved yet" in response.json()["detail"]
        await svc.post("/agents/boris/presence", {"online": True}, expect=200)  # the next change's commit
        saved = {c["id"]: c for c in svc.desk.history.snapshot()["router"]["conversations"]}
        assert saved[cid]["agent"] == "anna"


async def test_a_write_that_committed_though_it_failed_is_written_again_without_its_new_chat_twice(
        history_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection lost as the commit went through: the desk cannot tell and writes
    the changes again; the new chat's item row is stored already (its lines twice at
    worst), and the write must not fail on it for ever."""
    write = ChannelHistory.write
    lost = [OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))]

    def committed_then_lost(self: ChannelHistory, batch: Batch) -> None:
        write(self, batch)
        if lost and batch.items:
            raise lost.pop()

    monkeypatch.setattr(ChannelHistory, "write", committed_then_lost)
    async with Service(settings(chat()), history_url, FakeClock()) as svc:
        response = await svc.post("/inbound/chat", {"queue": "telegram", "client": "tg:1", "text": "hi"},
                                  as_="integration", expect=503)
        assert "not saved yet" in response.json()["detail"]
        cid = svc.desk.open_conversation("telegram", "tg:1")
        assert cid is not None
        await svc.post(f"/conversations/{cid}/accept", {}, as_="anna", expect=200)  # written with the next
        assert svc.desk.history.counts()["channel_items"] == 1
        assert (await asyncio.to_thread(svc.desk.history.item, cid) or {})["agent"] == "anna"


async def test_a_crm_change_that_fails_costs_only_itself(history_url: str) -> None:
    crm = FakeCrm()

    def broken(report: Any, queue: str | None = None) -> Callable[[Session], None]:
        def change(session: Session) -> None:
            raise RuntimeError("a bug in the CRM")
        return change

    crm.transfer_change = broken  # type: ignore[method-assign]
    async with Service(settings(chat()), history_url, FakeClock(), crm=crm) as svc:
        cid = await svc.chat("telegram:1")
        await svc.post(f"/conversations/{cid}/accept", {}, as_="anna", expect=200)
        await svc.post(f"/conversations/{cid}/transfer", {"to_agent": "boris"}, expect=200)
        assert (await svc.kinds(cid))[-1] == "offered"  # the transfer's lines are saved
        saved = {c["id"]: c for c in svc.desk.history.snapshot()["router"]["conversations"]}
        assert saved[cid]["offered"] == ["boris"]
