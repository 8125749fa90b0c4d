"""The call history database: ``Store(url)`` over SQLite (default) or PostgreSQL.

Blocking, thread-safe (one session per call); the asyncio side uses ``AsyncStore``
or ``HistoryWriter``, which run these methods in worker threads. The queries use
only portable SQL: the same code runs on both databases.

Time: float seconds since the epoch in and out, as in the core; filters also take a
datetime (naive means UTC).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, exists, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Select

from ..core.commands import Record
from . import history
from .history import Offer
from .models import Base, CallAgentRow, CallRow, GroupOfferRow, epoch
from .views import CallDetail, CallSummary

Time = float | datetime  # epoch seconds or a datetime (naive means UTC)


IDLE_IN_TRANSACTION_S = 10  # no transaction of acd's sits idle this long


def json_text(value: Any) -> str:
    """JSON columns' text, by orjson: several times faster than the json module on the
    histories' details and the snapshots, written with every chat (issue 16). What
    orjson does not take (an integer past 64 bits) is written by the json module."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str) -> Engine:
    u = make_url(url)
    if u.drivername == "postgresql":  # SQLAlchemy's default driver would be psycopg2: acd's is psycopg 3
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() != "sqlite":
        # pool_pre_ping: a restarted database server is noticed. A transaction left open by
        # a process that stopped (SIGSTOP, a hung VM) would hold its row locks for ever and
        # stall the node that took over its work (the outbox): PostgreSQL ends it instead
        return create_engine(u, pool_pre_ping=True, json_serializer=json_text, connect_args={
            "options": f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_S * 1000}"})
    memory = u.database in (None, "", ":memory:")
    engine = create_engine(
        u,
        json_serializer=json_text,
        # worker threads share the pool; 30 s to wait for a writer's lock
        connect_args={"check_same_thread": False, "timeout": 30},
        # an in-memory database lives in its one connection
        **({"poolclass": StaticPool} if memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            # FULL: the WAL is synced at every commit, so a 2xx (committed) survives a power
            # loss; NORMAL syncs at checkpoints only, and "a transaction committed in WAL mode
            # with synchronous=NORMAL might roll back following a power loss or system crash"
            # (sqlite.org/pragma.html#pragma_synchronous). Group commit makes it one sync per
            # write of many chats: bench.http_assign showed no cost (issue 16)
            cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    return engine


class Store:
    def __init__(self, url: str = "sqlite:///acd.db") -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        """Create the tables that do not exist yet (no migrations of existing ones)."""
        Base.metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only session whose SELECTs all see one state of the database: a call
        and its timeline never come from two moments (one answered, the other not)."""
        with self.engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # pysqlite opens a transaction only before a write, so each SELECT would see
                # the latest commit: open the read transaction (WAL: one snapshot) ourselves.
                # Only here: a write transaction that began with a read would fail with
                # SQLITE_BUSY_SNAPSHOT when another writer commits first, where pysqlite's
                # late BEGIN waits for the lock instead
                connection.exec_driver_sql("BEGIN")
            else:
                # READ COMMITTED (PostgreSQL's default) takes a new snapshot per statement
                connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with Session(connection) as session:
                yield session
            connection.rollback()

    # -------------------------------------------------------------- writes
    def apply_records(self, records: Sequence[Record], offers: Sequence[Offer] = ()) -> None:
        """Append records to the call history and update the calls (history.py's
        table), and save evenly-rotation offers: all in one transaction."""
        if not records and not offers:
            return
        with self.session() as session:
            history.write(session, records, offers)

    def save_offer(self, group_id: str, agent_id: str, at: float) -> None:
        with self.session() as session:
            history.save_offer(session, Offer(group_id, agent_id, at))

    def mark_called_back(self, call_id: str, *, by: str | None = None, at: Time | None = None,
                         called_back: bool = True) -> bool:
        """Tick a missed call off the call-back list (or put it back); False: no such call."""
        when = epoch(at) if at is not None else time.time()
        values: dict[str, Any] = {"called_back": called_back, "called_back_by": by if called_back else None,
                                  "called_back_at": when if called_back else None}
        with self.session() as session:
            result = session.execute(update(CallRow).where(CallRow.call_id == call_id).values(**values))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # -------------------------------------------------------------- reads
    def load_offers(self) -> dict[tuple[str, str], float]:
        """(group id, agent id) -> epoch seconds: what ``Router(last_offered=...)`` takes."""
        with self.session() as session:
            rows = session.scalars(select(GroupOfferRow))
            return {(r.group_id, r.agent_id): r.last_offered_at for r in rows}

    def recent_waits(self, group_ids: Sequence[str], last: int = 20) -> dict[str, list[float]]:
        """Group id -> the waits (arrival to a member's answer) of its last ``last``
        answered calls, oldest first: the router's hold-time average restarts from them."""
        waits: dict[str, list[float]] = {}
        with self.session() as session:
            for group_id in group_ids:
                stmt = (select(CallRow.waited_s)
                        .where(CallRow.group_id == group_id, CallRow.answered_by.is_not(None),
                               CallRow.waited_s.is_not(None))
                        .order_by(CallRow.answered_at.desc()).limit(last))
                found = [w for w in session.scalars(stmt) if w is not None]
                if found:
                    waits[group_id] = found[::-1]
        return waits

    def open_calls(self, server: str | None = None) -> list[CallSummary]:
        """Calls with no end yet, oldest first: what to look for on the PBX after a restart
        (on one Asterisk server, or on all with None)."""
        stmt = select(CallRow).where(CallRow.ended_at.is_(None)).order_by(CallRow.arrived_at, CallRow.call_id)
        if server is not None:
            stmt = stmt.where(CallRow.server == server)
        with self.session() as session:
            return [CallSummary.of(row) for row in session.scalars(stmt)]

    def call(self, call_id: str) -> CallDetail | None:
        stmt = select(CallRow).where(CallRow.call_id == call_id).options(selectinload(CallRow.events))
        with self.snapshot() as session:
            row = session.scalars(stmt).one_or_none()
            return None if row is None else CallDetail.of(row)

    def calls(
        self,
        *,
        since: Time | None = None,
        until: Time | None = None,
        group: str | None = None,
        outcome: str | Sequence[str] | None = None,
        agent: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CallSummary]:
        """Calls that arrived in [since, until), newest first. ``agent``: calls the agent
        was offered, answered or got by transfer."""
        stmt = _window(select(CallRow), since, until, group)
        if outcome is not None:
            outcomes = [outcome] if isinstance(outcome, str) else list(outcome)
            stmt = stmt.where(CallRow.outcome.in_(outcomes), CallRow.ended_at.is_not(None))
        if agent is not None:
            took_part = exists().where(CallAgentRow.call_id == CallRow.call_id, CallAgentRow.agent_id == agent)
            stmt = stmt.where(or_(CallRow.answered_by == agent, took_part))
        return self._page(stmt, limit, offset)

    def missed_calls(
        self,
        *,
        since: Time | None = None,
        until: Time | None = None,
        group: str | None = None,
        called_back: bool | None = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CallSummary]:
        """The call-back list: ended calls that were missed and never answered, newest
        first (``tried``, ``waited_s``, ``missed_reason`` say what happened).
        ``called_back``: False (default) only those still to call, True only done, None all."""
        stmt = _window(select(CallRow), since, until, group).where(
            CallRow.missed.is_(True), CallRow.answered_at.is_(None), CallRow.ended_at.is_not(None)
        )
        if called_back is not None:
            stmt = stmt.where(CallRow.called_back.is_(called_back))
        return self._page(stmt, limit, offset)

    def _page(self, stmt: Select[Any], limit: int, offset: int) -> list[CallSummary]:
        stmt = stmt.order_by(CallRow.arrived_at.desc(), CallRow.call_id.desc()).limit(limit).offset(offset)
        with self.session() as session:
            return [CallSummary.of(row) for row in session.scalars(stmt)]


def _window(stmt: Select[Any], since: Time | None, until: Time | None,
            group: str | None) -> Select[Any]:
    if since is not None:
        stmt = stmt.where(CallRow.arrived_at >= epoch(since))
    if until is not None:
        stmt = stmt.where(CallRow.arrived_at < epoch(until))
    if group is not None:
        stmt = stmt.where(CallRow.group_id == group)
    return stmt
