"""The reports: roll-up tables of the call history, each chat's, e-mail's and form's
first response, and the calls an agent's phone rang out on.

Revision ID: 0008_reports
Revises: 0007_callbacks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Inspector

from acd.store.migrations.steps import EventId, create_table, drop_tables, has_tables

revision = "0008_reports"
down_revision = "0007_callbacks"
branch_labels = None
depends_on = None

TABLES = ("report_state", "report_calls", "report_waits", "report_agents", "report_items", "report_agent_times")


def present(inspector: Inspector) -> bool:
    return has_tables(inspector, *TABLES)


def _sums(*names: str, kind: type[sa.types.TypeEngine] = sa.Integer) -> list[sa.Column]:
    return [sa.Column(name, kind(), nullable=False) for name in names]


def upgrade() -> None:
    create_table(
        "report_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("rolled_until", sa.Double(), nullable=False),
    )
    create_table(
        "report_calls",
        sa.Column("id", EventId, primary_key=True, autoincrement=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        *_sums("calls", "waited_n"),
        *_sums("waited_sum", "waited_max", kind=sa.Double),
        *_sums("talk_n"),
        *_sums("talk_sum", kind=sa.Double),
        *_sums(*(f"h{hour:02d}" for hour in range(24))),
        indexes=(("ix_report_calls_day_group", ["day", "group_id"]),),
    )
    create_table(
        "report_waits",
        sa.Column("id", EventId, primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        *_sums("wait_s", "calls"),
        indexes=(("ix_report_waits_period_group", ["period", "group_id", "kind", "wait_s", "calls"]),),
    )
    create_table(
        "report_agents",
        sa.Column("id", EventId, primary_key=True, autoincrement=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("group_id", sa.String(64), nullable=False),
        *_sums("offers", "answers", "rang_out"),
        *_sums("talk_s", kind=sa.Double),
        *_sums("pickups", "transfers_made", "transfers_taken"),
        indexes=(("ix_report_agents_day_agent", ["day", "agent_id"]),),
    )
    create_table(
        "report_items",
        sa.Column("id", EventId, primary_key=True, autoincrement=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("queue_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        *_sums("items", "responded"),
        sa.Column("response_sum", sa.Double(), nullable=False),
        sa.Column("response_max", sa.Double(), nullable=True),
        indexes=(("ix_report_items_month", ["month"]),),
    )
    create_table(
        "report_agent_times",
        sa.Column("id", EventId, primary_key=True, autoincrement=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        *_sums("clocked_s", "break_s", kind=sa.Double),
        indexes=(("ix_report_agent_times_day", ["day"]),),
    )
    bind = op.get_bind()
    items = {c["name"] for c in sa.inspect(bind).get_columns("channel_items")}
    if "first_response_at" not in items:
        op.add_column("channel_items", sa.Column("first_response_at", sa.Double(), nullable=True))
        # the history so far: the first line that the reports count as a response
        op.execute("UPDATE channel_items SET first_response_at = (SELECT MIN(e.at) FROM channel_events e"
                   " WHERE e.item_id = channel_items.item_id AND (e.kind IN ('answered', 'reply')"
                   " OR (e.kind = 'closed' AND channel_items.kind = 'form')))")
    # the reports read items by creation time from the index alone; the agents' own lines
    # (clock-in, breaks) by agent, kind and time, not through the messages
    _index("ix_channel_items_report", "channel_items", ["created_at", "kind", "queue_id", "agent_id",
                                                         "first_response_at"])
    _index("ix_channel_items_updated_at", "channel_items", ["updated_at"])  # the items changed since a roll-up
    _index("ix_channel_events_item_kind_at", "channel_events", ["item_id", "kind", "at"])
    # the calls an agent's phone rang out on, from the decision log so far
    agent = "json_extract(detail, '$.agent')" if bind.dialect.name == "sqlite" else "detail->>'agent'"
    op.execute(f"INSERT INTO call_agents (call_id, agent_id, role) SELECT DISTINCT call_id, {agent}, 'rang_out'"
               f" FROM call_events e WHERE kind = 'no_answer' AND {agent} IS NOT NULL AND NOT EXISTS"
               f" (SELECT 1 FROM call_agents a WHERE a.call_id = e.call_id AND a.agent_id = {agent}"
               f" AND a.role = 'rang_out')")


def _index(name: str, table: str, columns: list[str]) -> None:
    """An index, unless an acd from before migrations made it already."""
    if name not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns)


def downgrade() -> None:
    op.execute("DELETE FROM call_agents WHERE role = 'rang_out'")
    op.drop_index("ix_channel_events_item_kind_at", "channel_events")
    op.drop_index("ix_channel_items_updated_at", "channel_items")
    op.drop_index("ix_channel_items_report", "channel_items")
    with op.batch_alter_table("channel_items") as batch:
        batch.drop_column("first_response_at")
    drop_tables(*reversed(TABLES))
