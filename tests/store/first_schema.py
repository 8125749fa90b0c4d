"""The schema as it first landed, captured from the models of that time, and a day of
data written the way that acd wrote it: the starting point of the upgrade tests.

- CRM tables: acd/crm/models.py of f397904, trimmed to the columns (no relationships);
- call history: acd/store/models.py of 2c1553a, every time a ``UtcDateTime`` (aware
  UTC on PostgreSQL, naive UTC text on SQLite), the types that later broke ``/history``
  and the evenly rotation when read as floats.

Kept here, not read from git: a checkout without history runs these tests too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def utc(value: float | datetime) -> datetime:
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
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)


EventId = BigInteger().with_variant(Integer(), "sqlite")


class CrmBase(DeclarativeBase):
    pass


class Client(CrmBase):
    __tablename__ = "crm_clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class ClientIdentity(CrmBase):
    __tablename__ = "crm_identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_crm_identity"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("crm_clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    added_at: Mapped[float] = mapped_column(Float)


class Activity(CrmBase):
    __tablename__ = "crm_activities"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("crm_clients.id", ondelete="CASCADE"), index=True)
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32))
    agent: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ExternalRef(CrmBase):
    __tablename__ = "crm_external_refs"
    __table_args__ = (UniqueConstraint("client_id", "target", name="uq_crm_external_ref"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("crm_clients.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))


class OutboxJob(CrmBase):
    __tablename__ = "crm_outbox"
    __table_args__ = (
        Index("ix_crm_outbox_due", "state", "next_attempt_at"),
        Index("ix_crm_outbox_order", "target", "order_key", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    target: Mapped[str] = mapped_column(String(64))
    order_key: Mapped[str] = mapped_column(String(128))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("crm_clients.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StoreBase(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[str]: JSON}


class CallRow(StoreBase):
    __tablename__ = "calls"
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    did: Mapped[str] = mapped_column(String(64), default="")
    caller_number: Mapped[str] = mapped_column(String(64), default="", index=True)
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    group_id: Mapped[str | None] = mapped_column(String(64), index=True)
    arrived_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(64), index=True)
    picked_up_from: Mapped[str | None] = mapped_column(String(64))
    transferred_to: Mapped[str | None] = mapped_column(String(64))
    forwarded_to: Mapped[str | None] = mapped_column(String(64))
    mailbox: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)
    waited_s: Mapped[float | None] = mapped_column(Float)
    hung_up_by: Mapped[str | None] = mapped_column(String(16))
    missed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    missed_reason: Mapped[str | None] = mapped_column(String(200))
    tried: Mapped[list[str]] = mapped_column(default=list)
    called_back: Mapped[bool] = mapped_column(Boolean, default=False)
    called_back_at: Mapped[datetime | None]
    called_back_by: Mapped[str | None] = mapped_column(String(64))


class CallEventRow(StoreBase):
    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_call_id_id", "call_id", "id"),)
    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CallAgentRow(StoreBase):
    __tablename__ = "call_agents"
    __table_args__ = (Index("ix_call_agents_agent_id", "agent_id", "call_id"),)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class GroupOfferRow(StoreBase):
    __tablename__ = "group_offers"
    group_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_offered_at: Mapped[datetime]


# evenly group "support" of acd.example.toml (chloe, dev, anna): dev waited longest
OFFERS = {("support", "chloe"): T0 + 130.25, ("support", "dev"): T0 + 10.000001, ("support", "anna"): T0 + 100.5}


def create(engine: Engine) -> None:
    """The first landed schema, as that acd's ``create_all`` made it."""
    CrmBase.metadata.create_all(engine)
    StoreBase.metadata.create_all(engine)


def fill(engine: Engine) -> None:
    """Calls (answered, missed with its call-back list entry, still live), their
    timelines and agents, evenly's rotation, and a CRM client with an outbox job."""
    with Session(engine) as s, s.begin():
        s.add(CallRow(call_id="a1", did="+4930222222", caller_number="+4915100000001", caller_name="Ann",
                      group_id="support", arrived_at=utc(T0), answered_at=utc(T0 + 5.123456), answered_by="chloe",
                      ended_at=utc(T0 + 60.5), outcome="answered", waited_s=5.123456, hung_up_by="caller",
                      tried=["chloe"]))
        s.add(CallRow(call_id="b1", did="+4930222222", caller_number="+4915100000002", group_id="support",
                      arrived_at=utc(T0 + 100), ended_at=utc(T0 + 150), outcome="voicemail", waited_s=30.0,
                      hung_up_by="caller", missed=True, missed_reason="nobody answered", tried=["anna", "chloe"],
                      mailbox="102@default"))
        s.add(CallRow(call_id="c1", did="+4930111111", caller_number="+4915100000003", group_id="sales",
                      arrived_at=utc(T0 + 200)))  # still ringing
        s.flush()
        for call_id, at, kind, detail in [
            ("a1", T0, "arrived", {"group": "support"}), ("a1", T0 + 0.5, "considered", {"agent": "chloe"}),
            ("a1", T0 + 5.123456, "answered", {"agent": "chloe"}), ("a1", T0 + 60.5, "ended", {"by": "caller"}),
            ("b1", T0 + 100, "arrived", {"group": "support"}), ("b1", T0 + 100.5, "considered", {"agent": "anna"}),
            ("b1", T0 + 130, "missed", {"reason": "nobody answered"}), ("b1", T0 + 150, "ended", {"by": "caller"}),
            ("c1", T0 + 200, "arrived", {"group": "sales"}),
        ]:
            s.add(CallEventRow(call_id=call_id, at=utc(at), kind=kind, detail=detail))
        s.add_all([CallAgentRow(call_id="a1", agent_id="chloe", role="answered"),
                   CallAgentRow(call_id="b1", agent_id="anna", role="offered"),
                   CallAgentRow(call_id="b1", agent_id="chloe", role="offered")])
        s.add_all([GroupOfferRow(group_id=g, agent_id=a, last_offered_at=utc(at)) for (g, a), at in OFFERS.items()])
        client = Client(kind="lead", name="Ann", owner="chloe", revision=1, created_at=T0, updated_at=T0 + 60)
        s.add(client)
        s.flush()
        s.add(ClientIdentity(client_id=client.id, kind="phone", value="+4915100000001", added_at=T0))
        s.add(OutboxJob(idempotency_key="lead-1", target="bitrix24", order_key=f"client:{client.id}",
                        client_id=client.id, event="lead.created", payload={"name": "Ann"}, next_attempt_at=T0,
                        created_at=T0, updated_at=T0))
