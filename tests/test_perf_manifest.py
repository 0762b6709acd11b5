"""bot4 perf-manifest: hardware, build, and percentiles of every stage (bot.perf.stages)."""

import importlib
import json
import pkgutil

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.perf import stages as S
from bot.perf.manifest import percentiles, stage_providers


# every stage name the manifest reports, by provider
STAGES = {
    "book": {"book.update", "book.apply_batch", "book.top10"},
    "features": {"features.update"},
    "feed": {"feed.binance.parse"},
    "garch": {"garch.update"},
    "inference": {"inference.onnx.single_row", "calibration.isotonic"},
    "match": {"match.add", "match.cancel", "match.market_sweep"},
    "pool": {"pool.acquire_release"},
    "ring": {"ring.spsc.push_pop", "ring.spsc.push_pop_single", "ring.mpmc.push_pop"},
    "simvenue": {"simvenue.event"},
    "synth": {"synth.event"},
    "ta": {"ta.ema.update", "ta.rsi.update", "ta.bbands.update", "ta.adx.update"},
}


def test_percentiles_match_numpy():
    x = np.random.default_rng(1).lognormal(3, 1, 50_000)
    p = percentiles(x)
    assert p["p50"] == np.percentile(x, 50) and p["p99.9"] == np.percentile(x, 99.9)
    assert p["p50"] <= p["p95"] <= p["p99"] <= p["p99.9"]


def test_manifest_json(tmp_path):
    out = tmp_path / "m.json"
    r = CliRunner().invoke(main, ["perf-manifest", "--json", "--samples", "10000", "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads(out.read_text())
    assert json.loads(r.output) == m
    hw = m["hardware"]
    for k in ("cpu_model", "logical_cores", "base_mhz", "max_mhz", "simd_flags", "caches", "numa_nodes"):
        assert k in hw
    for flag in ("sse42", "avx2", "avx512f", "avx512bw", "avx512dq", "avx512vl"):
        assert flag in hw["simd_flags"]
    b = m["build"]
    for k in ("compiler", "cflags", "cython_installed", "numpy_runtime", "python_runtime", "simd_path"):
        assert k in b
    assert set(m["stages"]) == set().union(*STAGES.values())
    for name, st in m["stages"].items():
        assert st["samples"] >= 10_000, name
        lat = st["latency_ns"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["p99.9"], name
        assert st["throughput_per_s"] > 0, name


def test_samples_below_10000_are_refused():
    r = CliRunner().invoke(main, ["perf-manifest", "--samples", "500"])
    assert r.exit_code == 2 and "10000" in r.output


@pytest.mark.parametrize("domain", sorted(STAGES))
def test_stage_provider_shape(domain):
    assert set(stage_providers()) == set(STAGES)
    got = S.PROVIDERS[domain](20)
    assert set(got) == STAGES[domain]
    for name, st in got.items():
        lat = st["latency_ns"]
        assert lat.dtype == np.float64 and lat.shape == (20,), name
        assert (lat > 0).all() and np.isfinite(lat).all(), name
        assert isinstance(st["ops_per_sample"], int) and st["ops_per_sample"] >= 1, name
        assert st["throughput_per_s"] > 0, name


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-5, ValueError), (2.5, TypeError),
                                     (True, TypeError), ("10", TypeError)])
def test_stage_samples_checked(bad, exc):
    for fn in (S.ring_stages, S.book_stages, S.pool_stages):
        with pytest.raises(exc, match="samples"):
            fn(bad)


def _is_timing_hook(name: str) -> bool:
    return name == "perf_stages" or "bench" in name or name.startswith("time_")


def test_engine_modules_hold_no_measurement_code():
    """Stages are timed from bot.perf through the engine's public API, and benchmark
    drivers live in bench/: no engine module or class carries a timing hook."""
    import engine

    for mod in pkgutil.iter_modules(engine.__path__):
        m = importlib.import_module(f"engine.{mod.name}")
        for name, obj in vars(m).items():
            assert not _is_timing_hook(name), f"engine.{mod.name}.{name}"
            if isinstance(obj, type) and obj.__module__ == m.__name__:
                hooks = [a for a in vars(obj) if _is_timing_hook(a)]
                assert not hooks, f"engine.{mod.name}.{name}: {hooks}"


def test_per_call_stages_go_through_batch_calls():
    """book.update, book.top10 and pool.acquire_release time a batch call each sample (the
    C cost per operation); ring.spsc.push_pop_single is the one unbatched Python path."""
    got = {**S.book_stages(5), **S.pool_stages(5), **S.ring_stages(5)}
    assert got["book.update"]["ops_per_sample"] == S.BOOK_UPDATES >= 256
    assert got["book.top10"]["ops_per_sample"] == S.BOOK_TOP_BOOKS >= 16
    assert got["pool.acquire_release"]["ops_per_sample"] == S.POOL_BATCH >= 256
    assert "push_pop_single" in S.__doc__ and "unbatched" in S.__doc__
