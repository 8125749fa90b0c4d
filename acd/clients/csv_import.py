"""Importing clients with their responsible persons from a CSV file.

Columns (a header line names them, in any order, any case): ``name``, ``phone``,
``email``, ``messenger`` (``telegram:42``), ``owner`` (an agent id; also
``responsible``), ``kind`` (``lead`` or ``contact``; default contact). A cell may
hold several values separated by ``;`` or ``|`` ("+49 30 1234567; 030 7654321").
The delimiter is a comma, a semicolon or a tab (as spreadsheets export), the text
UTF-8 (with or without a byte-order mark).

Line by line, not all or nothing: each good line is imported, each bad one refused
with its line number and the reason (unknown agent, bad phone number, no identity,
a duplicate of an earlier line, identities of two different clients). A line whose
identities belong to one existing client updates it: new identities are linked,
the responsible person is set, the name is filled in if it had none. Every
responsible person set or changed is pushed to the external CRMs as
``owner.changed`` (``reason: "import"``), in the import's transaction; clients are
not created in the external CRMs by an import (it usually comes from there).

The whole file is refused (:class:`ImportRefused`) only when it cannot be read:
not UTF-8, no header with a phone, email or messenger column, more than
:data:`MAX_LINES` lines. The caller bounds its size (:data:`MAX_BYTES`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..crm.clients import CONTACT, LEAD, link_identities, set_owner, snapshot_of
from ..crm.identity import Identity, InvalidIdentity
from ..crm.models import Activity, Client, ClientIdentity
from ..crm.outbox import OWNER_CHANGED, enqueue_many
from .changes import IMPORT, describe, push_owner, typed_identity

MAX_BYTES = 5 * 1024 * 1024
MAX_LINES = 50_000
MAX_CELL = 320  # longer than any name, address or number we keep
_LOOKUP_CHUNK = 500  # identities per IN (...) query
_BATCH = 1000  # new clients per multi-row INSERT
_SPLIT = re.compile(r"[;|]")

HEADER_ALIASES = {
    "name": "name", "full name": "name", "client": "name",
    "phone": "phone", "phones": "phone", "phone number": "phone", "telephone": "phone",
    "email": "email", "e-mail": "email", "emails": "email", "e-mail address": "email",
    "messenger": "messenger", "messengers": "messenger", "messenger id": "messenger",
    "owner": "owner", "responsible": "owner", "responsible person": "owner", "agent": "owner",
    "kind": "kind", "type": "kind",
}
KINDS = {"lead": LEAD, "contact": CONTACT, "": CONTACT}


class ImportRefused(ValueError):
    """The file as a whole cannot be imported; nothing was."""


@dataclass(frozen=True, slots=True)
class ImportLine:
    line: int  # the line number in the file (the header is line 1)
    outcome: str  # created | updated | unchanged | refused
    client_id: int | None = None
    reason: str = ""  # why refused; what changed for updated


@dataclass(slots=True)
class ImportReport:
    lines: list[ImportLine] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)

    def refused(self) -> list[ImportLine]:
        return [line for line in self.lines if line.outcome == "refused"]

    def to_json(self, *, limit: int = 1000) -> dict[str, Any]:
        """Counts, every refused line (up to ``limit``) and the others' client ids."""
        refused = self.refused()
        return {
            "created": self.count("created"), "updated": self.count("updated"),
            "unchanged": self.count("unchanged"), "refused": len(refused),
            "refused_lines": [{"line": r.line, "reason": r.reason} for r in refused[:limit]],
            "imported_lines": [{"line": r.line, "outcome": r.outcome, "client_id": r.client_id, "note": r.reason}
                               for r in self.lines if r.outcome != "refused"][:limit],
        }


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    cells: dict[str, str]


def read_rows(data: bytes | str) -> list[_Row]:
    """The file's records with their line numbers; ImportRefused if unreadable."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportRefused("the file is not UTF-8 text: save it as \"CSV UTF-8\" and upload it again") from None
    else:
        text = data.removeprefix("\ufeff")
    if text.count("\n") > MAX_LINES + 1:
        raise ImportRefused(f"the file has more than {MAX_LINES:,} lines: split it into smaller files")
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused("the file is empty: the first line names the columns "
                            "(name, phone, email, owner, kind)") from None
    except csv.Error as e:
        raise ImportRefused(f"line 1 is not CSV: {e}") from None
    columns = [HEADER_ALIASES.get(h.strip().lower()) for h in header]
    if not {"phone", "email", "messenger"} & set(columns):
        raise ImportRefused("the first line must name the columns, with at least one of phone, email or "
                            "messenger (also: name, owner, kind)")
    rows: list[_Row] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                cells: dict[str, str] = {}
                for column, cell in zip(columns, record, strict=False):
                    if column is not None and cell.strip():
                        cells[column] = f"{cells[column]};{cell}" if column in cells else cell
                rows.append(_Row(start, cells))
            start = reader.line_num + 1
    except csv.Error as e:
        raise ImportRefused(f"line {start} is not CSV: {e}") from None
    return rows


def _identities(cells: dict[str, str], region: str) -> list[Identity]:
    """The line's identities; InvalidIdentity naming the bad one."""
    out: list[Identity] = []
    for column in ("phone", "email", "messenger"):
        for value in _SPLIT.split(cells.get(column, "")):
            if value.strip():
                out.append(typed_identity(column, value, region))
    return list(dict.fromkeys(out))


def _holders(session: Session, identities: Collection[Identity]) -> dict[Identity, int]:
    values = sorted({i.value for i in identities})
    out: dict[Identity, int] = {}
    for n in range(0, len(values), _LOOKUP_CHUNK):
        chunk = values[n:n + _LOOKUP_CHUNK]
        for kind, value, client_id in session.execute(select(
                ClientIdentity.kind, ClientIdentity.value, ClientIdentity.client_id)
                .where(ClientIdentity.value.in_(chunk))):
            out[Identity(kind, value)] = client_id
    return out


def import_clients(session: Session, data: bytes | str, *, agents: Collection[str] | None, region: str, by: str,
                   targets: Sequence[str], now: float) -> ImportReport:
    """Import the file line by line in the caller's transaction. ``agents``: the known
    agent ids (None: not checked). New clients are written in bulk, without objects."""
    rows = read_rows(data)
    report = ImportReport()
    parsed: list[tuple[_Row, list[Identity]]] = []
    seen: dict[Identity, int] = {}  # identity -> the first line that has it
    for row in rows:
        reason = _check(row, agents)
        identities: list[Identity] = []
        if not reason:
            try:
                identities = _identities(row.cells, region)
            except InvalidIdentity as e:
                reason = str(e)
        if not reason and not identities:
            reason = "no phone number, e-mail address or messenger id"
        earlier = next(((i, seen[i]) for i in identities if i in seen), None)
        for identity in identities:
            seen.setdefault(identity, row.line)
        if not reason and earlier is not None:
            reason = f"the {describe(earlier[0])} is also on line {earlier[1]} (a duplicate in the file)"
        if reason:
            report.lines.append(ImportLine(row.line, "refused", reason=reason))
        else:
            parsed.append((row, identities))
    holders = _holders(session, [i for _, ids in parsed for i in ids])
    names = {client_id: name for client_id, name in session.execute(
        select(Client.id, Client.name).where(Client.id.in_(set(holders.values()))))} if holders else {}
    # identities are unique across the file (duplicates were refused): a line either
    # makes a new client or touches known ones only
    new = [(row, ids) for row, ids in parsed if not any(i in holders for i in ids)]
    known = [(row, ids) for row, ids in parsed if any(i in holders for i in ids)]
    for n in range(0, len(new), _BATCH):
        report.lines += _create(session, new[n:n + _BATCH], by=by, targets=targets, now=now)
    for row, identities in known:
        report.lines.append(_update(session, row, identities, holders, names, by=by, targets=targets, now=now))
    report.lines.sort(key=lambda line: line.line)
    return report


def _check(row: _Row, agents: Collection[str] | None) -> str:
    too_long = next((c for c, v in row.cells.items() if len(v) > MAX_CELL), None)
    if too_long:
        return f"the {too_long} is longer than {MAX_CELL} characters"
    owner = row.cells.get("owner", "").strip()
    if owner and agents is not None and owner not in agents:
        return f"unknown agent {owner!r} as responsible person"
    if row.cells.get("kind", "").strip().lower() not in KINDS:
        return f"kind must be lead or contact, not {row.cells['kind'][:30]!r}"
    return ""


def _create(session: Session, lines: list[tuple[_Row, list[Identity]]], *, by: str, targets: Sequence[str],
            now: float) -> list[ImportLine]:
    """New clients, their identities, log lines and owner pushes: one multi-row INSERT
    each (an object and a flush per line made 50,000 lines take minutes)."""
    clients = [{"kind": KINDS[row.cells.get("kind", "").strip().lower()], "name": row.cells.get("name", "").strip(),
                "owner": row.cells.get("owner", "").strip() or None, "revision": 0, "created_at": now,
                "updated_at": now} for row, _ in lines]
    ids = list(session.scalars(insert(Client).returning(Client.id, sort_by_parameter_order=True), clients))
    session.execute(insert(ClientIdentity), [{"client_id": client_id, "kind": i.kind, "value": i.value,
                                              "added_at": now}
                                             for client_id, (_, identities) in zip(ids, lines, strict=True)
                                             for i in identities])
    session.execute(insert(Activity), [{"client_id": client_id, "at": now, "kind": f"{c['kind']}_created",
                                        "agent": c["owner"], "detail": {"source": IMPORT, "by": by, "line": row.line}}
                                       for client_id, c, (row, _) in zip(ids, clients, lines, strict=True)])
    enqueue_many(session, OWNER_CHANGED, [
        (client_id, {"client": snapshot_of(client_id, c["kind"], c["name"], c["owner"], 0, identities),
                     "owner": c["owner"], "previous_owner": None, "revision": 0, "reason": IMPORT, "occurred_at": now,
                     "by": by})
        for client_id, c, (_, identities) in zip(ids, clients, lines, strict=True) if c["owner"] is not None],
        targets=targets, now=now)
    return [ImportLine(row.line, "created", client_id) for client_id, (row, _) in zip(ids, lines, strict=True)]


def _update(session: Session, row: _Row, identities: list[Identity], holders: dict[Identity, int],
            names: dict[int, str], *, by: str, targets: Sequence[str], now: float) -> ImportLine:
    owner = row.cells.get("owner", "").strip() or None
    name = row.cells.get("name", "").strip()
    clients = {holders[i] for i in identities if i in holders}
    if len(clients) > 1:
        owners = ", ".join(f"the {describe(i)} to client {holders[i]}{_named(names.get(holders[i], ''))}"
                           for i in identities if i in holders)
        return ImportLine(row.line, "refused", reason=f"its identities belong to different clients: {owners}")
    client_id = clients.pop()
    client = session.get(Client, client_id)
    assert client is not None  # found by its identities in this transaction
    notes: list[str] = []
    linked = link_identities(session, client, identities, now=now)
    for identity in linked:
        holders[identity] = client.id
        notes.append(f"{describe(identity)} added")
    if name and not client.name:
        client.name = names[client.id] = name
        notes.append("name filled in")
    if owner is not None:
        change = set_owner(session, client, owner, now=now, reason=IMPORT, by=by)
        if change is not None:
            push_owner(session, client, change, reason=IMPORT, targets=targets, now=now, by=by)
            notes.append(f"responsible person {change.previous or 'nobody'} -> {owner}")
    return ImportLine(row.line, "updated" if notes else "unchanged", client.id, "; ".join(notes))


def _named(name: str) -> str:
    return f" ({name})" if name else ""
