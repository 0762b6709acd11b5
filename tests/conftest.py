"""Shared fixtures: the recorded data in ../shared/data and the PostgreSQL DSN.

Tests that need ../shared/data skip where it is absent, but fail under CI=true, where it
must be present. The same holds for the PostgreSQL server make test starts.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("BOT4_SHARED_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def _need(what: str):
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        _need(f"recorded data at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    dsn = os.environ.get("BOT4_TEST_PG_DSN", "")
    if not dsn:
        _need("a PostgreSQL server (BOT4_TEST_PG_DSN)")
    return dsn
