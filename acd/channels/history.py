"""The other channels' history, in the call history's database (SQLite or PostgreSQL).

Own tables next to ``calls`` (``acd.store``), float epoch seconds in every time column:

- ``channel_items``: one row per chat conversation, e-mail or form submission, kept
  current from its timeline (queue, client, who has it, open or closed);
- ``channel_events``: every line of every item's timeline (the core's
  ``TimelineRecord`` plus messages and the agents' own steps, under ``agent:<id>``);
- ``channel_alerts``: supervisor alerts ("nobody_available", "recovered");
- ``channel_router_state``: the conversation router's snapshot but its conversations,
  and ``channel_conversations``: one row per open chat conversation, so that a restart
  keeps every open conversation, line and idle deadline. A write carries only the
  conversations that changed: its cost does not grow with the open conversations.

``ChannelHistory`` is blocking and thread-safe (one session per call): the ``Desk``
calls it from worker threads. A write may carry the CRM's changes too (a lead, an
owner and their outbox jobs): they commit in the same transaction as the timeline
lines and the snapshot that caused them, or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Double,
    Engine,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..store.database import json_text

log = logging.getLogger(__name__)

ITEM_ID_MAX = 255  # a Message-ID may be long; longer ids are refused at the door
IN_LIST_MAX = 500  # ids in one IN (...): bounded, whatever a write carries after an outage
EventId = BigInteger().with_variant(Integer(), "sqlite")

OPEN, CLOSED = "open", "closed"


class Base(DeclarativeBase):
    type_annotation_map = {float: Double, dict[str, Any]: JSON}


class ItemRow(Base):
    __tablename__ = "channel_items"
    __table_args__ = (Index("ix_channel_items_agent_status", "agent_id", "status"),
                      # the reports: items of a range, read from the index alone
                      Index("ix_channel_items_report", "created_at", "kind", "queue_id", "agent_id",
                            "first_response_at"),
                      # the reports: the items changed since the last monthly roll-up
                      Index("ix_channel_items_updated_at", "updated_at"))

    item_id: Mapped[str] = mapped_column(String(ITEM_ID_MAX), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # chat | email | form
    queue_id: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(320), default="")
    agent_id: Mapped[str | None] = mapped_column(String(64))  # who has it (accepted / assigned)
    status: Mapped[str] = mapped_column(String(8), default=OPEN)
    created_at: Mapped[float] = mapped_column(index=True)
    updated_at: Mapped[float]
    closed_at: Mapped[float | None]
    # an agent's first answer (chat), reply (e-mail), or the closing (form): the reports' response time
    first_response_at: Mapped[float | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # subject, form fields...


class EventRow(Base):
    __tablename__ = "channel_events"
    __table_args__ = (Index("ix_channel_events_item_id_id", "item_id", "id"),
                      # the reports: an agent's clock-in and break lines of a range
                      Index("ix_channel_events_item_kind_at", "item_id", "kind", "at"))

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(ITEM_ID_MAX))
    at: Mapped[float]
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AlertRow(Base):
    __tablename__ = "channel_alerts"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    queue_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[float] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RouterStateRow(Base):
    __tablename__ = "channel_router_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    saved_at: Mapped[float]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ConversationRow(Base):
    """An open chat conversation as the router keeps it (``Conversation.to_data``)."""

    __tablename__ = "channel_conversations"

    conversation_id: Mapped[str] = mapped_column(String(ITEM_ID_MAX), primary_key=True)
    rank: Mapped[int] = mapped_column(BigInteger)  # the router's order (arrival), kept across restarts
    chat_key: Mapped[str | None] = mapped_column(String(400))  # "<queue>|<client>" it was opened for
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


@dataclass(frozen=True, slots=True)
class ConversationState:
    rank: int
    chat_key: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Line:
    """One timeline line to write."""

    item_id: str
    at: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewItem:
    item_id: str
    kind: str
    queue_id: str
    client: str
    at: float
    detail: dict[str, Any] = field(default_factory=dict)


CrmChange = Callable[[Session], object]  # a change to the CRM, made in the caller's transaction


@dataclass(slots=True)
class Batch:
    """What one write carries: all in one transaction."""

    items: list[NewItem] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    alerts: list[Line] = field(default_factory=list)  # item_id holds the queue id
    snapshot: dict[str, Any] | None = None  # the router's, but its conversations
    snapshot_at: float = 0.0
    # the conversations changed since the last write: their state, None once closed
    conversations: dict[str, ConversationState | None] = field(default_factory=dict)
    # the CRM's changes these lines caused (``acd.crm.CrmFeed.lead_change``...)
    crm: list[CrmChange] = field(default_factory=list)
    # texts to customers these lines record (``acd.channels.outgoing``): all or nothing with them
    outgoing: list[CrmChange] = field(default_factory=list)
    # carries a write that failed, whose commit may have reached the database all the same
    # (the connection lost as it committed): its new items may be stored already
    retried: bool = False

    def __bool__(self) -> bool:
        return bool(self.items or self.lines or self.alerts or self.snapshot is not None or self.crm
                    or self.outgoing or self.conversations)

    def put_back(self, failed: Batch) -> None:
        """A write of ``failed`` did not commit: its content goes first into this one."""
        self.items[:0], self.lines[:0], self.alerts[:0] = failed.items, failed.lines, failed.alerts
        self.crm[:0] = failed.crm
        self.outgoing[:0] = failed.outgoing
        self.conversations = {**failed.conversations, **self.conversations}  # the newer state wins
        self.retried = True



class ChannelHistory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_all(self) -> None:
        Base.metadata.create_all(self.engine)

    # -------------------------------------------------------------- writes
    def write(self, batch: Batch) -> None:
        # Core statements, the rows as plain dicts: the ORM's bookkeeping per row cost
        # more than the database itself (issue 16); one executemany per table
        with Session(self.engine) as session, session.begin():
            db = session.connection()
            # the items' stored rows, for the lines to follow; a new item is not stored yet
            # (a chat's id is new, an e-mail's or form's was looked up) unless a write of it failed
            fresh = set() if batch.retried else {new.item_id for new in batch.items}
            items = self._items(db, ({new.item_id for new in batch.items} | {line.item_id for line in batch.lines})
                                - fresh)
            new_items: dict[str, dict[str, Any]] = {}
            for new in batch.items:
                if new.item_id not in items:
                    items[new.item_id] = new_items[new.item_id] = {
                        "item_id": new.item_id, "kind": new.kind, "queue_id": new.queue_id, "client": new.client,
                        "agent_id": None, "status": OPEN, "created_at": new.at, "updated_at": new.at,
                        "closed_at": None, "first_response_at": None, "detail": new.detail}
            followed: dict[str, dict[str, Any]] = {}  # stored items the lines changed
            for line in batch.lines:
                row = items.get(line.item_id)
                if row is not None:
                    _follow(row, line)
                    if line.item_id not in new_items:
                        followed[line.item_id] = row
            if db.dialect.name == "sqlite":
                _write_sqlite(_driver(db), batch, list(new_items.values()), followed)
            else:
                _write_at_once(db, batch, list(new_items.values()), followed)
            for job in batch.outgoing:  # no savepoint: a reply is never acknowledged without its job
                job(session)
            for change in batch.crm:
                try:
                    with session.begin_nested():  # one bad CRM change costs only itself, not the chats
                        change(session)
                except Exception:
                    log.exception("channels.crm_change_failed")

    @staticmethod
    def _items(db: Connection, item_ids: set[str]) -> dict[str, dict[str, Any]]:
        """The stored rows of these items, by id, the columns ``_follow`` reads and sets
        (not the detail's JSON): one query per IN_LIST_MAX ids (a query per item would
        wait a round trip each, on PostgreSQL most of a write's time)."""
        wanted, found = list(item_ids), {}
        for chunk in range(0, len(wanted), IN_LIST_MAX):
            ids = wanted[chunk:chunk + IN_LIST_MAX]
            if db.dialect.name == "sqlite":
                rows = _driver(db).execute(_SQLITE_ITEMS.format(", ".join("?" * len(ids))), ids)
            else:
                rows = db.execute(_STORED_ITEMS, {"ids": ids})
            for row in rows:
                found[row[0]] = dict(zip(_STORED, row, strict=True))
        return found

    # -------------------------------------------------------------- reads
    def snapshot(self) -> dict[str, Any] | None:
        """The desk's state as written: the router's snapshot with its conversations
        (from their rows; a snapshot from before them holds them itself) and the open
        chats by "<queue>|<client>"."""
        with Session(self.engine) as session:
            row = session.get(RouterStateRow, SNAPSHOT)
            if row is None:
                return None
            saved = dict(row.data)
            if "conversations" not in saved.get("router", {}):
                rows = list(session.scalars(select(ConversationRow).order_by(ConversationRow.rank,
                                                                              ConversationRow.conversation_id)))
                saved["router"] = {**saved["router"], "conversations": [r.data for r in rows]}
                saved["open"] = {**saved.get("open", {}),
                                 **{r.chat_key: r.conversation_id for r in rows if r.chat_key is not None}}
            return saved

    def timeline(self, item_id: str) -> list[dict[str, Any]]:
        stmt = select(EventRow).where(EventRow.item_id == item_id).order_by(EventRow.id)
        with Session(self.engine) as session:
            return [{"at": r.at, "kind": r.kind, **r.detail} for r in session.scalars(stmt)]

    def recent(self, item_id: str, kind: str, limit: int) -> list[dict[str, Any]]:
        """The newest lines of ``kind`` in ``item_id``'s timeline, newest first (e.g. a
        connector's cursor)."""
        stmt = (select(EventRow).where(EventRow.item_id == item_id, EventRow.kind == kind)
                .order_by(EventRow.id.desc()).limit(limit))
        with Session(self.engine) as session:
            return [{"at": row.at, "kind": row.kind, **row.detail} for row in session.scalars(stmt)]

    def item(self, item_id: str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            row = session.get(ItemRow, item_id)
            return None if row is None else _item(row)

    def exists(self, item_ids: Sequence[str]) -> set[str]:
        with Session(self.engine) as session:
            return set(session.scalars(select(ItemRow.item_id).where(ItemRow.item_id.in_(list(item_ids)))))

    def open_items(self, agent_id: str, kinds: Sequence[str] = ("email", "form")) -> list[dict[str, Any]]:
        stmt = (select(ItemRow).where(ItemRow.agent_id == agent_id, ItemRow.status == OPEN, ItemRow.kind.in_(kinds))
                .order_by(ItemRow.created_at, ItemRow.item_id))
        with Session(self.engine) as session:
            return [_item(r) for r in session.scalars(stmt)]

    def counts(self) -> dict[str, int]:
        """Rows per table (checks and tests)."""
        with Session(self.engine) as session:
            return {table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
                    for table in (ItemRow, EventRow, AlertRow)}

    def alerts(self, limit: int = 100) -> list[dict[str, Any]]:
        stmt = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
        with Session(self.engine) as session:
            return [{"queue": r.queue_id, "at": r.at, "kind": r.kind, **r.detail} for r in session.scalars(stmt)]


_ITEMS, _EVENTS, _ALERTS, _STATE, _CONVERSATIONS = (
    cast(Table, row.__table__) for row in (ItemRow, EventRow, AlertRow, RouterStateRow, ConversationRow))
SNAPSHOT = "conversations"  # the router state's row
_FOLLOWED = ("updated_at", "first_response_at", "agent_id", "queue_id", "status", "closed_at")  # what _follow sets
_STORED = ("item_id", "kind", *_FOLLOWED)  # what it reads of a stored item
_STORED_ITEMS = select(*(_ITEMS.c[c] for c in _STORED)).where(_ITEMS.c.item_id.in_(bindparam("ids", expanding=True)))


def _driver(db: Connection) -> Any:
    driver = db.connection.driver_connection
    assert driver is not None  # the session's connection is open
    return driver


# SQLite's statements, by the driver (sqlite3): the rows as tuples and the JSON columns
# as ``json_text`` writes them. SQLAlchemy's work per statement and per row (its
# parameters, types and results) cost several times SQLite's own (issue 16); the texts
# are the same each time, so sqlite3 keeps them prepared
def _sqlite_insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


_SQLITE_ITEMS = f"SELECT {', '.join(_STORED)} FROM channel_items WHERE item_id IN ({{}})"
_SQLITE_NEW_ITEMS = _sqlite_insert("channel_items", ("item_id", "kind", "queue_id", "client", "agent_id", "status",
                                                     "created_at", "updated_at", "closed_at", "first_response_at",
                                                     "detail"))
_SQLITE_FOLLOW_ITEMS = (f"UPDATE channel_items SET {', '.join(f'{c} = ?' for c in _FOLLOWED)} "
                        "WHERE item_id = ?")
_SQLITE_NEW_EVENTS = _sqlite_insert("channel_events", ("item_id", "at", "kind", "detail"))
_SQLITE_NEW_ALERTS = _sqlite_insert("channel_alerts", ("queue_id", "at", "kind", "detail"))
_SQLITE_SAVE_SNAPSHOT = ("INSERT INTO channel_router_state (name, saved_at, data) VALUES (?, ?, ?) ON CONFLICT "
                         "(name) DO UPDATE SET saved_at = excluded.saved_at, data = excluded.data")
_SQLITE_DELETE_CONVERSATIONS = "DELETE FROM channel_conversations WHERE conversation_id = ?"
_SQLITE_SAVE_CONVERSATIONS = (_sqlite_insert("channel_conversations", ("conversation_id", "rank", "chat_key", "data"))
                              + " ON CONFLICT (conversation_id) DO UPDATE SET rank = excluded.rank, "
                              "chat_key = excluded.chat_key, data = excluded.data")


def _write_sqlite(driver: Any, batch: Batch, new_items: list[dict[str, Any]],
                  followed: dict[str, dict[str, Any]]) -> None:
    """A write's rows on SQLite, an executemany per table (no round trips to save)."""
    if new_items:
        driver.executemany(_SQLITE_NEW_ITEMS, [
            (r["item_id"], r["kind"], r["queue_id"], r["client"], r["agent_id"], r["status"], r["created_at"],
             r["updated_at"], r["closed_at"], r["first_response_at"], json_text(r["detail"])) for r in new_items])
    if followed:
        driver.executemany(_SQLITE_FOLLOW_ITEMS, [(*(row[c] for c in _FOLLOWED), item_id)
                                                  for item_id, row in followed.items()])
    if batch.lines:
        driver.executemany(_SQLITE_NEW_EVENTS, [(line.item_id, line.at, line.kind, json_text(line.detail))
                                                for line in batch.lines])
    if batch.alerts:
        driver.executemany(_SQLITE_NEW_ALERTS, [(alert.item_id, alert.at, alert.kind, json_text(alert.detail))
                                                for alert in batch.alerts])
    if batch.snapshot is not None:
        driver.execute(_SQLITE_SAVE_SNAPSHOT, (SNAPSHOT, batch.snapshot_at, json_text(batch.snapshot)))
    if batch.conversations:
        closed = [(cid,) for cid, state in batch.conversations.items() if state is None]
        if closed:
            driver.executemany(_SQLITE_DELETE_CONVERSATIONS, closed)
        rows = [(cid, state.rank, state.chat_key, json_text(state.data))
                for cid, state in batch.conversations.items() if state is not None]
        if rows:
            driver.executemany(_SQLITE_SAVE_CONVERSATIONS, rows)


def _write_at_once(db: Connection, batch: Batch, new_items: list[dict[str, Any]],
                   followed: dict[str, dict[str, Any]]) -> None:
    """A write's rows on PostgreSQL: one statement, whatever the tables, each table's
    rows one JSON parameter (``json_populate_recordset``) written by orjson in one
    call. A statement per table (COPY) waited for the server each, and psycopg's
    COPY wrote its rows in Python: the writer's thread held the GIL for a third of
    the HTTP benchmark (issue 16). Each part writes rows no other part touches (new
    items and followed ones, changed conversations and closed ones), so the parts
    sharing one snapshot of the database changes nothing."""
    parts: list[str] = []
    params: list[Any] = []
    if new_items:
        parts.append(_PG_NEW_ITEMS)
        params.append(json_text(new_items))
    if followed:
        parts.append(_PG_FOLLOW_ITEMS)
        params.append(json_text([{**{key: row[key] for key in _FOLLOWED}, "item_id": item_id}
                                 for item_id, row in followed.items()]))
    if batch.lines:
        parts.append(_PG_NEW_EVENTS)
        params.append(json_text(_event_rows(batch.lines)))
    if batch.alerts:
        parts.append(_PG_NEW_ALERTS)
        params.append(json_text(_alert_rows(batch.alerts)))
    if batch.snapshot is not None:
        parts.append(_PG_SAVE_SNAPSHOT)
        params += [SNAPSHOT, batch.snapshot_at, json_text(batch.snapshot)]
    closed = [cid for cid, state in batch.conversations.items() if state is None]
    if closed:
        parts.append(_PG_DELETE_CONVERSATIONS)
        params.append(closed)
    rows = _conversation_rows(batch)
    if rows:
        parts.append(_PG_SAVE_CONVERSATIONS)
        params.append(json_text(rows))
    if not parts:
        return
    # data-modifying WITH parts all run, to the end, whether the last one reads them or not
    statement = "".join(f"WITH w{n} AS ({part}) " if n == 0 else f", w{n} AS ({part}) "
                        for n, part in enumerate(parts[:-1])) + parts[-1]
    driver = db.connection.driver_connection
    assert driver is not None  # the session's connection is open
    with driver.cursor() as cursor:  # the same few texts each time: psycopg prepares them
        cursor.execute(statement, params)


def _event_rows(lines: list[Line]) -> list[dict[str, Any]]:
    return [{"item_id": line.item_id, "at": line.at, "kind": line.kind, "detail": line.detail} for line in lines]


def _alert_rows(alerts: list[Line]) -> list[dict[str, Any]]:
    return [{"queue_id": alert.item_id, "at": alert.at, "kind": alert.kind, "detail": alert.detail}
            for alert in alerts]


def _conversation_rows(batch: Batch) -> list[dict[str, Any]]:
    return [{"conversation_id": cid, "rank": state.rank, "chat_key": state.chat_key, "data": state.data}
            for cid, state in batch.conversations.items() if state is not None]


def _rows_of(table: Table, columns: tuple[str, ...], ordered: bool = False) -> str:
    """SELECT these columns of the JSON array of rows (a parameter) as ``table``'s rows;
    ``ordered``: in the array's order, for the ids given on insert (a timeline's order)."""
    select_ = (f"SELECT {', '.join(f'r.{c}' for c in columns)} "
               f"FROM json_populate_recordset(NULL::{table.name}, %s::json)")
    return select_ + (" WITH ORDINALITY AS r ORDER BY r.ordinality" if ordered else " AS r")


def _pg_insert(table: Table, columns: tuple[str, ...], ordered: bool = False) -> str:
    return f"INSERT INTO {table.name} ({', '.join(columns)}) " + _rows_of(table, columns, ordered)


_ITEM_COLUMNS = tuple(c.name for c in _ITEMS.c)
_CONVERSATION_COLUMNS = ("conversation_id", "rank", "chat_key", "data")
_PG_NEW_ITEMS = _pg_insert(_ITEMS, _ITEM_COLUMNS)
_PG_NEW_EVENTS = _pg_insert(_EVENTS, ("item_id", "at", "kind", "detail"), ordered=True)
_PG_NEW_ALERTS = _pg_insert(_ALERTS, ("queue_id", "at", "kind", "detail"), ordered=True)
_PG_SAVE_SNAPSHOT = (f"INSERT INTO {_STATE.name} (name, saved_at, data) VALUES (%s, %s, %s::json) "
                     "ON CONFLICT (name) DO UPDATE SET saved_at = excluded.saved_at, data = excluded.data")
_PG_DELETE_CONVERSATIONS = f"DELETE FROM {_CONVERSATIONS.name} WHERE conversation_id = ANY(%s)"
_PG_SAVE_CONVERSATIONS = (_pg_insert(_CONVERSATIONS, _CONVERSATION_COLUMNS)
                          + " ON CONFLICT (conversation_id) DO UPDATE SET rank = excluded.rank, "
                          "chat_key = excluded.chat_key, data = excluded.data")


_PG_FOLLOW_ITEMS = (f"UPDATE {_ITEMS.name} AS t SET {', '.join(f'{c} = r.{c}' for c in _FOLLOWED)} "
                    f"FROM ({_rows_of(_ITEMS, ('item_id', *_FOLLOWED))}) AS r WHERE t.item_id = r.item_id")


def _follow(row: dict[str, Any], line: Line) -> None:
    """Keep the item row current from its timeline."""
    row["updated_at"] = line.at
    detail = line.detail
    if row["first_response_at"] is None and _responds(row["kind"], line):
        row["first_response_at"] = line.at
    if line.kind in ("accepted", "assigned"):
        row["agent_id"] = detail.get("agent")
    elif line.kind in ("returned_to_queue", "transferred", "waiting"):
        row["agent_id"] = None
        if line.kind == "transferred" and detail.get("to_queue"):
            row["queue_id"] = detail["to_queue"]
    elif line.kind == "closed":
        row["status"], row["closed_at"] = CLOSED, line.at


def _responds(kind: str, line: Line) -> bool:
    """Whether ``line`` is an agent's first response to the customer, as the reports count it."""
    if line.kind in ("answered", "reply"):
        return True
    if line.kind == "message":
        return line.detail.get("sender") == "agent"
    return line.kind == "closed" and kind == "form"  # a form has no reply: handling it is the response


def _item(row: ItemRow) -> dict[str, Any]:
    return {"id": row.item_id, "kind": row.kind, "queue": row.queue_id, "client": row.client,
            "agent": row.agent_id, "status": row.status, "created_at": row.created_at,
            "updated_at": row.updated_at, "closed_at": row.closed_at, "detail": row.detail}
