"""Tables of the call history (SQLAlchemy 2.0 declarative, portable SQLite/PostgreSQL).

Time: every column is a timezone-aware UTC datetime (``TIMESTAMP WITH TIME ZONE``
on PostgreSQL; SQLite has no time zones, so ``UtcDateTime`` writes naive UTC and
reads it back as aware UTC). The core's float epoch seconds are converted at the
store's edge (``utc()``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utc(value: float | datetime) -> datetime:
    """Epoch seconds or a datetime as an aware UTC datetime (naive means UTC)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromtimestamp(value, UTC)


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | float | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware = utc(value)
        # SQLite stores text: keep it naive UTC so that text order is time order
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)


# a 64-bit key on PostgreSQL, SQLite's rowid alias (INTEGER PRIMARY KEY) there
EventId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[str]: JSON}


class CallRow(Base):
    """One inbound call, kept up to date from its records (see history.py)."""

    __tablename__ = "calls"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the caller channel's Uniqueid
    did: Mapped[str] = mapped_column(String(64), default="")
    caller_number: Mapped[str] = mapped_column(String(64), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    group_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the last group it was in
    arrived_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(64), index=True)  # agent id
    picked_up_from: Mapped[str | None] = mapped_column(String(64))
    transferred_to: Mapped[str | None] = mapped_column(String(64))
    forwarded_to: Mapped[str | None] = mapped_column(String(64))
    mailbox: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(index=True)  # NULL: still live
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)
    waited_s: Mapped[float | None] = mapped_column(Float)
    hung_up_by: Mapped[str | None] = mapped_column(String(16))
    # missed-call follow-up: the call-back list is missed AND NOT answered
    missed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    missed_reason: Mapped[str | None] = mapped_column(String(200))
    tried: Mapped[list[str]] = mapped_column(default=list)  # agent ids offered the call, in order
    called_back: Mapped[bool] = mapped_column(Boolean, default=False)
    called_back_at: Mapped[datetime | None]
    called_back_by: Mapped[str | None] = mapped_column(String(64))

    events: Mapped[list[CallEventRow]] = relationship(
        back_populates="call", order_by="CallEventRow.id", cascade="all, delete-orphan"
    )
    agents: Mapped[list[CallAgentRow]] = relationship(back_populates="call", cascade="all, delete-orphan")


class CallEventRow(Base):
    """A line of a call's timeline and decision log: one core ``Record``."""

    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_call_id_id", "call_id", "id"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    call: Mapped[CallRow] = relationship(back_populates="events")


class CallAgentRow(Base):
    """Which agents took part in a call and how: lets "calls of agent X" include the
    calls that rang X and were not answered by X (role: offered, answered, transferred)."""

    __tablename__ = "call_agents"
    __table_args__ = (Index("ix_call_agents_agent_id", "agent_id", "call_id"),)

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)

    # also tells the unit of work to insert the call before its agents
    call: Mapped[CallRow] = relationship(back_populates="agents")


class GroupOfferRow(Base):
    """Evenly mode's rotation: when each member was last offered a call of the group."""

    __tablename__ = "group_offers"

    group_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_offered_at: Mapped[datetime]
