"""The database's schema version: checked at start, brought to head by ``acd db upgrade``.

Alembic records the revision in ``alembic_version``; the revisions ship in the package
(``acd/store/migrations``), so an installed acd needs no alembic.ini. At start
(``ensure_current``): an empty database is created at head; an older one is refused
with a line that says to run ``acd db upgrade``, or upgraded when the settings say
so; a revision this acd does not know (a newer acd's) is always refused. A database
made before acd had migrations (tables, no ``alembic_version``) counts as older: each
revision knows how to recognise its change (``present``), and its steps skip what is
there already.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect
from sqlalchemy.exc import OperationalError

SCRIPTS = "acd.store:migrations"
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock's key: acd's schema changes, one at a time across processes
SCHEMA_LOCK = 0x0ACD_5C4E
UPGRADE_HINT = "back it up, then run `acd db upgrade` with the same --config (or --database URL)"
_T = TypeVar("_T")


class SchemaError(Exception):
    """A database acd must not run on as it is; the message is one line for the user."""


@dataclass(frozen=True)
class SchemaState:
    head: str
    current: tuple[str, ...]  # the revisions alembic_version holds; () when it holds none
    tables: bool  # any of acd's tables present
    looks_like: str | None = None  # no alembic_version: the newest revision its tables match

    @property
    def up_to_date(self) -> bool:
        return self.current == (self.head,)

    @property
    def empty(self) -> bool:
        return not self.current and not self.tables

    @property
    def unknown(self) -> tuple[str, ...]:
        known = revisions()
        return tuple(r for r in self.current if r not in known)

    def describe(self) -> str:
        if self.up_to_date:
            return f"{self.head} (current)"
        if self.empty:
            return "empty"
        if self.unknown:
            return f"{', '.join(self.current)} (unknown to this acd, whose newest is {self.head}: a newer acd's?)"
        if self.current:
            return f"{', '.join(self.current)} (older than {self.head})"
        match = f"its tables match {self.looks_like}" if self.looks_like else "its tables match no revision"
        return f"made before schema migrations ({match}; current is {self.head})"


def state(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        inspector = inspect(connection)
        current: tuple[str, ...] = ()
        if inspector.has_table(VERSION_TABLE):  # read here: Alembic's context would log its set-up
            current = tuple(connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars())
        tables = set(inspector.get_table_names()) & known_tables()
        looks_like = None
        if not current and tables:
            for revision, module in revisions().items():  # oldest first
                if not getattr(module, "present", lambda _: False)(inspector):
                    break
                looks_like = revision
    return SchemaState(head(), current, bool(tables), looks_like)


def ensure_current(engine: Engine, *, upgrade_older: bool = False) -> str:
    """The check at start. Returns what was done (for the log), or raises SchemaError."""
    found = _busy_retried(engine, lambda: state(engine))
    if found.up_to_date:
        return f"database schema at {found.head}"
    _refuse_unknown(found)
    if not found.empty and not upgrade_older:
        raise SchemaError(f"the database's schema is older than this acd's: {found.describe()}; {UPGRADE_HINT}")
    _busy_retried(engine, lambda: _migrate(engine))
    return f"database schema created at {found.head}" if found.empty else \
        f"database schema upgraded to {found.head} (was: {found.describe()})"


def _busy_retried(engine: Engine, step: Callable[[], _T]) -> _T:
    """SQLite: several acds opening one new file at once can meet "database is locked"
    at once, without the busy timeout (e.g. while another connection turns the file to
    WAL): the step is all or nothing, so it is tried again, a few times."""
    for attempt in range(5):
        try:
            return step()
        except OperationalError as error:
            if engine.dialect.name != "sqlite" or "locked" not in str(error) or attempt == 4:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


def upgrade(engine: Engine) -> SchemaState:
    """Bring the database to head (``acd db upgrade``); returns the state before."""
    found = state(engine)
    _refuse_unknown(found)
    if not found.up_to_date:
        _migrate(engine)
    return found


def _refuse_unknown(found: SchemaState) -> None:
    if found.unknown:
        raise SchemaError(f"the database's schema is at revision {', '.join(found.unknown)}, which this acd "
                          f"does not know (made by a newer acd?): run that acd, or restore a backup")


def revision(engine: Engine, message: str, metadata: Sequence[MetaData]) -> None:
    """(Developers) write a new revision from the difference between the models and
    ``engine``'s database brought to head, into the source tree's migrations/versions."""
    _migrate(engine)
    with _transaction(engine) as connection:
        command.revision(_config(connection, target_metadata=list(metadata)), message, autogenerate=True,
                         rev_id=f"{len(revisions()) + 1:04d}_{'_'.join(message.lower().split())[:20]}")


def _migrate(engine: Engine) -> None:
    with _transaction(engine) as connection:
        command.upgrade(_config(connection), "head")
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:  # raising rolls the whole upgrade back
                raise SchemaError(f"the upgrade would leave rows pointing at nothing ({broken[:3]}): not applied")


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for a whole upgrade: all of it or nothing."""
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with connection.begin():  # PostgreSQL's DDL is transactional
                # several acds starting together on one database: the others wait here,
                # then Alembic reads the version the first one committed and does nothing
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                yield connection
            return
        raw = connection.connection.driver_connection
        assert raw is not None
        # Batch mode copies a table, drops the old one and renames the copy: with foreign
        # keys enforced, dropping ``calls`` would delete every ``call_events`` row
        # (ON DELETE CASCADE). The pragma is ignored inside a transaction, so before one.
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                # pysqlite opens transactions only before DML, leaving DDL in autocommit:
                # open it ourselves; IMMEDIATE makes other writers wait for the upgrade
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                yield connection
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def _config(connection: Connection | None = None, **attributes: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    config.set_main_option("file_template", "%%(rev)s")  # the ids carry their slug (revision())
    config.attributes.update(connection=connection, **attributes)
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    found = _scripts().get_current_head()
    assert found is not None
    return found


def revisions() -> dict[str, ModuleType]:
    """Revision id -> its module, oldest first."""
    return {s.revision: s.module for s in reversed(list(_scripts().walk_revisions()))}


def known_tables() -> set[str]:
    return {table for module in revisions().values() for table in getattr(module, "TABLES", ())}
