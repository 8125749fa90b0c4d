"""Reading the other channels' history the way people read it: a client's whole
thread across channels (chat lines, e-mails, forms in time order), and an agent's
latest work step (clocked in, on a break since...).

Blocking reads over ``acd.channels.history``'s tables: call them from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from .history import EventRow, ItemRow

THREAD_ITEMS = 50  # a client's most recent conversations, e-mails and forms read for a thread
WORK_STEPS = ("clocked_in", "clocked_out", "break_started", "break_ended")


def client_thread(engine: Engine, clients: Iterable[str], limit: int = 100) -> list[dict[str, Any]]:
    """The ``limit`` most recent entries written by or to these client strings (one
    client's identities: "telegram:42", "ann@x.org"...), oldest first. Each entry:
    ``at``, ``item`` (its conversation, e-mail or form), ``channel`` (chat, email,
    form), ``queue``, ``sender`` ("client" or "agent"), ``agent``, ``text``,
    ``subject`` (e-mails)."""
    wanted = sorted({c for c in clients if c})
    if not wanted:
        return []
    with Session(engine) as session:
        items = list(session.scalars(select(ItemRow).where(ItemRow.client.in_(wanted))
                                     .order_by(ItemRow.created_at.desc()).limit(THREAD_ITEMS)))
        by_id = {item.item_id: item for item in items}
        entries: list[dict[str, Any]] = []
        for item in items:
            if item.kind == "email":
                entries.append(_entry(item, item.created_at, "client", None, str(item.detail.get("body", "")),
                                      subject=str(item.detail.get("subject", ""))))
            elif item.kind == "form":
                fields = item.detail.get("fields", {})
                text = "\n".join(f"{k}: {v}" for k, v in fields.items()) if isinstance(fields, dict) else ""
                entries.append(_entry(item, item.created_at, "client", None, text))
        chats = [i for i in by_id if by_id[i].kind == "chat"]
        if chats:
            lines = list(session.scalars(select(EventRow).where(EventRow.item_id.in_(chats), EventRow.kind == "message")
                                         .order_by(EventRow.id.desc()).limit(limit)))
            for line in reversed(lines):  # oldest first: lines written in the same second keep their order
                detail = line.detail
                entries.append(_entry(by_id[line.item_id], line.at, str(detail.get("sender", "client")),
                                      detail.get("agent"), str(detail.get("text", ""))))
    entries.sort(key=lambda e: e["at"])
    return entries[-limit:]


def _entry(item: ItemRow, at: float, sender: str, agent: str | None, text: str, subject: str = "") -> dict[str, Any]:
    return {"at": at, "item": item.item_id, "channel": item.kind, "queue": item.queue_id, "sender": sender,
            "agent": agent, "text": text, "subject": subject}


def last_work_step(engine: Engine, agent_id: str) -> dict[str, Any] | None:
    """The agent's latest clock-in, clock-out or break step (``kind``, ``at``,
    ``reason`` for a break), or None if they never took one."""
    stmt = (select(EventRow).where(EventRow.item_id == f"agent:{agent_id}", EventRow.kind.in_(WORK_STEPS))
            .order_by(EventRow.id.desc()).limit(1))
    with Session(engine) as session:
        row = session.scalars(stmt).first()
        return None if row is None else {"kind": row.kind, "at": row.at, "reason": row.detail.get("reason", "")}
