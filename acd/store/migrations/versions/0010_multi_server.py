"""Several Asterisk servers: each call and each line of its log names its server.

A call is known by (server, Uniqueid): its id is "<Uniqueid>@<server>" on any server
but the first (acd.core.call_keys), and ``server`` says which, to filter and show.
Calls recorded before are the only server's, named "main".

Revision ID: 0010_multi_server
Revises: 0009_user_time_zone
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Inspector

revision = "0010_multi_server"
down_revision = "0009_user_time_zone"
branch_labels = None
depends_on = None

MAIN_SERVER = "main"  # the name [ami] gives its one server (acd.config)


def _has_server(inspector: Inspector, table: str) -> bool:
    return table in inspector.get_table_names() and any(c["name"] == "server" for c in inspector.get_columns(table))


def present(inspector: Inspector) -> bool:
    return _has_server(inspector, "calls") and _has_server(inspector, "call_events")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not _has_server(inspector, "calls"):
        with op.batch_alter_table("calls") as table:  # SQLite rebuilds the table
            table.add_column(sa.Column("server", sa.String(64), nullable=False, server_default=MAIN_SERVER))
            table.create_index("ix_calls_server", ["server"])
    if not _has_server(inspector, "call_events"):
        with op.batch_alter_table("call_events") as table:
            table.add_column(sa.Column("server", sa.String(64), nullable=False, server_default=MAIN_SERVER))


def downgrade() -> None:
    with op.batch_alter_table("call_events") as table:
        table.drop_column("server")
    with op.batch_alter_table("calls") as table:
        table.drop_index("ix_calls_server")
        table.drop_column("server")
