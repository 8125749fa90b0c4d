"""Steps the revisions share: table creation that leaves an existing table alone."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Inspector

# a 64-bit key on PostgreSQL, SQLite's rowid alias (INTEGER PRIMARY KEY) there
EventId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def create_table(name: str, *columns: Any, indexes: tuple[tuple[str, list[str]], ...] = (),
                 **kw: Any) -> None:
    """``op.create_table`` and its indexes, skipped when the table is there already: an
    acd from before migrations created, at each start, every table it knew."""
    if sa.inspect(op.get_bind()).has_table(name):
        return
    op.create_table(name, *columns, **kw)
    for index, index_columns in indexes:
        op.create_index(index, name, index_columns)


def drop_tables(*names: str) -> None:
    for name in names:
        op.drop_table(name)


def has_tables(inspector: Inspector, *names: str) -> bool:
    present = set(inspector.get_table_names())
    return all(name in present for name in names)
