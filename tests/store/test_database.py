"""Queries, the evenly rotation, restart recovery and portability to PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from acd.store import AsyncStore, Store
from acd.store.database import make_engine
from acd.store.history import Offer
from acd.store.models import Base

from .conftest import T0, arrived, rec


def some_calls(store: Store) -> None:
    store.apply_records([
        arrived("a1", at=0, group="sales"),
        rec("a1", 0, "considered", agent="anna", decision="ring"),
        rec("a1", 5, "answered", agent="anna", waited_s=5.0),
        rec("a1", 60, "ended", by="caller"),
        arrived("b1", at=100, group="support"),
        rec("b1", 100, "considered", agent="anna", decision="ring"),
        rec("b1", 115, "considered", agent="ben", decision="ring"),
        rec("b1", 130, "missed", reason="nobody answered", tried=["anna", "ben"], waited_s=30.0),
        rec("b1", 130, "voicemail", mailbox="102@default"),
        rec("b1", 150, "ended", by="caller"),
        arrived("c1", at=200, group="sales"),
        rec("c1", 200, "considered", agent="ben", decision="ring"),
        rec("c1", 204, "abandoned", waited_s=4.0, tried=["ben"]),
        arrived("d1", at=300, group="support"),  # still ringing
        rec("d1", 300, "considered", agent="chloe", decision="ring"),
    ])


def ids(calls: list) -> list[str]:  # type: ignore[type-arg]
    return [c.call_id for c in calls]


def test_calls_come_newest_first_with_paging(store: Store) -> None:
    some_calls(store)
    assert ids(store.calls()) == ["d1", "c1", "b1", "a1"]
    assert ids(store.calls(limit=2)) == ["d1", "c1"]
    assert ids(store.calls(limit=2, offset=2)) == ["b1", "a1"]


def test_calls_filter_by_time_window_in_epoch_seconds_or_datetimes(store: Store) -> None:
    some_calls(store)
    assert ids(store.calls(since=T0 + 100, until=T0 + 300)) == ["c1", "b1"]
    assert ids(store.calls(since=datetime.fromtimestamp(T0 + 200, UTC))) == ["d1", "c1"]
    naive_utc = datetime.fromtimestamp(T0 + 100, UTC).replace(tzinfo=None)
    assert ids(store.calls(until=naive_utc)) == ["a1"]


def test_calls_filter_by_group_outcome_and_agent(store: Store) -> None:
    some_calls(store)
    assert ids(store.calls(group="support")) == ["d1", "b1"]
    assert ids(store.calls(outcome="voicemail")) == ["b1"]
    assert ids(store.calls(outcome=["answered", "abandoned"])) == ["c1", "a1"]
    assert ids(store.calls(agent="anna")) == ["b1", "a1"]  # rung for b1 without answering
    assert ids(store.calls(agent="ben", group="sales")) == ["c1"]
    assert ids(store.calls(agent="nobody")) == []


def test_the_call_back_list_holds_ended_unanswered_missed_calls(store: Store) -> None:
    some_calls(store)
    assert ids(store.missed_calls()) == ["c1", "b1"]
    assert ids(store.missed_calls(group="support")) == ["b1"]
    assert ids(store.missed_calls(since=T0 + 150)) == ["c1"]
    store.mark_called_back("c1")
    assert ids(store.missed_calls()) == ["b1"]
    store.mark_called_back("c1", called_back=False)  # put back on the list
    assert ids(store.missed_calls()) == ["c1", "b1"]


def test_the_evenly_rotation_survives_a_restart(db_url: str, store: Store) -> None:
    store.save_offer("support", "anna", T0 + 10.25)
    store.save_offer("support", "ben", T0 + 20.5)
    store.save_offer("support", "anna", T0 + 30.75)
    store.save_offer("support", "anna", T0 + 5)  # late and out of order: ignored
    store.close()
    again = Store(db_url)
    assert again.load_offers() == {("support", "anna"): T0 + 30.75, ("support", "ben"): T0 + 20.5}
    again.close()


def test_a_batch_s_offers_are_read_in_one_query_and_the_latest_of_each_kept(db_url: str, store: Store) -> None:
    """The history's worker thread shares the GIL with call routing: a batch's offers
    (up to a group's every member) cost one look-up, not one each (bench/first_ring.py)."""
    store.apply_records([], [Offer("sales", f"a{n}", T0 + n) for n in range(300)])
    reads: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: reads.append(statement) if statement.startswith("SELECT")
                 and "group_offers" in statement else None)
    store.apply_records([], [Offer("sales", f"a{n}", T0 + 1000 + n) for n in range(0, 600, 2)]
                        + [Offer("sales", "a1", T0 - 1), Offer("sales", "a2", T0 + 5000), Offer("sales", "a2", T0)])
    assert len(reads) == 1
    offers = store.load_offers()
    assert len(offers) == 450
    assert offers[("sales", "a1")] == T0 + 1  # late and out of order: ignored
    assert offers[("sales", "a2")] == T0 + 5000  # the latest of a batch's
    assert offers[("sales", "a3")] == T0 + 3 and offers[("sales", "a598")] == T0 + 1598


def test_open_calls_are_found_again_after_reopening_the_file(db_url: str, store: Store) -> None:
    some_calls(store)
    store.close()
    again = Store(db_url)
    again.create_all()  # idempotent on an existing database
    [live] = again.open_calls()
    assert live.call_id == "d1" and live.group_id == "support" and live.ended_at is None
    assert live.arrived_at == T0 + 300
    again.close()


def test_an_unknown_call_is_none(store: Store) -> None:
    assert store.call("nope") is None


def test_an_in_memory_database_works_for_quick_use() -> None:
    store = Store("sqlite://")
    store.create_all()
    store.apply_records([arrived("m1")])
    assert ids(store.open_calls()) == ["m1"]
    store.close()


def test_the_schema_and_queries_compile_for_postgresql() -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    for table in Base.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        no_time = ("call_agents", "report_waits")  # the tables with no time column
        assert "TIMESTAMP" not in ddl and ("DOUBLE PRECISION" in ddl or table.name in no_time)
        for index in table.indexes:
            str(CreateIndex(index).compile(dialect=dialect))
    events = str(CreateTable(Base.metadata.tables["call_events"]).compile(dialect=dialect))
    assert "BIGSERIAL" in events and "JSON" in events


async def test_the_async_facade_runs_the_same_queries(db_url: str, store: Store) -> None:
    some_calls(store)
    facade = AsyncStore.open(db_url)
    assert ids(await facade.calls(group="sales")) == ["c1", "a1"]
    assert ids(await facade.missed_calls()) == ["c1", "b1"]
    assert await facade.mark_called_back("b1", by="ben")
    detail = await facade.call("b1")
    assert detail is not None and detail.called_back and detail.events[-1].kind == "ended"
    assert ids(await facade.open_calls()) == ["d1"]
    await facade.save_offer("sales", "anna", T0)
    assert await facade.load_offers() == {("sales", "anna"): T0}
    await facade.close()


def test_a_postgresql_url_needs_no_sqlite_options() -> None:
    # the psycopg driver is a test dependency; no connection is made until first use
    Store("postgresql+psycopg://acd:pw@localhost/acd").close()


def test_a_sqlite_commit_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    """A 2xx means committed, across a power loss too. In WAL mode synchronous=NORMAL
    syncs only at checkpoints: "a transaction committed in WAL mode with
    synchronous=NORMAL might roll back following a power loss or system crash"
    (sqlite.org/pragma.html#pragma_synchronous); FULL syncs the WAL at every commit."""
    engine = make_engine(f"sqlite:///{tmp_path / 'acd.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()
