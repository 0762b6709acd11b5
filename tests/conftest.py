"""Shared fixtures: the recorded data in ../shared/data and the PostgreSQL DSN.

Tests that need ../shared/data skip where it is absent, but fail under CI=true, where it
must be present. The same holds for the PostgreSQL server make test starts.
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("BOT4_SHARED_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() == "true"

# Property tests: locally each run draws new examples, to keep finding bugs; CI draws the
# same examples every run, so a submission lands or fails on its code, not on luck. No
# per-example deadline anywhere: the machines are shared and timing says nothing here.
settings.register_profile("dev", deadline=None, print_blob=True)
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if IN_CI else "dev")


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


@pytest.fixture(scope="session")
def parse_cache(tmp_path_factory) -> str:
    """One .npy cache of parsed recorded files for the whole test session."""
    return str(tmp_path_factory.mktemp("parse-cache"))


@pytest.fixture(scope="session")
def spot_events(shared_data, parse_cache):
    """(events, instrument) of the two contiguous Binance spot files."""
    from bot.data.binance import load_events

    return load_events(sorted((shared_data / "binance" / "spot").glob("*.gz")), cache_dir=parse_cache)


@pytest.fixture(scope="session")
def usdm_events(shared_data, parse_cache):
    """(events, instrument) of the Binance USD-M file."""
    from bot.data.binance import load_events

    return load_events([shared_data / "binance" / "usdm" / "btcusdt_20240808.gz"], cache_dir=parse_cache)
