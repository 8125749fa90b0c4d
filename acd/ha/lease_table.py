"""The lease table: one row per Asterisk server, naming the node active for it."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import Base


class LeaseRow(Base):
    """Who is active for ``server`` and until when (``expires_at``: epoch seconds on the
    database's own clock). ``term`` is the fencing token: it grows by one at every
    change of holder, and a renewal counts only with the term it was granted under."""

    __tablename__ = "ha_leases"

    server: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    term: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[float]
