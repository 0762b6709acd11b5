"""bot4 perf-manifest: hardware, build, and percentiles from every engine stage."""

import json

import numpy as np
from click.testing import CliRunner

from bot.cli import main
from bot.perf.manifest import engine_stage_providers, percentiles


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
    providers = engine_stage_providers()
    assert providers, "no engine module exports perf_stages"
    assert m["stages"]
    for name, st in m["stages"].items():
        assert st["samples"] >= 10_000, name
        lat = st["latency_ns"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["p99.9"], name
        assert st["throughput_per_s"] > 0, name


def test_samples_below_10000_are_refused():
    r = CliRunner().invoke(main, ["perf-manifest", "--samples", "500"])
    assert r.exit_code == 2 and "10000" in r.output
