"""The built-in CRM's tables and the outbox, on their own declarative base.

They live in the same database as the rest of acd (same URL) but are created here with
:func:`create_all`, so the CRM does not depend on ``acd.store``. Times are seconds
since the epoch as floats, like every other time in acd (``acd.clock``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Engine, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.pool import StaticPool


class Base(DeclarativeBase):
    pass


class Client(Base):
    """A contact or lead and the agent responsible for it (its owner)."""

    __tablename__ = "crm_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "lead" | "contact"
    name: Mapped[str] = mapped_column(String(200), default="")
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    # bumped by every owner change and sent along: a receiver can drop a stale change
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)

    identities: Mapped[list[ClientIdentity]] = relationship(
        back_populates="client", cascade="all, delete-orphan", lazy="selectin", order_by="ClientIdentity.id"
    )


class ClientIdentity(Base):
    """A phone number, e-mail address or messenger id; one belongs to one client only."""

    __tablename__ = "crm_identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_crm_identity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("crm_clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    added_at: Mapped[float] = mapped_column(Float)

    client: Mapped[Client] = relationship(back_populates="identities")


class Activity(Base):
    """The client's log: lead created, owner changed, missed call, identity linked."""

    __tablename__ = "crm_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("crm_clients.id", ondelete="CASCADE"), index=True)
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32))
    agent: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ExternalRef(Base):
    """The client's record in an external CRM (e.g. Bitrix24 LEAD 42), learnt on delivery."""

    __tablename__ = "crm_external_refs"
    __table_args__ = (UniqueConstraint("client_id", "target", name="uq_crm_external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("crm_clients.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))


class OutboxJob(Base):
    """One change to push to one external CRM, or one text to deliver to a customer
    (``acd.channels.outgoing``). Written in the transaction that made the change, so a
    crash can only lead to a repeat (same idempotency key), never a loss."""

    __tablename__ = "crm_outbox"
    __table_args__ = (
        Index("ix_crm_outbox_due", "state", "next_attempt_at"),
        Index("ix_crm_outbox_order", "target", "order_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    target: Mapped[str] = mapped_column(String(64))  # the connector's name
    # jobs with the same (target, order_key) are delivered in id order
    order_key: Mapped[str] = mapped_column(String(128))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("crm_clients.id", ondelete="SET NULL"))
    # "owner.changed" | "lead.created" | "call.finished"; to customers "message.out" | "email.reply"
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float)
    last_status: Mapped[int | None] = mapped_column(Integer)  # the CRM's last HTTP status
    last_error: Mapped[str | None] = mapped_column(Text)  # masked: never a URL token
    # a connector's steps already done (e.g. Bitrix24's CALL_ID after register)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return (f"OutboxJob(id={self.id}, target={self.target!r}, event={self.event!r}, state={self.state!r}, "
                f"attempts={self.attempts})")


def make_engine(url: str) -> Engine:
    """An engine usable from worker threads (the CRM writes off the event loop)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    if url in ("sqlite://", "sqlite:///:memory:", "sqlite+pysqlite://"):
        # one shared in-memory database across threads
        return create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    # timeout: wait for another writer (the store, the sender) instead of failing at once
    return create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})


def create_all(engine: Engine) -> None:
    Base.metadata.create_all(engine)


class Bitrix24PortalState(Base):
    """What acd learns about a Bitrix24 portal and must keep across restarts: its
    address after a rename (a redirect), and the local application's OAuth tokens,
    encrypted (``acd.crm.bitrix24_portal.TokenCipher``). Never the webhook's token."""

    __tablename__ = "crm_bitrix24_portals"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # the connector's name
    origin: Mapped[str | None] = mapped_column(String(300))  # scheme://host[:port] after a rename
    member_id: Mapped[str | None] = mapped_column(String(64))
    access_token: Mapped[str | None] = mapped_column(Text)  # Fernet token
    refresh_token: Mapped[str | None] = mapped_column(Text)  # Fernet token
    expires_at: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
