"""Finding clients by what a person types: a phone number in any form, an e-mail
address, a messenger id ("telegram:42", "tg:42") or part of a name.

The text is normalised like every identity the service matches on
(``acd.crm.identity``), so "030 1234567", "+49 30 1234567" and "0049301234567" find
the same client. Digits that are no whole number (part of one) match inside the
stored numbers. Results are paged and bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..crm.identity import PHONE, Identity, parse_client
from ..crm.models import Client, ClientIdentity

MAX_QUERY = 200  # characters of search text
MAX_LIMIT = 100  # clients per page
_MIN_PARTIAL_DIGITS = 4  # fewer digits than this match far too many numbers


@dataclass(frozen=True, slots=True)
class Found:
    clients: list[Client]
    more: bool  # another page follows


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_clients(session: Session, text: str, *, region: str = "DE", limit: int = 20, offset: int = 0) -> Found:
    """Clients whose identity is the one typed, or whose name or identities contain it;
    best matches (a whole identity) first, then by name."""
    text = text.strip()[:MAX_QUERY]
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    if not text:
        stmt = select(Client).order_by(Client.updated_at.desc(), Client.id.desc())
        rows = list(session.scalars(stmt.limit(limit + 1).offset(offset)))
        return Found(rows[:limit], len(rows) > limit)
    exact: Identity | None = parse_client(text, region)
    conditions = [func.lower(Client.name).like(_like(text.lower()), escape="\\")]
    matching = select(ClientIdentity.client_id)
    if exact is not None:
        conditions.append(Client.id.in_(matching.where(ClientIdentity.kind == exact.kind,
                                                       ClientIdentity.value == exact.value)))
    digits = re.sub(r"\D", "", text)
    if len(digits) >= _MIN_PARTIAL_DIGITS and not re.search(r"[^\d\s()+./-]", text):
        # part of a number ("1234567" of +49301234567) as well as the number it may be
        conditions.append(Client.id.in_(matching.where(ClientIdentity.kind == PHONE,
                                                       ClientIdentity.value.like(_like(digits), escape="\\"))))
    elif exact is None:
        conditions.append(Client.id.in_(matching.where(
            func.lower(ClientIdentity.value).like(_like(text.lower()), escape="\\"))))
    stmt = select(Client).where(or_(*conditions)).order_by(Client.name, Client.id)
    rows = list(session.scalars(stmt.limit(limit + 1).offset(offset)))
    if exact is not None and offset == 0:  # the client holding the typed identity first
        rows.sort(key=lambda c: not any(i.kind == exact.kind and i.value == exact.value for i in c.identities))
    return Found(rows[:limit], len(rows) > limit)
