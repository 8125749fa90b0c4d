"""The outbox (CRM updates and customers' messages) is delivered by one node at a time,
at least once, with each job's own idempotency key, across the death of the node
delivering it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from acd.crm.models import OutboxJob
from acd.crm.outbox import DELIVERED, enqueue
from acd.store.schema import ensure_current
from tests.crm.crm_server import CrmServer

from .conftest import needs_postgres
from .nodes import until

pytestmark = needs_postgres

NODE = Path(__file__).with_name("outbox_node.py")
REPO = Path(__file__).resolve().parents[2]
JOBS = 30


@contextlib.asynccontextmanager
async def node(database: str, receiver: str, name: str) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(NODE), database, receiver, name, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"started\n"
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


def jobs(engine: Engine) -> dict[int, tuple[str, str]]:
    """Each job's idempotency key and state."""
    with Session(engine) as session:
        return {j.id: (j.idempotency_key, j.state) for j in session.scalars(select(OutboxJob))}


async def test_one_node_delivers_and_after_its_death_the_other_delivers_the_rest_none_lost(pg_url: str) -> None:
    engine = create_engine(pg_url)
    ensure_current(engine)
    async with CrmServer() as receiver, node(pg_url, receiver.url, "one") as one, \
            node(pg_url, receiver.url, "two") as two:
        with Session(engine) as session, session.begin():  # both nodes are ready to deliver
            for n in range(JOBS):
                enqueue(session, "owner.changed", {"n": n}, targets=["hook"], now=0.0, order_key=f"client:{n}")
        keys = {job: key for job, (key, _) in jobs(engine).items()}
        await until(lambda: len(receiver.delivered()) >= 5, 20)
        first = receiver.requests[0].path
        processes = {"/one": one, "/two": two}
        survivor = "/two" if first == "/one" else "/one"
        processes[first].send_signal(signal.SIGKILL)
        await processes[first].wait()
        before_death = len(receiver.requests)

        await until(lambda: all(state == DELIVERED for _, state in jobs(engine).values()), 20)

    paths = [r.path for r in receiver.requests]
    assert set(paths[:before_death]) == {first}  # one node at a time: the other waited
    assert set(paths[before_death:]) == {survivor}  # and took over
    sent = [(r.json()["job"], r.json()["key"]) for r in receiver.requests]
    assert {job for job, _ in sent} == set(keys)  # none lost
    assert all(keys[job] == key for job, key in sent)  # each job under its own key, whoever sent it
    assert len(sent) - JOBS <= 1  # at most the job in flight at the death went twice
    engine.dispose()
