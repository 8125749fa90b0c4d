from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from acd.crm import create_all, make_engine
from acd.crm.models import Base

# Like tests/store: where ACD_TEST_POSTGRES_URL names a database (.ci/run starts one),
# the tests that take ``any_engine`` run on PostgreSQL too.
POSTGRES_URL = os.environ.get("ACD_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'acd.db'}"


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    create_all(engine)
    return engine


@pytest.fixture(params=BACKENDS)
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The CRM's tables on SQLite, and on PostgreSQL where one is given (emptied before
    and after: only the CRM's tables, the other tests' stay)."""
    url = f"sqlite:///{tmp_path / 'acd.db'}" if request.param == "sqlite" else POSTGRES_URL
    engine = make_engine(url)
    if request.param == "postgresql":
        Base.metadata.drop_all(engine)
    create_all(engine)
    yield engine
    if request.param == "postgresql":
        Base.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def session(engine: Engine):
    with Session(engine) as session:
        yield session
