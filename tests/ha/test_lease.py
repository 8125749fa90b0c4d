"""The lease: one node active per Asterisk server, a standby taking over only after
the holder's lease ran out on the holder's own clock (acd/ha/leadership.py)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import create_engine

from acd.ha.leadership import MARGIN_S, LeadershipLost, Lease, boottime
from acd.ha.lease_table import LeaseRow

from .conftest import POSTGRES_URL, needs_postgres

pytestmark = needs_postgres
LEASE_S = 1.0


@pytest.fixture
def server() -> Iterator[str]:
    engine = create_engine(POSTGRES_URL)
    LeaseRow.__table__.create(engine, checkfirst=True)
    engine.dispose()
    yield f"pbx-{uuid.uuid4().hex[:8]}"  # a server of its own: nothing else touches its row


def lease(node: str, server: str) -> Lease:
    return Lease(POSTGRES_URL, node=node, server=server, lease_s=LEASE_S)


@contextlib.asynccontextmanager
async def running(lease: Lease) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(lease.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, LeadershipLost):
            await task


async def until(condition: object, seconds: float) -> float:
    """Wait for ``condition()``; the boottime clock when it held."""
    deadline = boottime() + seconds
    while not condition():  # type: ignore[operator]
        assert boottime() < deadline, "not reached in time"
        await asyncio.sleep(0.005)
    return boottime()


async def test_one_node_is_active_and_the_other_stands_by_while_the_lease_is_renewed(server: str) -> None:
    a, b = lease("a", server), lease("b", server)
    async with running(a):
        await asyncio.wait_for(a.wait_active(), 5)
        async with running(b):
            await asyncio.sleep(3 * LEASE_S)  # several leases long: renewed all along
            assert a.active() and not b.active()
            assert a.term is not None and b.term is None


async def test_a_frozen_holder_stops_before_the_standby_takes_over_and_finds_it_lost_when_it_wakes(
        server: str) -> None:
    a, b = lease("a", server), lease("b", server)
    frozen = asyncio.create_task(a.run())
    await asyncio.wait_for(a.wait_active(), 5)
    first_term = a.term
    async with running(b):
        await asyncio.sleep(0.3)
        frozen.cancel()  # a stops renewing (SIGSTOP, or its database link is cut) but keeps its state
        with contextlib.suppress(asyncio.CancelledError):
            await frozen
        took_over = await until(b.active, 5 * LEASE_S)
        # a's own clock shut its gate at least the margin before b could act
        assert not a.active()
        assert a._valid_until <= took_over - MARGIN_S
        assert b.term == (first_term or 0) + 1  # the fencing token moved on
        with pytest.raises(LeadershipLost):  # a wakes up (SIGCONT): it knows it lost, at once
            await asyncio.wait_for(a.run(), 2)
        assert not a.active() and b.active()


async def test_a_node_restarted_under_the_same_name_waits_for_its_old_lease_and_gets_a_new_term(
        server: str) -> None:
    old = lease("a", server)
    frozen = asyncio.create_task(old.run())
    await asyncio.wait_for(old.wait_active(), 5)
    frozen.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await frozen
    restarted = lease("a", server)
    async with running(restarted):
        took_over = await until(restarted.active, 5 * LEASE_S)
        assert old._valid_until <= took_over - MARGIN_S  # the old process's lease had run out first
        assert restarted.term == (old.term or 0) + 1


async def test_a_clean_stop_releases_the_lease_and_the_standby_takes_over_at_its_next_poll(server: str) -> None:
    a, b = lease("a", server), lease("b", server)
    async with running(a) as a_task:
        await asyncio.wait_for(a.wait_active(), 5)
        async with running(b):
            await asyncio.sleep(0.2)
            a_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await a_task
            released = boottime()
            await a.release()
            took_over = await until(b.active, 5 * LEASE_S)
            assert not a.active()
            assert took_over - released < LEASE_S / 2  # no waiting for the lease to run out
