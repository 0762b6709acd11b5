"""Shared fixtures: the recorded data, the PostgreSQL DSN and store targets (tests/fixtures.py,
shared with the benchmarks), parsed recorded events, and the hypothesis profiles.
"""

import fixtures
import pytest
from hypothesis import HealthCheck, settings

shared_data, pg_dsn, target = fixtures.shared_data, fixtures.pg_dsn, fixtures.target

# Property tests: locally each run draws new examples, to keep finding bugs; CI draws the
# same examples every run, so a submission lands or fails on its code, not on luck. No
# per-example deadline anywhere: the machines are shared and timing says nothing here.
settings.register_profile("dev", deadline=None, print_blob=True)
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if fixtures.IN_CI else "dev")


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
