"""Call history times as float seconds since the epoch (double precision), like the core
and the CRM tables; the values are converted in place, to the microsecond.

Landed in 2b62fba ("Store: times as float epoch seconds ..."). A database left with the
old datetimes is what made ``/history`` answer 500 and evenly groups stop routing: the
code compared the text SQLite returned with floats.

Revision ID: 0003_epoch_times
Revises: 0002_calls
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Inspector

revision = "0003_epoch_times"
down_revision = "0002_calls"
branch_labels = None
depends_on = None

TIMES = {
    "calls": ("arrived_at", "answered_at", "ended_at", "called_back_at"),
    "call_events": ("at",),
    "group_offers": ("last_offered_at",),
}
REQUIRED = {"arrived_at", "at", "last_offered_at"}
Time = sa.DateTime(timezone=True)


def present(inspector: Inspector) -> bool:
    if not inspector.has_table("calls"):
        return False
    arrived_at = next(c for c in inspector.get_columns("calls") if c["name"] == "arrived_at")
    return not isinstance(arrived_at["type"], sa.DateTime)


def upgrade() -> None:
    bind = op.get_bind()
    if present(sa.inspect(bind)):
        return  # made by an acd from before migrations that had float times already
    for table, columns in TIMES.items():
        if bind.dialect.name == "sqlite":
            # SQLite kept naive UTC text ('2026-11-25 05:55:17.123456'): whole seconds by
            # strftime, the fraction as written
            for c in columns:
                op.execute(f"UPDATE {table} SET {c} = CAST(strftime('%s', {c}) AS REAL)"
                           f" + CAST(COALESCE(NULLIF(substr({c}, 20), ''), '0') AS REAL)"
                           f" WHERE typeof({c}) = 'text'")
        with op.batch_alter_table(table) as batch:
            for c in columns:
                batch.alter_column(c, type_=sa.Double(), existing_type=Time, existing_nullable=c not in REQUIRED,
                                   postgresql_using=f"EXTRACT(EPOCH FROM {c})::double precision")
            if table == "calls":
                batch.alter_column("waited_s", type_=sa.Double(), existing_type=sa.Float(), existing_nullable=True)


def downgrade() -> None:
    bind = op.get_bind()
    for table, columns in TIMES.items():
        with op.batch_alter_table(table) as batch:
            for c in columns:
                batch.alter_column(c, type_=Time, existing_type=sa.Double(), existing_nullable=c not in REQUIRED,
                                   postgresql_using=f"to_timestamp({c})")
            if table == "calls":
                batch.alter_column("waited_s", type_=sa.Float(), existing_type=sa.Double(), existing_nullable=True)
        if bind.dialect.name == "sqlite":
            for c in columns:  # back to the text the old code wrote, via whole microseconds
                op.execute(f"UPDATE {table} SET {c} = strftime('%Y-%m-%d %H:%M:%S',"
                           f" CAST(round({c} * 1000000) AS INTEGER) / 1000000, 'unixepoch')"
                           f" || printf('.%06d', CAST(round({c} * 1000000) AS INTEGER) % 1000000)"
                           f" WHERE typeof({c}) IN ('real', 'integer')")
