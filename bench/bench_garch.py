"""GARCH(1,1) online variance update (engine.garch, C) against a plain-Python loop in the
same run.

* C: bench/c/garch_bench.c, built with the extension's flags (bench/cbuild.py), feeds the
  2M returns to bot4_garch_update in a C loop timed with bot4_now_ns around the loop (ns
  per update: the cost of the update itself, no call overhead);
* Python calling C: GarchFilter.update once per return from a Python loop;
* batch: GarchFilter.filter over the same returns (GIL released);
* reference: the same recursion as a plain-Python loop over a list of floats.

Ratios (C per update over the plain-Python loop) are what the gate checks.
"""

import statistics
import struct

import numpy as np

from bench.cbuild import BENCH_C, ROOT, build, run_rounds
from bench.conftest import median_seconds
from engine.garch import GarchFilter

OMEGA, ALPHA, BETA, S0 = 2e-5, 0.08, 0.9, 9e-4
N_C = 2_000_000
N_PY = 200_000
C_ROUNDS = 6


def c_update_ns(r: np.ndarray) -> float:
    """Median ns per bot4_garch_update over r from bench/c/garch_bench.c (the first of
    C_ROUNDS rounds warms up); each round's final sigma2 is checked against
    GarchFilter.filter run over r as many times."""
    exe = build("garch_bench", BENCH_C / "garch_bench.c", "garch.c")
    path = ROOT / "build" / "bench" / "garch_returns.f64"
    r.astype("<f8").tofile(path)
    rounds = run_rounds(exe, path, repr(OMEGA), repr(ALPHA), repr(BETA), repr(S0), C_ROUNDS)
    f = GarchFilter(OMEGA, ALPHA, BETA, S0)
    for got in rounds:
        f.filter(r)
        assert got["checksum"] == struct.unpack("<Q", struct.pack("<d", f.sigma2))[0]
    return statistics.median(g["elapsed_ns"] for g in rounds[1:]) / len(r)


def python_filter(returns, omega, alpha, beta, s):
    for r in returns:
        s = omega + alpha * (r * r) + beta * s
    return s


def test_garch_update(figure):
    r = np.random.default_rng(1).normal(0.0, 0.03, N_C)
    c_ns = c_update_ns(r)

    rl = r[:N_PY].tolist()
    py_s = median_seconds(lambda: python_filter(rl, OMEGA, ALPHA, BETA, S0), rounds=5)
    py_ns = py_s / N_PY * 1e9

    g = GarchFilter(OMEGA, ALPHA, BETA, S0)
    upd = g.update

    def call_loop():
        for x in rl:
            upd(x)

    call_ns = median_seconds(call_loop, rounds=5) / N_PY * 1e9
    h = GarchFilter(OMEGA, ALPHA, BETA, S0)
    batch_ns = median_seconds(lambda: h.filter(r), rounds=5) / N_C * 1e9

    # the C result equals the Python recursion (same operation order)
    assert GarchFilter(OMEGA, ALPHA, BETA, S0).filter(r[:N_PY])[-1] == python_filter(rl[:-1], OMEGA, ALPHA, BETA, S0)

    figure("garch.update.c_ns", c_ns, "ns")
    figure("garch.update.python_call_ns", call_ns, "ns")
    figure("garch.filter.batch_ns_per_return", batch_ns, "ns")
    figure("garch.update.python_loop_ns", py_ns, "ns")
    figure("garch.update.speedup_vs_python", py_ns / c_ns, "x")
    figure("garch.filter.speedup_vs_python", py_ns / batch_ns, "x")
