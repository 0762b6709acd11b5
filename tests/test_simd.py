"""SIMD path selection: detection, BOT4_SIMD forcing, and refusal of what the CPU cannot run."""

import os
import subprocess
import sys

import pytest

import engine
import engine.simd as simd


def _import_with(level: str):
    env = dict(os.environ, BOT4_SIMD=level)
    return subprocess.run([sys.executable, "-c", "import engine; print(engine.simd_level())"],
                          capture_output=True, text=True, env=env)


def test_default_is_the_best_supported_path():
    if "BOT4_SIMD" in os.environ:
        pytest.skip("BOT4_SIMD is set for this run")
    assert engine.simd_level() == simd.best()
    assert simd.supported(simd.best())


def test_flags_are_consistent():
    f = simd.cpu_features()
    assert set(f) >= {"sse42", "avx2", "avx512f", "avx512bw", "avx512dq", "avx512vl", "os_ymm", "os_zmm"}
    if f["avx512f"]:
        assert f["os_zmm"], "AVX-512 counts only when the OS saves ZMM state (XGETBV)"
    if f["avx2"]:
        assert f["os_ymm"]
    assert simd.supported("scalar")
    assert simd.supported("avx512") == all(f[k] for k in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))


@pytest.mark.parametrize("level", ["scalar", "avx2", "avx512"])
def test_forcing_a_level(level):
    r = _import_with(level)
    if simd.supported(level):
        assert r.returncode == 0 and r.stdout.strip() == level
    else:
        assert r.returncode != 0
        assert "SimdUnsupportedError" in r.stderr and f"BOT4_SIMD='{level}'" in r.stderr


def test_unknown_level_is_an_error_not_a_fallback():
    r = _import_with("sse9")
    assert r.returncode != 0 and "not a SIMD level" in r.stderr
    with pytest.raises(ValueError, match="unknown SIMD level"):
        simd.supported("sse9")
