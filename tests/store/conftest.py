from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from acd.core.commands import Record
from acd.store import Store
from acd.store.models import Base

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


# The store runs on SQLite by default and on PostgreSQL in production: every store test
# runs on SQLite, and on PostgreSQL too where ACD_TEST_POSTGRES_URL names an empty
# database (.ci/run installs and starts one).
POSTGRES_URL = os.environ.get("ACD_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    engine = create_engine(POSTGRES_URL)
    Base.metadata.drop_all(engine)  # every test starts from an empty database
    engine.dispose()
    yield POSTGRES_URL
    engine = create_engine(POSTGRES_URL)
    Base.metadata.drop_all(engine)
    engine.dispose()


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
