"""A node that stops answering (paused, cut off) while it delivers the outbox loses its
turn: the database ends its idle session, another node delivers the rest, and the
paused node, when it comes back, claims nothing more."""

from __future__ import annotations

import signal

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from acd.crm.outbox import DELIVERED, enqueue
from acd.store.schema import ensure_current
from tests.crm.crm_server import CrmServer

from .conftest import needs_postgres
from .nodes import until
from .test_outbox_turn import JOBS, jobs, node

pytestmark = needs_postgres


async def test_a_paused_deliverer_loses_its_turn_and_sends_nothing_new_when_it_comes_back(pg_url: str) -> None:
    engine = create_engine(pg_url)
    ensure_current(engine)
    async with CrmServer() as receiver, node(pg_url, receiver.url, "one") as one, \
            node(pg_url, receiver.url, "two") as two:
        with Session(engine) as session, session.begin():
            for n in range(JOBS):
                enqueue(session, "owner.changed", {"n": n}, targets=["hook"], now=0.0, order_key=f"client:{n}")
        keys = {job: key for job, (key, _) in jobs(engine).items()}
        await until(lambda: len(receiver.delivered()) >= 3, 20)
        first = receiver.requests[0].path
        paused, other = (one, "/two") if first == "/one" else (two, "/one")
        paused.send_signal(signal.SIGSTOP)
        try:
            await until(lambda: any(r.path == other for r in receiver.requests), 20)
            await until(lambda: all(state == DELIVERED for _, state in jobs(engine).values()), 20)
            took_over = next(i for i, r in enumerate(receiver.requests) if r.path == other)
        finally:
            paused.send_signal(signal.SIGCONT)
        resumed_at = len(receiver.requests)
        with Session(engine) as session, session.begin():  # work the resumed node must leave alone
            for n in range(JOBS, JOBS + 5):
                enqueue(session, "owner.changed", {"n": n}, targets=["hook"], now=0.0, order_key=f"client:{n}")
        keys = {job: key for job, (key, _) in jobs(engine).items()}
        await until(lambda: all(state == DELIVERED for _, state in jobs(engine).values()), 10)
        assert paused.returncode is None  # it lives on, waiting for the turn
        count_after_resume = len(receiver.requests)

    paths = [r.path for r in receiver.requests]
    assert set(paths[:took_over]) == {first} and set(paths[took_over:resumed_at]) == {other}
    assert set(paths[resumed_at:count_after_resume]) <= {other}  # the paused node claimed nothing more
    sent = [(r.json()["job"], r.json()["key"]) for r in receiver.requests]
    assert {job for job, _ in sent} == set(keys)
    assert all(keys[job] == key for job, key in sent)
    engine.dispose()
