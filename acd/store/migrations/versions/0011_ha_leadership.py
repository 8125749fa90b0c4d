"""Leadership of acd nodes per Asterisk server (issue 15): the lease table.

Revision ID: 0011_ha_leadership
Revises: 0010_multi_server
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Inspector

from acd.store.migrations.steps import create_table, drop_tables, has_tables

revision = "0011_ha_leadership"
down_revision = "0010_multi_server"
branch_labels = None
depends_on = None

TABLES = ("ha_leases",)


def present(inspector: Inspector) -> bool:
    return has_tables(inspector, *TABLES)


def upgrade() -> None:
    create_table(
        "ha_leases",
        sa.Column("server", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("term", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
    )


def downgrade() -> None:
    drop_tables(*TABLES)
