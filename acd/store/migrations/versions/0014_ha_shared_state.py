"""What several acd nodes on one PostgreSQL database share: the settings saved in the
web UI and the active node's live picture (``acd.ha.shared_state``).

Revision ID: 0014_ha_shared_state
Revises: 0013_conversation_rows
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Inspector

from acd.store.migrations.steps import create_table, drop_tables, has_tables

revision = "0014_ha_shared_state"
down_revision = "0013_conversation_rows"
branch_labels = None
depends_on = None

TABLES = ("shared_state",)


def present(inspector: Inspector) -> bool:
    return has_tables(inspector, *TABLES)


def upgrade() -> None:
    create_table(
        "shared_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
    )


def downgrade() -> None:
    drop_tables(*TABLES)
