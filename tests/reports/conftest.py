"""The reports' database: SQLite, and PostgreSQL too where ACD_TEST_POSTGRES_URL names one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from acd.channels.history import Base as ChannelsBase
from acd.reports import tables  # noqa: F401  (on the store's base: dropped with it)
from acd.store import Store
from acd.store.models import Base
from tests.store.conftest import BACKENDS, POSTGRES_URL


def _drop(url: str) -> None:
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    ChannelsBase.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    _drop(POSTGRES_URL)  # every test starts from an empty database
    yield POSTGRES_URL
    _drop(POSTGRES_URL)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.create_all()
    yield s
    s.close()
