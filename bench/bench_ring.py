"""Ring buffer throughput (csrc/ring.c, engine.ring) against plain-Python references in
the same run.

* one thread, batched: push 256 8-byte records then pop them, in C (bench/c/ring_bench.c)
  vs collections.deque append x256 + popleft x256 of 8-byte bytes objects;
* the same from Python: SpscRing.push_batch/pop_batch on numpy batches, and single
  push/pop, vs the deque;
* two threads: a C producer pthread and a C consumer pthread (tests/c/ring_transfer.c,
  every value checked) vs two Python threads handing 8-byte bytes through a deque;
* MPMC, 4 producers and 2 consumers in C (tests/c/ring_transfer.c) vs queue.Queue with
  4+2 Python threads.

The C programs are built here with the system cc and the extension's flags
(bench/cbuild.py), so the C runs as it does inside the engine.

Rates are records per second (one record = one push and one pop). C benches also report
thread-CPU-time rates (the machine is shared; CPU time leaves out descheduled time).
Ratios (Bot4 over reference, measured back to back) are what the gate checks.
"""

import json
import queue
import statistics
import subprocess
import threading
import time
from collections import deque

import numpy as np
import pytest

from bench.cbuild import BENCH_C, ROOT, build, run_rounds
from bench.conftest import median_seconds
from engine import ring

BATCH = 256
N_C = 50_000_000          # records per C one-thread round
N_REF = 400_000           # records per deque round
N_PY_BATCH = 4_000_000    # records per SpscRing Python-batch round
N_PY_SINGLE = 200_000
N_TWO_THREADS = 10_000_000
N_REF_TWO_THREADS = 300_000
MPMC_PER_PRODUCER = 500_000
MPMC_REF_PER_PRODUCER = 20_000


@pytest.fixture(scope="module")
def ring_bench():
    """run(kind, n, batch, rounds) -> [{"elapsed_ns", "cpu_ns", "checksum"}] per round."""
    exe = build("ring_bench", BENCH_C / "ring_bench.c", "ring.c")

    def run(kind: str, n: int, batch: int, rounds: int) -> list[dict]:
        return run_rounds(exe, kind, n, batch, rounds)

    return run


@pytest.fixture(scope="module")
def ring_transfer():
    """run(*args) -> the checked transfer report of tests/c/ring_transfer.c, with
    items_per_s (records received over the threads' elapsed time)."""
    exe = build("ring_transfer", ROOT / "tests" / "c" / "ring_transfer.c", "ring.c")

    def run(*args) -> dict:
        proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode in (0, 1), proc.stderr
        rep = json.loads(proc.stdout)
        ns = rep["elapsed_ns"]
        rep["items_per_s"] = rep["received"] * 1e9 / ns if ns > 0 else 0.0
        return rep

    return run


def deque_push_pop(n: int) -> None:
    d = deque()
    rec = b"12345678"
    append, popleft = d.append, d.popleft
    for _ in range(n // BATCH):
        for _ in range(BATCH):
            append(rec)
        for _ in range(BATCH):
            popleft()


def test_spsc_one_thread_batched(ring_bench, figure):
    rounds = ring_bench("spsc", N_C, BATCH, 6)[1:]  # the first round warms up
    assert len({r["checksum"] for r in rounds}) == 1
    c_rate = N_C * 1e9 / statistics.median(r["elapsed_ns"] for r in rounds)
    cpu_rate = max(N_C * 1e9 / r["cpu_ns"] for r in rounds)
    ref_rate = N_REF / median_seconds(lambda: deque_push_pop(N_REF), rounds=5)
    figure("ring.spsc.batched_push_pop_per_s", c_rate, "1/s")
    figure("ring.spsc.batched_push_pop_cpu_per_s", cpu_rate, "1/s")
    figure("ring.spsc.deque_push_pop_per_s", ref_rate, "1/s")
    figure("ring.spsc.batched_speedup_vs_deque", c_rate / ref_rate, "x")


def test_mpmc_one_thread_batched(ring_bench, figure):
    n = N_C // 5
    rounds = ring_bench("mpmc", n, BATCH, 6)[1:]
    c_rate = n * 1e9 / statistics.median(r["elapsed_ns"] for r in rounds)
    ref_rate = N_REF / median_seconds(lambda: deque_push_pop(N_REF), rounds=5)
    figure("ring.mpmc.batched_push_pop_per_s", c_rate, "1/s")
    figure("ring.mpmc.batched_speedup_vs_deque", c_rate / ref_rate, "x")


def test_spsc_python_api(figure):
    r = ring.SpscRing(4096, 8)
    src = np.arange(BATCH, dtype=np.uint64)
    out = np.empty(BATCH, dtype=np.uint64)

    def py_batches():
        for _ in range(N_PY_BATCH // BATCH):
            r.push_batch(src)
            r.pop_batch(out)

    def py_single():
        rec = b"12345678"
        push, pop = r.push, r.pop
        for _ in range(N_PY_SINGLE):
            push(rec)
            pop()

    batch_rate = N_PY_BATCH / median_seconds(py_batches, rounds=5)
    single_rate = N_PY_SINGLE / median_seconds(py_single, rounds=5)
    ref_rate = N_REF / median_seconds(lambda: deque_push_pop(N_REF), rounds=5)
    assert np.array_equal(out, src)
    figure("ring.spsc.python_batch_push_pop_per_s", batch_rate, "1/s")
    figure("ring.spsc.python_batch_speedup_vs_deque", batch_rate / ref_rate, "x")
    # Single records from Python pay a GIL release per call: reported, not gated.
    figure("ring.spsc.python_single_push_pop_per_s", single_rate, "1/s")
    figure("ring.spsc.python_single_vs_deque", single_rate / ref_rate, "x")


def deque_two_threads(n: int) -> float:
    """Seconds for a Python producer thread to hand n 8-byte records to a consumer thread
    through a deque (the consumer polls; every value checked in order)."""
    d = deque()
    done = []

    def producer():
        append = d.append
        for i in range(n):
            append(i.to_bytes(8, "little"))

    def consumer():
        popleft = d.popleft
        expect = 0
        while expect < n:
            try:
                v = popleft()
            except IndexError:
                continue
            assert int.from_bytes(v, "little") == expect
            expect += 1
        done.append(expect)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=consumer), threading.Thread(target=producer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert done == [n]
    return elapsed


def test_spsc_two_threads(ring_transfer, figure):
    reps = [ring_transfer("spsc", N_TWO_THREADS, 4096, BATCH) for _ in range(3)]
    assert all(r["ok"] for r in reps)
    c_rate = sorted(r["items_per_s"] for r in reps)[1]
    ref_rate = N_REF_TWO_THREADS / sorted(deque_two_threads(N_REF_TWO_THREADS) for _ in range(3))[1]
    unbatched = ring_transfer("spsc", N_TWO_THREADS // 5, 4096, 1)
    assert unbatched["ok"]
    figure("ring.spsc.two_threads_per_s", c_rate, "1/s")
    figure("ring.spsc.two_threads_unbatched_per_s", unbatched["items_per_s"], "1/s")
    figure("ring.spsc.two_threads_deque_per_s", ref_rate, "1/s")
    figure("ring.spsc.two_threads_speedup_vs_deque", c_rate / ref_rate, "x")


def queue_mpmc(n_prod: int, n_cons: int, per: int) -> float:
    """Seconds for n_prod Python threads to pass per items each to n_cons consumer threads
    through a bounded queue.Queue; every item counted exactly once."""
    q = queue.Queue(maxsize=1024)
    seen = [0] * (n_prod * per)
    stop = object()

    def producer(p):
        for s in range(per):
            q.put((p, s))

    def consumer():
        while True:
            item = q.get()
            if item is stop:
                return
            p, s = item
            seen[p * per + s] += 1

    t0 = time.perf_counter()
    cons = [threading.Thread(target=consumer) for _ in range(n_cons)]
    prods = [threading.Thread(target=producer, args=(p,)) for p in range(n_prod)]
    for t in cons + prods:
        t.start()
    for t in prods:
        t.join()
    for _ in cons:
        q.put(stop)
    for t in cons:
        t.join()
    elapsed = time.perf_counter() - t0
    assert all(c == 1 for c in seen)
    return elapsed


def test_mpmc_four_producers_two_consumers(ring_transfer, figure):
    reps = [ring_transfer("mpmc", 4, 2, MPMC_PER_PRODUCER, 1024, 16) for _ in range(3)]
    assert all(r["ok"] for r in reps)
    c_rate = sorted(r["items_per_s"] for r in reps)[1]
    ref_rate = 4 * MPMC_REF_PER_PRODUCER / sorted(
        queue_mpmc(4, 2, MPMC_REF_PER_PRODUCER) for _ in range(3))[1]
    figure("ring.mpmc.4p2c_per_s", c_rate, "1/s")
    figure("ring.mpmc.4p2c_queue_per_s", ref_rate, "1/s")
    figure("ring.mpmc.4p2c_speedup_vs_queue", c_rate / ref_rate, "x")
