"""Callback requests that keep the caller's place (issue 14), with their attempts.

Revision ID: 0007_callbacks
Revises: 0006_web_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Inspector

from acd.store.migrations.steps import create_table, drop_tables, has_tables

revision = "0007_callbacks"
down_revision = "0006_web_audit"
branch_labels = None
depends_on = None

TABLES = ("callback_requests",)


def present(inspector: Inspector) -> bool:
    return has_tables(inspector, *TABLES)


def upgrade() -> None:
    create_table(
        "callback_requests",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("did", sa.String(64), nullable=False),
        sa.Column("place", sa.Double(), nullable=False),
        sa.Column("requested_at", sa.Double(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("not_before", sa.Double(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        indexes=(("ix_callback_requests_state", ["state"]), ("ix_callback_requests_requested_at", ["requested_at"])),
    )


def downgrade() -> None:
    drop_tables(*TABLES)
