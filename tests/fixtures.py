"""Fixtures shared by the tests (tests/conftest.py) and the benchmarks (bench/conftest.py),
which import them from here: the recorded data in ../shared/data, the PostgreSQL DSN and a
throwaway store on each backend.

What needs ../shared/data or a PostgreSQL server skips where it is absent, but fails under
CI=true, where both must be present (make test starts the server).
"""

import os
from pathlib import Path

import pytest

from store_target import StoreTarget

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("BOT4_SHARED_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(what: str):
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        need(f"recorded data at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    dsn = os.environ.get("BOT4_TEST_PG_DSN", "")
    if not dsn:
        need("a PostgreSQL server (BOT4_TEST_PG_DSN)")
    return dsn


@pytest.fixture(params=["sqlite", "postgres"])
def target(request, tmp_path):
    """A fresh store target on each backend (a SQLite file, or a PostgreSQL schema that is
    dropped afterwards)."""
    t = StoreTarget.sqlite(tmp_path) if request.param == "sqlite" else StoreTarget.postgres(
        request.getfixturevalue("pg_dsn"))
    yield t
    t.cleanup()
