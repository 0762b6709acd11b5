"""Object pool acquire+release (engine.pool) against a plain-Python free list, same run.

* from C: pool_bench runs acquire+release pairs in a C loop (1 slot outstanding, and 64
  outstanding so the free list is exercised beyond its head); ns per pair, wall and thread
  CPU time (the machine is shared);
* the reference: a Python list used as a LIFO free stack plus a bytearray of in-use flags,
  with the same double-release check;
* from Python: ObjectPool.acquire()/release() against the same reference.
"""

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


def test_pool_acquire_release_from_c(benchmark, figure):
    benchmark.pedantic(lambda: pool.pool_bench(N_C, 1), rounds=5, warmup_rounds=1)
    c_ns = benchmark.stats.stats.median * 1e9 / N_C
    cpu_ns = min(pool.pool_bench(N_C, 1, clock="cpu") for _ in range(3)) / N_C
    c64_ns = median_seconds(lambda: pool.pool_bench(N_C, 64), rounds=3) * 1e9 / N_C
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
