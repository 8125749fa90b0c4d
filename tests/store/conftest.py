from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from acd.core.commands import Record
from acd.store import Store

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'history.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.create_all()
    yield s
    s.close()


def rec(call_id: str, at: float, kind: str, /, **detail: object) -> Record:
    """A record at T0 + ``at`` seconds."""
    return Record(call_id, T0 + at, kind, dict(detail))


def arrived(call_id: str, at: float = 0.0, group: str = "sales", number: str = "+4915100000001",
            did: str = "+4930111111") -> Record:
    return rec(call_id, at, "arrived", did=did, caller_number=number, caller_name="Caller", group=group)
