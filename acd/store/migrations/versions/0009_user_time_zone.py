"""Each user's own time zone for the pages (empty: the site's, [service] time_zone).

Revision ID: 0009_user_time_zone
Revises: 0008_reports
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Inspector

revision = "0009_user_time_zone"
down_revision = "0008_reports"
branch_labels = None
depends_on = None


def present(inspector: Inspector) -> bool:
    return "web_users" in inspector.get_table_names() and any(
        c["name"] == "time_zone" for c in inspector.get_columns("web_users"))


def upgrade() -> None:
    if not present(sa.inspect(op.get_bind())):
        with op.batch_alter_table("web_users") as table:  # SQLite rebuilds the table
            table.add_column(sa.Column("time_zone", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_users") as table:
        table.drop_column("time_zone")
