"""The audit log of configuration and account changes.

Landed in 0ebee17 ("Web UI: sign-in, queue groups, ... tokens and audit log ...").

Revision ID: 0006_web_audit
Revises: 0005_channels
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Inspector

from acd.store.migrations.steps import create_table, drop_tables, has_tables

revision = "0006_web_audit"
down_revision = "0005_channels"
branch_labels = None
depends_on = None

TABLES = ("web_audit",)


def present(inspector: Inspector) -> bool:
    return has_tables(inspector, *TABLES)


def upgrade() -> None:
    create_table(
        "web_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        indexes=(("ix_web_audit_at", ["at"]),),
    )


def downgrade() -> None:
    drop_tables(*TABLES)
