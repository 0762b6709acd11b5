"""Object pool acquire+release (csrc/pool.c, engine.pool) against a plain-Python free list,
same run.

* from C: bench/c/pool_bench.c, built with the extension's flags (bench/cbuild.py), runs
  acquire+release pairs through bot4_pool_acquire/bot4_pool_release in a C loop (1 slot
  outstanding, and 64 outstanding so the free list is exercised beyond its head); ns per
  pair, wall and thread CPU time (the machine is shared);
* the reference: a Python list used as a LIFO free stack plus a bytearray of in-use flags,
  with the same double-release check;
* from Python: ObjectPool.acquire()/release() against the same reference, and the batch
  calls ObjectPool.acquire_many()/release_many() (reported, not gated).
"""

import statistics

import pytest

from bench.cbuild import BENCH_C, build, run_rounds
from bench.conftest import median_seconds
from engine import pool

N_C = 20_000_000
N_REF = 500_000
N_PY = 300_000
CAPACITY = 4096


def python_free_list(n: int, outstanding: int) -> None:
    """The reference pool: acquire pops the free stack and marks the slot; release checks
    the mark (double release) and pushes the index back."""
    free = list(range(CAPACITY - 1, -1, -1))
    held = bytearray(CAPACITY)
    pop, push = free.pop, free.append
    got = [0] * outstanding
    for _ in range(n // outstanding):
        for j in range(outstanding):
            i = pop()
            held[i] = 1
            got[j] = i
        for i in got:
            if not held[i]:
                raise ValueError("double release")
            held[i] = 0
            push(i)


@pytest.fixture(scope="module")
def pool_bench():
    """run(n, outstanding, rounds) -> [{"elapsed_ns", "cpu_ns", "checksum"}] per round."""
    exe = build("pool_bench", BENCH_C / "pool_bench.c", "pool.c")
    return lambda n, outstanding, rounds: run_rounds(exe, n, outstanding, rounds)


def test_pool_acquire_release_from_c(pool_bench, figure):
    rounds = pool_bench(N_C, 1, 6)[1:]  # the first round warms up
    assert {r["checksum"] for r in rounds} == {0}  # one slot outstanding: always index 0
    c_ns = statistics.median(r["elapsed_ns"] for r in rounds) / N_C
    cpu_ns = min(r["cpu_ns"] for r in rounds) / N_C
    rounds64 = pool_bench(N_C, 64, 4)[1:]
    assert len({r["checksum"] for r in rounds64}) == 1
    c64_ns = statistics.median(r["elapsed_ns"] for r in rounds64) / N_C
    ref_ns = median_seconds(lambda: python_free_list(N_REF, 1), rounds=5) * 1e9 / N_REF
    ref64_ns = median_seconds(lambda: python_free_list(N_REF, 64), rounds=3) * 1e9 / N_REF
    figure("pool.acquire_release.ns", c_ns, "ns")
    figure("pool.acquire_release.cpu_ns", cpu_ns, "ns")
    figure("pool.acquire_release.outstanding64_ns", c64_ns, "ns")
    figure("pool.acquire_release.python_ns", ref_ns, "ns")
    figure("pool.acquire_release.speedup_vs_python", ref_ns / c_ns, "x")
    figure("pool.acquire_release.outstanding64_speedup_vs_python", ref64_ns / c64_ns, "x")


def test_pool_python_api(figure):
    p = pool.ObjectPool(CAPACITY, 64)

    def api():
        acquire, release = p.acquire, p.release
        for _ in range(N_PY):
            release(acquire())

    api_ns = median_seconds(api, rounds=5) * 1e9 / N_PY
    ref_ns = median_seconds(lambda: python_free_list(N_PY, 1), rounds=5) * 1e9 / N_PY
    assert p.stats()["in_use"] == 0 and p.stats()["acquires"] == 6 * N_PY
    figure("pool.python_api.acquire_release_ns", api_ns, "ns")
    figure("pool.python_api.speedup_vs_python", ref_ns / api_ns, "x")


def test_pool_python_batch_api(figure):
    p = pool.ObjectPool(CAPACITY, 64)
    batch = 256

    def api():
        acquire_many, release_many = p.acquire_many, p.release_many
        for _ in range(N_PY // batch):
            release_many(acquire_many(batch))

    n = N_PY // batch * batch
    api_ns = median_seconds(api, rounds=5) * 1e9 / n
    ref_ns = median_seconds(lambda: python_free_list(n, batch), rounds=5) * 1e9 / n
    assert p.stats()["in_use"] == 0 and p.stats()["acquires"] == 6 * n
    figure("pool.python_api.batch256_acquire_release_ns", api_ns, "ns")
    figure("pool.python_api.batch256_speedup_vs_python", ref_ns / api_ns, "x")
