"""The one table several nodes share beside the history: small documents by name.

``settings``: the configuration sections saved through the web UI; ``live``: the
active node's live picture. Each row carries a version that grows with every write,
so a node that hears of a change (NOTIFY) knows whether it has seen it already.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import Base


class SharedStateRow(Base):
    __tablename__ = "shared_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[float]
