"""Schema migrations: a database made by the first landed schema, with a day of data,
upgrades to head and reads with today's code; the check at start refuses an older or
a newer schema; the newest migration builds exactly today's models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, select, text
from sqlalchemy.orm import Session

from acd.cli import schema_metadata
from acd.crm.models import Client, OutboxJob
from acd.store import HistoryWriter, Store, make_engine, schema
from acd.store.schema import SchemaError
from acd.web.accounts import Accounts

from . import first_schema
from .conftest import BACKENDS, POSTGRES_URL, arrived, rec
from .first_schema import OFFERS, T0
from .test_with_the_router import answered_call, start

FIRST = "0002_calls"  # the call history as it first landed, beside the CRM tables of 0001


def drop_everything(url: str) -> None:
    engine = make_engine(url)
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: every table dropped, alembic_version too."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'acd.db'}"
        return
    drop_everything(POSTGRES_URL)
    yield POSTGRES_URL
    drop_everything(POSTGRES_URL)


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    e = make_engine(url)
    yield e
    e.dispose()


@pytest.fixture
def first(engine: Engine) -> Engine:
    """A database made and used by the acd of the first landed schema."""
    first_schema.create(engine)
    first_schema.fill(engine)
    return engine


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, schema_metadata()))


def test_the_newest_migration_builds_exactly_todays_models(engine: Engine) -> None:
    assert schema.ensure_current(engine) == f"database schema created at {schema.head()}"
    assert differences(engine) == []
    assert schema.state(engine).up_to_date


async def test_the_first_landed_schema_with_its_calls_upgrades_and_reads_with_todays_code(url: str,
                                                                                           first: Engine) -> None:
    before = schema.state(first)
    assert before.current == () and before.looks_like == FIRST

    assert schema.upgrade(first) == before
    assert schema.state(first).up_to_date and differences(first) == []

    store = Store(url)
    history = store.calls()  # what /history lists: a 500 before the upgrade
    assert [c.call_id for c in history] == ["c1", "b1", "a1"]
    assert all(isinstance(c.arrived_at, float) for c in history)
    a1 = store.call("a1")
    assert a1 is not None and a1.outcome == "answered" and a1.answered_by == "chloe"
    assert (a1.arrived_at, a1.answered_at, a1.ended_at) == pytest.approx((T0, T0 + 5.123456, T0 + 60.5), abs=1e-6)
    assert [(e.kind, e.at) for e in a1.events] == [("arrived", T0), ("considered", T0 + 0.5),
                                                   ("answered", pytest.approx(T0 + 5.123456, abs=1e-6)),
                                                   ("ended", T0 + 60.5)]
    assert [c.call_id for c in store.missed_calls()] == ["b1"]
    assert store.missed_calls()[0].tried == ("anna", "chloe")
    assert [c.call_id for c in store.open_calls()] == ["c1"]
    assert [c.call_id for c in store.calls(agent="anna", since=T0 + 50)] == ["b1"]

    offers = store.load_offers()  # evenly's rotation: text before the upgrade
    assert offers == pytest.approx(OFFERS, abs=1e-6)
    async with HistoryWriter(store, batch_delay_s=0.01) as writer:
        assert answered_call(*start(store, writer), "d1") == "dev"  # offered longest ago
    store.close()

    with Session(first) as session:  # the CRM's rows went along untouched
        client = session.scalars(select(Client)).one()
        assert (client.name, client.owner, [i.value for i in client.identities]) == ("Ann", "chloe",
                                                                                     ["+4915100000001"])
        assert session.scalars(select(OutboxJob.idempotency_key)).all() == ["lead-1"]


def test_an_older_schema_stops_the_start_with_one_line_saying_how_to_upgrade(first: Engine) -> None:
    with pytest.raises(SchemaError) as refused:
        schema.ensure_current(first)
    message = str(refused.value)
    assert "\n" not in message and "older" in message and "acd db upgrade" in message and FIRST in message
    assert schema.state(first).looks_like == FIRST  # nothing changed

    assert schema.ensure_current(first, upgrade_older=True).startswith(f"database schema upgraded to {schema.head()}")
    assert schema.state(first).up_to_date


def test_an_unknown_revision_a_newer_acds_is_refused_even_when_upgrades_are_allowed(engine: Engine) -> None:
    schema.ensure_current(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    for attempt in (lambda: schema.ensure_current(engine, upgrade_older=True), lambda: schema.upgrade(engine)):
        with pytest.raises(SchemaError) as refused:
            attempt()
        assert "0099_from_the_future" in str(refused.value) and "does not know" in str(refused.value)
        assert "\n" not in str(refused.value)
    assert schema.state(engine).current == ("0099_from_the_future",)


def test_a_database_of_todays_acd_from_before_migrations_is_recognised_and_stamped(url: str,
                                                                                  engine: Engine) -> None:
    for metadata in schema_metadata():
        metadata.create_all(engine)
    Accounts(engine).create_user("ann", "a-long-password", role="admin")
    store = Store(url)
    store.apply_records([arrived("x1"), rec("x1", 3, "answered", agent="anna", waited_s=3.0)])
    found = schema.state(engine)
    assert found.current == () and found.looks_like == schema.head()
    with pytest.raises(SchemaError, match="made before schema migrations"):
        schema.ensure_current(engine)

    schema.upgrade(engine)
    assert schema.state(engine).up_to_date and differences(engine) == []
    assert Accounts(engine).authenticate("ann", "a-long-password") is not None
    assert [c.call_id for c in store.calls()] == ["x1"]
    store.close()


def test_tables_a_later_acd_added_beside_the_old_times_are_kept(first: Engine) -> None:
    """An acd of the web accounts' time ran on the first database: its create_all added
    the users' tables, and left the calls' times as they were."""
    Accounts(first).create_user("ann", "a-long-password", role="admin")
    assert schema.state(first).looks_like == FIRST
    schema.upgrade(first)
    assert schema.state(first).up_to_date and differences(first) == []
    assert Accounts(first).authenticate("ann", "a-long-password") is not None


def test_a_downgrade_to_the_first_schema_gives_back_the_old_times(first: Engine) -> None:
    schema.upgrade(first)
    with schema._transaction(first) as connection:
        command.downgrade(schema._config(connection), FIRST)
    with Session(first) as session:
        row = session.get(first_schema.CallRow, "a1")
        assert row is not None and row.answered_at == first_schema.utc(T0 + 5.123456)
        offers = {(o.group_id, o.agent_id): o.last_offered_at.timestamp()
                  for o in session.scalars(select(first_schema.GroupOfferRow))}
        assert offers == pytest.approx(OFFERS, abs=1e-6)
    schema.upgrade(first)
    assert differences(first) == []



def test_several_acds_starting_together_on_an_empty_database_create_the_schema_once(url: str) -> None:
    # two nodes (or a node and `acd db upgrade`) started at the same moment: every one
    # starts, none fails on a table or a version row the other made meanwhile
    engines = [make_engine(url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def start(engine: Engine) -> None:
        barrier.wait()
        try:
            schema.ensure_current(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert failures == []
        assert schema.state(engines[0]).up_to_date
    finally:
        for e in engines:
            e.dispose()


def test_calls_recorded_before_several_servers_are_the_main_servers(url: str, first: Engine) -> None:
    schema.upgrade(first)
    with first.connect() as connection:
        assert set(connection.execute(text("SELECT server FROM calls")).scalars()) == {"main"}
        assert set(connection.execute(text("SELECT server FROM call_events")).scalars()) == {"main"}
    store = Store(url)
    assert [(c.call_id, c.server) for c in store.open_calls(server="main")] == [("c1", "main")]
    assert store.open_calls(server="b") == []
    store.close()


def test_a_new_sqlite_file_that_another_acd_holds_for_a_moment_is_tried_again(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # seen in CI: four acds opening one new file together, one met "database is locked"
    # at once (no busy wait, e.g. while another turned the file to WAL) and did not start
    from sqlalchemy.exc import OperationalError

    engine = make_engine(f"sqlite:///{tmp_path / 'acd.db'}")
    real_migrate, calls = schema._migrate, []

    def locked_once(e: Engine) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
        real_migrate(e)

    monkeypatch.setattr(schema, "_migrate", locked_once)
    assert schema.ensure_current(engine).startswith("database schema created")
    assert len(calls) == 2 and schema.state(engine).up_to_date
    engine.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL's own session setting")
def test_a_transaction_left_open_by_a_stopped_process_is_ended_by_postgresql() -> None:
    # a node paused mid-commit held an outbox row's lock, and the node that took over the
    # outbox waited on it for as long as the pause lasted (seen in CI)
    engine = make_engine(POSTGRES_URL)
    with engine.connect() as connection:
        shown = connection.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar()
    assert shown == "10s"
    engine.dispose()
