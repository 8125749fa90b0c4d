"""The batching history writer: bursts in one transaction, retries, nothing lost silently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest
from sqlalchemy import exc

from acd.core.commands import Record
from acd.store import HistoryWriter, Offer, Store

from .conftest import T0, arrived, rec


class CountingStore(Store):
    """A real store that counts transactions and can be told to fail."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.transactions: list[int] = []
        self.outages = 0  # this many writes fail as if the database were away
        self.poison = "poison"  # a record of this kind is refused as bad data

    def apply_records(self, records: Sequence[Record], offers: Sequence[Offer] = ()) -> None:
        if self.outages:
            self.outages -= 1
            raise exc.OperationalError("INSERT", {}, Exception("database is locked"))
        if any(r.kind == self.poison for r in records):
            raise exc.IntegrityError("INSERT", {}, Exception("value too long"))
        super().apply_records(records, offers)
        self.transactions.append(len(records))


@pytest.fixture
def counting(db_url: str) -> CountingStore:
    s = CountingStore(db_url)
    s.create_all()
    return s


def fast(store: Store, **kw: float) -> HistoryWriter:
    return HistoryWriter(store, batch_delay_s=kw.pop("batch_delay_s", 0.05), retry_delays_s=(0.01, 0.02),
                         **kw)  # type: ignore[arg-type]


async def test_a_burst_of_records_costs_one_transaction(counting: CountingStore) -> None:
    async with fast(counting) as writer:
        for n in range(50):
            writer.add([arrived(f"c{n}", at=n), rec(f"c{n}", n + 1, "considered", agent="anna", decision="ring")])
        writer.offered("support", ("anna", "ben"), T0 + 1)
        await writer.flush(timeout_s=5)
        assert counting.transactions == [100]
        assert writer.pending == 0 and writer.written == 100
    assert len(counting.open_calls()) == 50
    assert counting.load_offers() == {("support", "anna"): T0 + 1, ("support", "ben"): T0 + 1}


async def test_a_full_batch_goes_at_once_and_the_rest_follows(counting: CountingStore) -> None:
    async with fast(counting, batch_delay_s=10, max_batch=10) as writer:
        writer.add([arrived(f"c{n}", at=n) for n in range(25)])
        await writer.flush(timeout_s=5)  # without flush the batch delay would be 10 s
    assert counting.transactions == [10, 10, 5]


async def test_a_database_outage_is_retried_and_logged_and_nothing_is_lost(
    counting: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    counting.outages = 3
    async with fast(counting) as writer:
        writer.add([arrived("c1"), rec("c1", 5, "answered", agent="anna", waited_s=5.0)])
        await asyncio.sleep(0)
        writer.add([rec("c1", 60, "ended", by="caller")])  # queued while the database is away
        await writer.flush(timeout_s=5)
    failures = [r for r in caplog.records if r.message == "history write failed, will retry"]
    assert len(failures) == 3 and failures[0].levelno == logging.WARNING
    call = counting.call("c1")
    assert call is not None and call.outcome == "answered" and call.ended_at is not None
    assert [e.kind for e in call.events] == ["arrived", "answered", "ended"]  # in order, once each


async def test_a_refused_record_is_dropped_loudly_and_the_others_are_written(
    counting: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    async with fast(counting) as writer:
        writer.add([arrived(f"c{n}", at=n) for n in range(6)])
        writer.add([rec("c3", 9, "poison", why="test")])
        writer.add([arrived(f"d{n}", at=10 + n) for n in range(5)])
        await writer.flush(timeout_s=5)
    assert writer.dropped == 1 and writer.written == 11
    assert len(counting.open_calls()) == 11
    [dropped] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert '"kind": "poison"' in dropped.getMessage() and '"call_id": "c3"' in dropped.getMessage()


async def test_closing_writes_everything_queued(counting: CountingStore) -> None:
    writer = fast(counting, batch_delay_s=60)
    async with asyncio.TaskGroup() as tasks:  # the service's way: the writer has an owner
        tasks.create_task(writer.run())
        writer.add([arrived("c1"), rec("c1", 1, "ended", by="caller")])
        writer.close()
    assert counting.transactions == [2]
    assert counting.call("c1") is not None


async def test_a_database_still_away_at_shutdown_leaves_every_record_in_the_log(
    counting: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    counting.outages = 10_000
    writer = fast(counting, shutdown_timeout_s=0.1)
    async with writer:
        writer.add([arrived("c1"), rec("c1", 1, "ended", by="caller")])
        writer.offered("sales", ("anna",), T0)
    lost = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(lost) == 3
    assert '"kind": "arrived"' in lost[0] and '"kind": "ended"' in lost[1] and '"agent": "anna"' in lost[2]
    assert writer.dropped == 2 and writer.pending == 0


async def test_add_never_blocks_the_event_loop(counting: CountingStore) -> None:
    writer = fast(counting)
    writer.add([arrived("c1")])  # no running writer yet: only queued
    assert writer.pending == 1 and counting.transactions == []
    async with writer:
        await writer.flush(timeout_s=5)
    assert counting.transactions == [1]


async def test_closing_cuts_a_long_retry_pause_short(counting: CountingStore) -> None:
    counting.outages = 1
    writer = HistoryWriter(counting, batch_delay_s=0.01, retry_delays_s=(60,))
    async with writer:
        writer.add([arrived("c1")])
        while counting.outages:  # the first write fails
            await asyncio.sleep(0.01)
    # left the block long before the 60 s pause: the record was written on closing
    assert counting.call("c1") is not None
