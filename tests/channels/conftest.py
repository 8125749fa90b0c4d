from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from acd.channels.history import Base

# Like tests/store: where ACD_TEST_POSTGRES_URL names a database (.ci/run starts one),
# the tests that take ``history_url`` run on PostgreSQL too.
POSTGRES_URL = os.environ.get("ACD_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'acd.db'}"


def _drop_channel_tables() -> None:
    engine = create_engine(POSTGRES_URL)
    Base.metadata.drop_all(engine)  # only the channel tables: the other tests' stay
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'acd.db'}"
        return
    _drop_channel_tables()
    yield POSTGRES_URL
    _drop_channel_tables()
