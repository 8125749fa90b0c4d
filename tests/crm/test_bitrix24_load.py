"""Sustained load against the fake portal's rate limit, time compressed 20 times: 2
answered calls a second for 5 minutes (600 calls) against Bitrix24's bucket of 2
requests a second with a burst of 50 becomes 40 calls a second for 15 s against 40
requests a second (the burst, a count of requests, stays 50)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from acd.crm import DEAD, DELIVERED, CrmFeed, Interaction, create_all, list_outbox, make_engine
from acd.crm.bitrix24 import Bitrix24Connector
from acd.crm.bitrix24_portal import Bitrix24Portal, WebhookAuth

from .fake_bitrix24 import FakeBitrix24
from .support import fast_sender, running, until

SCALE = 20
CALLS_PER_S, SECONDS = 2 * SCALE, 300 // SCALE
RATE, BURST = 2.0 * SCALE, 50


@pytest.fixture
def engine(tmp_path):
    """SQLite without waiting for the disk on each commit: this test is about the portal's
    rate limit, and on a loaded shared machine the outbox's fsync per job (not Bitrix24)
    would be what it measured."""
    engine = make_engine(f"sqlite:///{tmp_path / 'acd.db'}")

    @event.listens_for(engine, "connect")
    def _no_fsync(connection, _) -> None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")

    create_all(engine)
    return engine


async def test_two_answered_calls_a_second_for_five_minutes_all_delivered_once(engine):
    now = float(int(time.time()))
    async with FakeBitrix24(rate=RATE, burst=BURST) as fake:
        portal = Bitrix24Portal("bitrix", WebhookAuth(fake.webhook()), rate=RATE, burst=BURST, max_wait_s=0.5)
        # the portal sends one request at a time whatever the sender's concurrency; 8 jobs
        # in flight only overlap their database work (a loaded 2-core machine's SQLite)
        sender = fast_sender(engine, [Bitrix24Connector("bitrix", portal, {"anna": 11, "boris": 12})],
                             concurrency=8, deadline_s=5.0)
        feed = CrmFeed(engine, targets=["bitrix"], sender=sender)
        total = CALLS_PER_S * SECONDS
        async with running(feed, sender):
            started = time.monotonic()
            for n in range(total):  # paced like the arrivals, not all at once
                await asyncio.sleep(max(0.0, started + n / CALLS_PER_S - time.monotonic()))
                call = Interaction.call(f"{int(now)}.{n}", f"+4930{1000000 + n}", now + n, region="DE")
                feed.call_finished(call, "anna" if n % 2 else "boris", 30.0)

            def done() -> bool:
                with Session(engine) as session:
                    jobs = list_outbox(session, limit=total + 1)
                return len(jobs) == total and all(j.state in (DELIVERED, DEAD) for j in jobs)

            await until(done, timeout=60)
        await portal.aclose()
    with Session(engine) as session:
        jobs = list_outbox(session, limit=total + 1)
    assert Counter(j.state for j in jobs) == {DELIVERED: total}  # no dead job
    per_call = Counter(f.call.external_id for f in fake.finished)
    assert len(per_call) == total and set(per_call.values()) == {1}  # every call exactly once
    assert len(fake.registered) == total and not fake.calls  # none registered and left unfinished
    # one request a call (register + finish in a batch), and a look-up for each attempt
    # cut short (the call may have gone through: it is never registered twice)
    retried = sum(1 for j in jobs if j.attempts > 1)
    assert fake.requests() == total + fake.refused + fake.requests("voximplant.statistic.get")
    assert fake.requests("voximplant.statistic.get") <= retried
