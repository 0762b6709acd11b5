"""Benchmark plumbing: every bench measures Bot4 and a plain-Python/numpy reference in the
same run and records figures with the `figure` fixture. At the end of the session the
figures are written to build/bench-figures.json (or to $BOT4_BENCH_FIGURES) and checked by
the gate against bench/baselines.json (ratios only: the machine is noisy, absolute times
are reported, not gated).

Each figure is stored as {"value", "unit", "cpu", "test"}: the CPU model it was measured
on (floors differ across CPUs, so a figure means little without it) and the pytest node id
of the benchmark that produced it, which the gate re-runs to re-measure a figure that fell
below its floor.
"""

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIGURES_PATH = Path(os.environ.get("BOT4_BENCH_FIGURES") or ROOT / "build" / "bench-figures.json")
# the recorded data, the PostgreSQL DSN and store targets: the tests' own fixtures
sys.path.insert(0, str(ROOT / "tests"))
import fixtures  # noqa: E402

shared_data, pg_dsn, target = fixtures.shared_data, fixtures.pg_dsn, fixtures.target
_figures: dict[str, dict] = {}


def cpu_model() -> str:
    """The CPU's model name ("model name" in /proc/cpuinfo on Linux), or what the platform
    module knows elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def test_id(node) -> str:
    """The node id of a benchmark, with its file relative to the repository root (or
    absolute outside it), so that `pytest <id>` run from the root selects it again."""
    path = Path(node.path)
    try:
        path = path.relative_to(ROOT)
    except ValueError:
        pass
    return f"{path.as_posix()}::{node.nodeid.split('::', 1)[1]}"


def median_seconds(fn, rounds: int = 5, warmup: int = 1) -> float:
    """Median wall time of fn() over `rounds` calls (for references timed beside pytest-benchmark)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def alternating_medians(fns, rounds: int = 5, warmup: int = 1) -> list[float]:
    """Median wall time of each fn in fns, called in turn round after round, so that the
    machine's drift (other jobs, clock changes) affects every one alike: the ratio of two
    medians is then far steadier than that of medians taken minutes apart."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


@pytest.fixture
def figure(request):
    """record(name, value, unit): a measured figure for the report and the gate, stored
    with the CPU model and the node id of the benchmark recording it."""
    cpu, test = cpu_model(), test_id(request.node)

    def record(name: str, value: float, unit: str):
        _figures[name] = {"value": float(value), "unit": unit, "cpu": cpu, "test": test}

    return record


def pytest_sessionfinish(session, exitstatus):
    if not _figures:
        return
    FIGURES_PATH.parent.mkdir(parents=True, exist_ok=True)
    old = {}
    if FIGURES_PATH.exists():
        try:
            old = json.loads(FIGURES_PATH.read_text())
        except ValueError:
            old = {}
    old.update(_figures)
    FIGURES_PATH.write_text(json.dumps(old, indent=2, sort_keys=True) + "\n")
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_sep("-", f"bot4 figures (medians) on {cpu_model()}")
        for name in sorted(_figures):
            f = _figures[name]
            tr.write_line(f"{name:55s} {f['value']:>16,.3f} {f['unit']}")
