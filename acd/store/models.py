"""Tables of the call history (SQLAlchemy 2.0 declarative, portable SQLite/PostgreSQL).

Time: every time column holds float seconds since the epoch (UTC), like the core and
the CRM tables (double precision: microseconds survive). ``epoch()`` converts the
datetimes a caller may pass in filters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Double, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def epoch(value: float | datetime) -> float:
    """Epoch seconds, or a datetime (naive means UTC) as epoch seconds."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).timestamp()
    return float(value)


MAIN_SERVER = "main"  # the Asterisk server of calls recorded before there could be several (acd.config)

# a 64-bit key on PostgreSQL, SQLite's rowid alias (INTEGER PRIMARY KEY) there
EventId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {float: Double, dict[str, Any]: JSON, list[str]: JSON}


class CallRow(Base):
    """One inbound call, kept up to date from its records (see history.py)."""

    __tablename__ = "calls"

    # the caller channel's Uniqueid, "<Uniqueid>@<server>" on a server but the first (core.call_keys)
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # the Asterisk server the call was on; "main" for calls from before several servers
    server: Mapped[str] = mapped_column(String(64), default=MAIN_SERVER, server_default=MAIN_SERVER, index=True)
    did: Mapped[str] = mapped_column(String(64), default="")
    caller_number: Mapped[str] = mapped_column(String(64), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    group_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the last group it was in
    arrived_at: Mapped[float] = mapped_column(index=True)
    answered_at: Mapped[float | None]
    answered_by: Mapped[str | None] = mapped_column(String(64), index=True)  # agent id
    picked_up_from: Mapped[str | None] = mapped_column(String(64))
    transferred_to: Mapped[str | None] = mapped_column(String(64))
    forwarded_to: Mapped[str | None] = mapped_column(String(64))
    mailbox: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[float | None] = mapped_column(index=True)  # NULL: still live
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)
    waited_s: Mapped[float | None] = mapped_column()
    hung_up_by: Mapped[str | None] = mapped_column(String(16))
    # missed-call follow-up: the call-back list is missed AND NOT answered
    missed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    missed_reason: Mapped[str | None] = mapped_column(String(200))
    tried: Mapped[list[str]] = mapped_column(default=list)  # agent ids offered the call, in order
    called_back: Mapped[bool] = mapped_column(Boolean, default=False)
    called_back_at: Mapped[float | None]
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
    server: Mapped[str] = mapped_column(String(64), default=MAIN_SERVER, server_default=MAIN_SERVER)
    at: Mapped[float]
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    call: Mapped[CallRow] = relationship(back_populates="events")


class CallAgentRow(Base):
    """Which agents took part in a call and how: lets "calls of agent X" include the
    calls that rang X and were not answered by X (role: offered, answered, transferred,
    rang_out)."""

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
    last_offered_at: Mapped[float]


class CallbackRow(Base):
    """A callback request (``acd.core.callbacks``) as last recorded: the open ones are
    given back to the router after a restart; the rest are its history."""

    __tablename__ = "callback_requests"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the call's Uniqueid
    group_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    did: Mapped[str] = mapped_column(String(64), default="")
    place: Mapped[float]
    requested_at: Mapped[float] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    counted: Mapped[bool] = mapped_column(Boolean, default=False)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    not_before: Mapped[float] = mapped_column(default=0.0)
    outcomes: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[float]
