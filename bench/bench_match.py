"""Matching engine throughput: mixed add / cancel / take operations in C (engine.match) vs
the plain-Python reference matcher (tests/match_reference.py), same operation stream, same
run. Figures: match.mixed.ops_per_s (wall clock, median), match.mixed.cpu_ops_per_s (per
second of this thread's CPU time: what the engine does when it has the core, which on a
shared machine the wall figure understates), match.mixed.reference_ops_per_s,
match.mixed.speedup_vs_python."""

import time

import numpy as np

from bench.conftest import median_seconds
from engine import match as M
from tests.match_reference import ReferenceMatcher

N_OPS = 1_000_000
N_REF = 20_000


def mixed_ops(n, seed=11):
    """A stationary book: 45% resting limit adds within 50 ticks of a fixed mid, each
    cancelled once after an exponential lifetime (mean 2,000 ops; ~1,000 orders rest at a
    time; a cancel of an order a taker already filled is an unknown-id reject, as live), and
    10% IOC orders crossing up to 3 ticks."""
    rng = np.random.default_rng(seed)
    n_add = int(n * 0.45)
    n_take = n - 2 * n_add
    t_add = np.sort(rng.random(n_add) * n)  # ids are issued in time order, as venues do
    t_cancel = t_add + rng.exponential(2000.0, n_add)
    t_take = rng.random(n_take) * n
    order = np.argsort(np.concatenate([t_add, t_cancel, t_take]), kind="stable")
    mid = 1_000_000
    add_side = rng.integers(0, 2, n_add)
    add_depth = rng.integers(1, 51, n_add)
    take_side = rng.integers(0, 2, n_take)
    add_ids = np.arange(1, n_add + 1)
    cols = {
        "op": np.concatenate([np.full(n_add, M.OPS["add"]), np.full(n_add, M.OPS["cancel"]),
                              np.full(n_take, M.OPS["add"])]),
        "id": np.concatenate([add_ids, add_ids, np.arange(n_add + 1, n_add + n_take + 1)]),
        "side": np.concatenate([add_side, add_side, take_side]),
        "price": np.concatenate([np.where(add_side == 0, mid - add_depth, mid + add_depth),
                                 np.zeros(n_add, np.int64),
                                 np.where(take_side == 0, mid + 3, mid - 3)]),
        "qty": np.concatenate([rng.integers(1, 20, n_add), np.zeros(n_add, np.int64),
                               rng.integers(1, 40, n_take)]),
        "tif": np.concatenate([np.full(2 * n_add, M.TIFS["gtc"]), np.full(n_take, M.TIFS["ioc"])]),
        "owner": rng.integers(1, 100, n),
    }
    ops = M.make_ops(n)
    for k, v in cols.items():
        ops[k] = v[order] if k != "owner" else v
    return ops


def test_match_mixed(benchmark, figure):
    ops = mixed_ops(N_OPS)
    eng = M.MatchingEngine(1 << 16)
    results = np.zeros(N_OPS, dtype=M.RESULT_DTYPE)
    fills = np.zeros(N_OPS * 4, dtype=M.FILL_DTYPE)

    def run_c():
        eng.clear()
        done, _ = eng.run_into(ops, results, fills)
        assert done == N_OPS

    benchmark.pedantic(run_c, rounds=5, warmup_rounds=1)
    c_rate = N_OPS / benchmark.stats.stats.median

    ref_ops = [{k: int(r[k]) for k in M.OP_DTYPE.names if k != "pad"} for r in ops[:N_REF]]

    def run_ref():
        ref = ReferenceMatcher(1 << 20)
        for i, op in enumerate(ref_ops):
            ref.run_one(op, i)

    ref_rate = N_REF / median_seconds(run_ref, rounds=3)
    # same stream, same answers: the prefix agrees with the reference
    eng.clear()
    small = np.zeros(N_REF, dtype=M.RESULT_DTYPE)
    eng.run_into(ops[:N_REF], small, fills)
    ref = ReferenceMatcher(1 << 20)
    assert [ref.run_one(op, i)[0]["filled"] for i, op in enumerate(ref_ops[:2000])] == \
        small["filled"][:2000].tolist()
    cpu = []
    for _ in range(3):
        t0 = time.thread_time()
        run_c()
        cpu.append(time.thread_time() - t0)
    figure("match.mixed.ops_per_s", c_rate, "1/s")
    figure("match.mixed.cpu_ops_per_s", N_OPS / min(cpu), "1/s")
    figure("match.mixed.reference_ops_per_s", ref_rate, "1/s")
    figure("match.mixed.speedup_vs_python", c_rate / ref_rate, "x")
