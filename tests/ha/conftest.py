"""Several acd nodes on one PostgreSQL database (ACD_TEST_POSTGRES_URL, which .ci/run
sets): these tests need it, as the nodes share only the database."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("ACD_TEST_POSTGRES_URL", "")

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="several nodes share a PostgreSQL database: "
                                                              "set ACD_TEST_POSTGRES_URL (.ci/run does)")


def empty_database() -> None:
    """Every table gone (the schema is made again at the first node's start). The
    sessions a test's nodes left open go first: one left in a transaction would make
    the DROP wait for ever. Only our own role's: another role's session (an operator's
    psql as postgres) cannot be ended by us and is not the nodes'."""
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND usename = current_user "
                                "AND pid <> pg_backend_pid()"))
        connection.execute(text("SET LOCAL lock_timeout = '20s'"))
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    empty_database()
    yield POSTGRES_URL
    empty_database()
