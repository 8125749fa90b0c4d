"""The open chat conversations one row each (``channel_conversations``) beside the
router's snapshot, so that a write carries only the conversations it changed.

A snapshot from before holds its conversations itself; the desk reads either and writes
the rows at its first write. A downgrade folds the rows back into the snapshot.

Revision ID: 0013_conversation_rows
Revises: 0012_bitrix24_portal
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Inspector

from acd.store.migrations.steps import create_table, drop_tables, has_tables

revision = "0013_conversation_rows"
down_revision = "0012_bitrix24_portal"
branch_labels = None
depends_on = None


def present(inspector: Inspector) -> bool:
    return has_tables(inspector, "channel_conversations")


def upgrade() -> None:
    create_table(
        "channel_conversations",
        sa.Column("conversation_id", sa.String(255), primary_key=True),
        sa.Column("rank", sa.BigInteger(), nullable=False),
        sa.Column("chat_key", sa.String(400), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT conversation_id, chat_key, data FROM channel_conversations ORDER BY rank, "
                                "conversation_id")).fetchall()
    state = bind.execute(sa.text("SELECT data FROM channel_router_state WHERE name = 'conversations'")).fetchone()
    if state is not None:
        saved = state[0] if isinstance(state[0], dict) else json.loads(state[0])
        if "conversations" not in saved.get("router", {}):
            saved["router"]["conversations"] = [r[2] if isinstance(r[2], dict) else json.loads(r[2]) for r in rows]
            saved["open"] = {**saved.get("open", {}), **{r[1]: r[0] for r in rows if r[1] is not None}}
            table = sa.table("channel_router_state", sa.column("name", sa.String), sa.column("data", sa.JSON))
            bind.execute(table.update().where(table.c.name == "conversations").values(data=saved))
    drop_tables("channel_conversations")
