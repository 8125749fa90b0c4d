"""Several acd nodes need PostgreSQL: these tests run where ACD_TEST_POSTGRES_URL names
a database (.ci/run starts one)."""

from __future__ import annotations

import os

import pytest

POSTGRES_URL = os.environ.get("ACD_TEST_POSTGRES_URL", "")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="several nodes need PostgreSQL: set ACD_TEST_POSTGRES_URL")
