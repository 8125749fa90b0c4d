"""Chats, e-mails and forms: their items, timelines, supervisor alerts and the
conversation router's snapshot.

Landed in 6206adc ("Channels: the Desk runs the conversation router ...").

Revision ID: 0005_channels
Revises: 0004_web_accounts
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Inspector

from acd.store.migrations.steps import EventId, create_table, drop_tables, has_tables

revision = "0005_channels"
down_revision = "0004_web_accounts"
branch_labels = None
depends_on = None

TABLES = ("channel_items", "channel_events", "channel_alerts", "channel_router_state")


def present(inspector: Inspector) -> bool:
    return has_tables(inspector, *TABLES)


def upgrade() -> None:
    create_table(
        "channel_items",
        sa.Column("item_id", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("queue_id", sa.String(64), nullable=False),
        sa.Column("client", sa.String(320), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("closed_at", sa.Double(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        indexes=(("ix_channel_items_agent_status", ["agent_id", "status"]),
                 ("ix_channel_items_queue_id", ["queue_id"]),
                 ("ix_channel_items_created_at", ["created_at"])),
    )
    create_table(
        "channel_events",
        sa.Column("id", EventId, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(255), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        indexes=(("ix_channel_events_item_id_id", ["item_id", "id"]),),
    )
    create_table(
        "channel_alerts",
        sa.Column("id", EventId, primary_key=True, autoincrement=True),
        sa.Column("queue_id", sa.String(64), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        indexes=(("ix_channel_alerts_queue_id", ["queue_id"]), ("ix_channel_alerts_at", ["at"])),
    )
    create_table(
        "channel_router_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("saved_at", sa.Double(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    drop_tables(*reversed(TABLES))
