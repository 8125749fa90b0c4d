"""A web app whose history holds the known day of tests/reports/history.py, and the page's
tables read back as text."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from acd.channels.history import ChannelHistory
from tests.reports import history as h

from .conftest import SETTINGS, Service, build

QUERY = "first=2026-03-10&last=2026-03-10"


def settings() -> dict[str, Any]:
    data = copy.deepcopy(SETTINGS)
    data["service"]["time_zone"] = h.ZONE
    data["groups"][0]["wrapup_seconds"] = 10
    data["channels"] = [{"id": "web", "name": "Website chat", "kind": "chat", "members": ["anna", "ben"]},
                        {"id": "info", "name": "Info mailbox", "kind": "email", "members": ["anna"]},
                        {"id": "leads", "name": "Leads form", "kind": "form", "members": ["ben"]}]
    return data


def with_history(tmp_path: Path, **kw: Any) -> Service:
    service = build(tmp_path, settings(), **kw)
    service.store.apply_records(h.calls())
    channels = ChannelHistory(service.store.engine)
    channels.create_all()
    channels.write(h.channel_batch())
    return service


def expected(name: str) -> list[dict[str, Any]]:
    """The hand-checked figures, as this site is configured: every group's target is the
    default 20 s (Support's 30 s in history.py is not configured here: its service level is
    the same, 2 of 3, since both answers came within 8 s)."""
    if name == "groups":
        return [{**g, "target_s": 20} for g in h.GROUPS]
    if name == "hourly":
        return [h.HOURLY.get(n, h.hour(f"{n:02d}:00")) for n in range(24)]
    return {"agents": h.AGENTS, "queues": h.QUEUES, "distribution": h.DISTRIBUTION}.get(name, [])


class Tables(HTMLParser):
    """Each ``<table id="report-...">``: its header cells and its rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[Any]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and (found.get("id") or "").startswith("report-"):
            self._table = (found["id"] or "").removeprefix("report-")
            self.tables[self._table] = {"head": [], "rows": []}
        elif self._table and tag == "tr":
            self._row = []
        elif self._table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self._table is None:
            return
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            table = self.tables[self._table]
            (table["rows"] if table["head"] else table["head"]).extend([self._row] if table["head"] else self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_tables(html: str) -> dict[str, dict[str, list[Any]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables
