"""The built-in CRM: clients, their identities, activity log, external records, outbox.

Landed in f397904 ("CRM clients: identities normalised for matching ...").

Revision ID: 0001_crm
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Inspector

from acd.store.migrations.steps import create_table, drop_tables, has_tables

revision = "0001_crm"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("crm_clients", "crm_identities", "crm_activities", "crm_external_refs", "crm_outbox")


def present(inspector: Inspector) -> bool:
    return has_tables(inspector, *TABLES)


def upgrade() -> None:
    create_table(
        "crm_clients",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        indexes=(("ix_crm_clients_owner", ["owner"]),),
    )
    create_table(
        "crm_identities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("crm_clients.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("added_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("kind", "value", name="uq_crm_identity"),
        indexes=(("ix_crm_identities_client_id", ["client_id"]),),
    )
    create_table(
        "crm_activities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("crm_clients.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        indexes=(("ix_crm_activities_client_id", ["client_id"]),),
    )
    create_table(
        "crm_external_refs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("crm_clients.id", ondelete="CASCADE"), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.UniqueConstraint("client_id", "target", name="uq_crm_external_ref"),
    )
    create_table(
        "crm_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("order_key", sa.String(128), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("crm_clients.id", ondelete="SET NULL"), nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        indexes=(("ix_crm_outbox_due", ["state", "next_attempt_at"]),
                 ("ix_crm_outbox_order", ["target", "order_key", "id"])),
    )


def downgrade() -> None:
    drop_tables(*reversed(TABLES))
