"""The call history: calls, their timelines, the agents who took part, evenly's rotation.

Landed in 2c1553a ("Call history store: typed SQLAlchemy tables ..."), with every time
a timezone-aware datetime (TIMESTAMP WITH TIME ZONE; naive UTC text on SQLite).

Revision ID: 0002_calls
Revises: 0001_crm
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Inspector

from acd.store.migrations.steps import EventId, create_table, drop_tables, has_tables

revision = "0002_calls"
down_revision = "0001_crm"
branch_labels = None
depends_on = None

TABLES = ("calls", "call_events", "call_agents", "group_offers")
Time = sa.DateTime(timezone=True)


def present(inspector: Inspector) -> bool:
    return has_tables(inspector, *TABLES)


def upgrade() -> None:
    create_table(
        "calls",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("did", sa.String(64), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("group_id", sa.String(64), nullable=True),
        sa.Column("arrived_at", Time, nullable=False),
        sa.Column("answered_at", Time, nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=True),
        sa.Column("picked_up_from", sa.String(64), nullable=True),
        sa.Column("transferred_to", sa.String(64), nullable=True),
        sa.Column("forwarded_to", sa.String(64), nullable=True),
        sa.Column("mailbox", sa.String(64), nullable=True),
        sa.Column("ended_at", Time, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("waited_s", sa.Float(), nullable=True),
        sa.Column("hung_up_by", sa.String(16), nullable=True),
        sa.Column("missed", sa.Boolean(), nullable=False),
        sa.Column("missed_reason", sa.String(200), nullable=True),
        sa.Column("tried", sa.JSON(), nullable=False),
        sa.Column("called_back", sa.Boolean(), nullable=False),
        sa.Column("called_back_at", Time, nullable=True),
        sa.Column("called_back_by", sa.String(64), nullable=True),
        indexes=tuple((f"ix_calls_{column}", [column]) for column in (
            "caller_number", "group_id", "arrived_at", "answered_by", "ended_at", "outcome", "missed")),
    )
    create_table(
        "call_events",
        sa.Column("id", EventId, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        indexes=(("ix_call_events_call_id_id", ["call_id", "id"]),),
    )
    create_table(
        "call_agents",
        sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        indexes=(("ix_call_agents_agent_id", ["agent_id", "call_id"]),),
    )
    create_table(
        "group_offers",
        sa.Column("group_id", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("last_offered_at", Time, nullable=False),
    )


def downgrade() -> None:
    drop_tables(*reversed(TABLES))
