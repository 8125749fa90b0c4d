"""A Bitrix24 portal's address after a rename and the local application's tokens (encrypted).

Revision ID: 0012_bitrix24_portal
Revises: 0011_ha_leadership
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Inspector

from acd.store.migrations.steps import create_table, drop_tables, has_tables

revision = "0012_bitrix24_portal"
down_revision = "0011_ha_leadership"
branch_labels = None
depends_on = None


def present(inspector: Inspector) -> bool:
    return has_tables(inspector, "crm_bitrix24_portals")


def upgrade() -> None:
    create_table(
        "crm_bitrix24_portals",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("origin", sa.String(300), nullable=True),
        sa.Column("member_id", sa.String(64), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    drop_tables("crm_bitrix24_portals")
