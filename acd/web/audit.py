"""The audit log: who changed what in the configuration (and in accounts), and when.

One row per change, in the history's database: the user, the time, a short action
("group saved", "user created"), the thing changed, and ``changes``, a diff of the
settings dicts as ``[{"item": "groups[0].rings", "before": 3, "after": 4}, ...]``.
Secrets never reach it: it is made from ``Settings.to_dict()``, which leaves them out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Engine, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..store.models import Base


class AuditRow(Base):
    __tablename__ = "web_audit"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(index=True)
    user_id: Mapped[int | None]
    username: Mapped[str] = mapped_column(String(64))  # kept as it was: users may be deleted later
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    user_id: int | None
    username: str
    action: str
    target: str
    changes: list[dict[str, Any]]


def diff(before: Any, after: Any, item: str = "") -> list[dict[str, Any]]:
    """What differs between two JSON-like values, item by item (lists of things with an
    ``id`` are matched by id, so moving one group is not a change of every group)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in list(before) + [k for k in after if k not in before]:
            sub = f"{item}.{key}" if item else str(key)
            if key not in after:
                out.append({"item": sub, "before": before[key], "after": None})
            elif key not in before:
                out.append({"item": sub, "before": None, "after": after[key]})
            else:
                out += diff(before[key], after[key], sub)
        return out
    if _keyed(before) and _keyed(after):
        old, new = {x["id"]: x for x in before}, {x["id"]: x for x in after}
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            out += diff(old.get(key), new.get(key), f'{item}["{key}"]') if key in old and key in new else [
                {"item": f'{item}["{key}"]', "before": old.get(key), "after": new.get(key)}]
        if [x["id"] for x in before if x["id"] in new] != [x["id"] for x in after if x["id"] in old]:
            out.append({"item": f"{item} (order)", "before": [x["id"] for x in before],
                        "after": [x["id"] for x in after]})
        return out
    return [] if before == after else [{"item": item, "before": before, "after": after}]


def _keyed(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, dict) and isinstance(x.get("id"), str) for x in value) \
        and len({x["id"] for x in value}) == len(value)


class AuditLog:
    def __init__(self, engine: Engine, *, clock: Any = time.time, create: bool = True) -> None:
        self.engine = engine
        self._now = clock
        if create:
            Base.metadata.create_all(engine, tables=[AuditRow.__table__])  # type: ignore[list-item]

    def write(self, user: Any, action: str, target: str = "", changes: list[dict[str, Any]] | None = None) -> None:
        """``user``: an ``acd.web.security.User`` (or None for the system itself)."""
        with Session(self.engine) as s, s.begin():
            s.add(AuditRow(at=self._now(), user_id=getattr(user, "id", None),
                           username=getattr(user, "username", "system"), action=action, target=target,
                           changes=list(changes or [])))

    def entries(self, *, limit: int = 100, offset: int = 0, target: str | None = None) -> list[AuditEntry]:
        q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit).offset(offset)
        if target is not None:
            q = q.where(AuditRow.target == target)
        with Session(self.engine) as s:
            return [AuditEntry(r.id, r.at, r.user_id, r.username, r.action, r.target, list(r.changes or []))
                    for r in s.scalars(q)]
