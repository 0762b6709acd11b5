"""engine.ring against plain-Python models (collections.deque), plus threads and bad input.

The models: an SPSC ring or MPMC queue is a deque with a capacity (push refused when
full); overwrite mode is a deque(maxlen=capacity) whose evictions are counted. Long random
operation sequences (single records and batches of every accepted array kind, wrapping
round small rings many times) must give the same results and sizes as the model.
"""

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engine import ring

CAPACITIES = [1, 2, 4, 8, 16]
RECORD_SIZES = [1, 3, 8, 13]


def records(start: int, k: int, rs: int) -> np.ndarray:
    """k distinct-looking records of rs bytes as a (k, rs) uint8 array."""
    base = np.arange(start, start + k, dtype=np.int64)[:, None] * 7
    return ((base + np.arange(rs)[None, :]) % 251).astype(np.uint8)


def as_kind(arr2d: np.ndarray, kind: str) -> np.ndarray:
    """The same records as one of the accepted batch array kinds."""
    rs = arr2d.shape[1]
    if kind == "2d":
        return arr2d
    if kind == "void":
        return arr2d.reshape(-1).view(f"V{rs}")
    dt = np.dtype([("payload", "u1", (rs,))])
    return arr2d.reshape(-1).view(dt)


def rows(arr: np.ndarray) -> list[bytes]:
    """The records of a batch array (any accepted kind) as bytes."""
    rs = arr.itemsize * (arr.shape[1] if arr.ndim == 2 else 1)
    flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    return [flat[i * rs:(i + 1) * rs].tobytes() for i in range(len(arr))]


class BoundedModel:
    """A queue of bytes with a capacity: refuses when full, or drops the oldest."""

    def __init__(self, capacity: int, overwrite: bool):
        self.capacity = capacity
        self.overwrite = overwrite
        self.items: deque[bytes] = deque()
        self.dropped = 0

    def push(self, rec: bytes) -> bool:
        if len(self.items) == self.capacity:
            if not self.overwrite:
                return False
            self.items.popleft()
            self.dropped += 1
        self.items.append(rec)
        return True

    def pop(self):
        return self.items.popleft() if self.items else None


class QueueMachine(RuleBasedStateMachine):
    """Random single/batch pushes and pops on a ring vs BoundedModel."""

    make = None  # (capacity, record_size, overwrite) -> ring object
    overwrite = False
    capacities = CAPACITIES

    @initialize(cap_i=st.integers(0, 4), rs=st.sampled_from(RECORD_SIZES))
    def setup(self, cap_i, rs):
        cap = self.capacities[min(cap_i, len(self.capacities) - 1)]
        self.q = type(self).make(cap, rs, self.overwrite)
        self.model = BoundedModel(cap, self.overwrite)
        self.rs = rs
        self.counter = 0

    def _next(self, k):
        arr = records(self.counter, k, self.rs)
        self.counter += k
        return arr

    @rule()
    def push_one(self):
        rec = self._next(1)
        # bytes, bytearray and a numpy row are all bytes-like
        for form in (bytes(rec[0]),):
            assert self.q.push(form) == self.model.push(form)

    @rule()
    def push_one_bytearray(self):
        rec = bytearray(self._next(1)[0].tobytes())
        assert self.q.push(rec) == self.model.push(bytes(rec))

    @rule()
    def pop_one(self):
        assert self.q.pop() == self.model.pop()

    @rule(k=st.integers(0, 40), kind=st.sampled_from(["2d", "void", "struct"]))
    def push_batch(self, k, kind):
        arr = self._next(k)
        n = self.q.push_batch(as_kind(arr, kind))
        expect = 0
        for r in rows(arr):
            if not self.model.push(r):
                break
            expect += 1
        assert n == expect

    @rule(k=st.integers(0, 40), kind=st.sampled_from(["2d", "void", "struct"]))
    def pop_batch(self, k, kind):
        out = as_kind(np.full((k, self.rs), 0xEE, dtype=np.uint8), kind)
        n = self.q.pop_batch(out)
        want = []
        while len(want) < k and self.model.items:
            want.append(self.model.pop())
        assert n == len(want)
        got = rows(out)
        assert got[:n] == want
        # the rest of `out` is untouched
        assert all(r == b"\xee" * self.rs for r in got[n:])

    @invariant()
    def sizes_agree(self):
        if not hasattr(self, "q"):
            return
        assert self.q.size == len(self.model.items) == len(self.q)
        assert self.q.capacity == self.model.capacity
        assert self.q.record_size == self.rs
        if isinstance(self.q, ring.SpscRing):
            assert self.q.dropped == self.model.dropped


class SpscMachine(QueueMachine):
    make = staticmethod(lambda cap, rs, ow: ring.SpscRing(cap, rs, overwrite=ow))


class SpscOverwriteMachine(SpscMachine):
    overwrite = True


class MpmcMachine(QueueMachine):
    make = staticmethod(lambda cap, rs, ow: ring.MpmcQueue(cap, rs))
    capacities = [2, 2, 4, 8, 16]


_stateful = settings(max_examples=40, stateful_step_count=100, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])
TestSpscStateful = SpscMachine.TestCase
TestSpscStateful.settings = _stateful
TestSpscOverwriteStateful = SpscOverwriteMachine.TestCase
TestSpscOverwriteStateful.settings = _stateful
TestMpmcStateful = MpmcMachine.TestCase
TestMpmcStateful.settings = _stateful


# ---- long flat sequences (thousands of operations per example) ----------------------------

OPS = st.lists(st.tuples(st.sampled_from(["push", "pop", "pushb", "popb"]), st.integers(0, 19)),
               min_size=300, max_size=1500)


@pytest.mark.parametrize("kind", ["spsc", "overwrite", "mpmc"])
@settings(max_examples=15, deadline=None)
@given(ops=OPS, cap=st.sampled_from([2, 4, 8]), rs=st.sampled_from([1, 8, 12]))
def test_long_sequences_match_model(kind, ops, cap, rs):
    q = ring.MpmcQueue(cap, rs) if kind == "mpmc" else ring.SpscRing(cap, rs, overwrite=kind == "overwrite")
    model = BoundedModel(cap, kind == "overwrite")
    counter = 0
    total_pushed = 0
    for op, k in ops:
        if op == "push":
            rec = bytes(records(counter, 1, rs)[0])
            counter += 1
            ok = q.push(rec)
            assert ok == model.push(rec)
            total_pushed += ok
        elif op == "pop":
            assert q.pop() == model.pop()
        elif op == "pushb":
            arr = records(counter, k, rs)
            counter += k
            n = q.push_batch(arr)
            expect = 0
            for r in rows(arr):
                if not model.push(r):
                    break
                expect += 1
            assert n == expect
            total_pushed += n
        else:
            out = np.zeros((k, rs), dtype=np.uint8)
            n = q.pop_batch(out)
            want = [model.pop() for _ in range(min(k, len(model.items)))]
            assert rows(out[:n]) == want
        assert q.size == len(model.items)
    if kind == "overwrite":
        assert q.dropped == model.dropped
    # drain: everything left comes out in order
    left = [q.pop() for _ in range(len(model.items))]
    assert left == list(model.items)
    assert q.pop() is None and q.size == 0


def test_wraparound_batch_straddles_buffer_end():
    r = ring.SpscRing(8, 8)
    vals = np.arange(100, dtype=np.uint64)
    assert r.push_batch(vals[:6]) == 6
    out = np.zeros(5, dtype=np.uint64)
    assert r.pop_batch(out) == 5 and list(out) == [0, 1, 2, 3, 4]
    # 7 free: this batch wraps around the end of the 8-slot buffer
    assert r.push_batch(vals[6:20]) == 7
    out = np.zeros(10, dtype=np.uint64)
    assert r.pop_batch(out) == 8
    assert list(out[:8]) == [5, 6, 7, 8, 9, 10, 11, 12]


def test_full_and_empty_reported_never_overwritten():
    for q in (ring.SpscRing(4, 2), ring.MpmcQueue(4, 2)):
        assert q.pop() is None
        for i in range(4):
            assert q.push(bytes([i, i]))
        assert q.push(b"xx") is False
        assert q.push_batch(np.zeros((3, 2), np.uint8)) == 0
        assert [q.pop() for _ in range(5)] == [b"\0\0", b"\1\1", b"\2\2", b"\3\3", None]


def test_overwrite_mode_keeps_newest_and_counts_dropped():
    r = ring.SpscRing(4, 8, overwrite=True)
    assert r.overwrite is True
    vals = np.arange(10, dtype=np.uint64)
    assert r.push_batch(vals) == 10  # larger than the ring: keeps the last 4
    assert r.dropped == 6 and r.size == 4
    assert r.push((99).to_bytes(8, "little")) is True
    assert r.dropped == 7
    out = np.zeros(8, dtype=np.uint64)
    assert r.pop_batch(out) == 4
    assert list(out[:4]) == [7, 8, 9, 99]
    assert ring.SpscRing(4, 8).dropped == 0


# ---- threads -------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ring_transfer():
    """tests/c/ring_transfer.c built at the extension's optimization level: run(*args) ->
    its JSON report (threads in C, every record checked)."""
    exe = ROOT / "build" / "tests" / "ring_transfer"
    exe.parent.mkdir(parents=True, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-O3", "-std=c11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE",
                    f"-I{ROOT / 'csrc'}", f"-I{ROOT / 'tests' / 'c'}",
                    str(ROOT / "tests" / "c" / "ring_transfer.c"), str(ROOT / "csrc" / "ring.c"),
                    "-o", str(exe), "-pthread"], check=True)

    def run(*args):
        proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode in (0, 1), proc.stderr
        return json.loads(proc.stdout)

    return run


def test_spsc_two_threads_ten_million_items_in_c(ring_transfer):
    rep = ring_transfer("spsc", 10_000_000, 1024, 64)
    assert rep["sent"] == rep["received"] == 10_000_000
    assert rep["out_of_sequence"] == 0
    assert rep["last_value"] == 9_999_999
    assert rep["ok"] is True


def test_spsc_two_threads_unbatched_small_ring(ring_transfer):
    rep = ring_transfer("spsc", 200_000, 2, 1)
    assert rep["ok"] and rep["received"] == 200_000 and rep["out_of_sequence"] == 0


@pytest.mark.parametrize("producers,consumers,capacity,batch,per",
                         [(4, 2, 1024, 16, 250_000), (2, 3, 4, 1, 40_000),
                          (1, 1, 2, 1, 40_000), (3, 1, 64, 64, 100_000)])
def test_mpmc_several_producers_and_consumers(ring_transfer, producers, consumers, capacity,
                                              batch, per):
    rep = ring_transfer("mpmc", producers, consumers, per, capacity, batch)
    assert rep["sent"] == rep["received"] == producers * per
    assert rep["missing"] == 0 and rep["duplicated"] == 0 and rep["invalid"] == 0
    assert rep["order_violations"] == 0
    assert rep["ok"] is True


def test_transfers_of_zero_items(ring_transfer):
    assert ring_transfer("spsc", 0, 8, 1)["ok"]
    assert ring_transfer("mpmc", 2, 2, 0, 8, 1)["ok"]


def _python_threads_transfer(q, n, chunk):
    src = np.arange(n, dtype=np.uint64)
    received = []
    errors = []

    def producer():
        try:
            i = 0
            while i < n:
                k = q.push_batch(src[i:i + chunk])
                i += k
                if not k:
                    time.sleep(0)
        except Exception as e:  # surfaced below
            errors.append(e)

    def consumer():
        try:
            got = 0
            buf = np.empty(chunk, dtype=np.uint64)
            while got < n:
                k = q.pop_batch(buf)
                if k:
                    received.append(buf[:k].copy())
                    got += k
                else:
                    time.sleep(0)  # let the producer run instead of spinning on the GIL
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    return np.concatenate(received)


def test_spsc_two_python_threads_push_batch_pop_batch():
    n = 500_000
    out = _python_threads_transfer(ring.SpscRing(4096, 8), n, 512)
    np.testing.assert_array_equal(out, np.arange(n, dtype=np.uint64))


def test_mpmc_two_python_threads_push_batch_pop_batch():
    n = 200_000
    out = _python_threads_transfer(ring.MpmcQueue(1024, 8), n, 256)
    np.testing.assert_array_equal(out, np.arange(n, dtype=np.uint64))


def test_overwrite_ring_used_from_two_python_threads_stays_consistent():
    """Overwrite mode keeps the GIL (single owner in C), so a Python producer and consumer
    thread are serialized: values come out increasing, and popped + dropped + left over
    accounts for every pushed record."""
    n, chunk = 200_000, 16
    r = ring.SpscRing(256, 8, overwrite=True)
    src = np.arange(n, dtype=np.uint64)
    popped = []
    done = threading.Event()
    consumed = threading.Event()

    def producer():
        for i in range(0, n, chunk):
            assert r.push_batch(src[i:i + chunk]) == len(src[i:i + chunk])
            if i == 10 * chunk:  # let the consumer in before the rest, however busy the machine
                consumed.wait(timeout=60)
        done.set()

    def consumer():
        buf = np.empty(100, dtype=np.uint64)
        while not done.is_set() or r.size:
            k = r.pop_batch(buf)
            popped.append(buf[:k].copy())
            if k:
                consumed.set()

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often so calls really interleave
    try:
        threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(old_interval)
    out = np.concatenate(popped)
    assert len(out) > r.capacity  # the consumer ran while the producer was pushing
    assert (np.diff(out.astype(np.int64)) > 0).all()
    assert len(out) + r.dropped + r.size == n
    assert r.size == 0 and out[-1] == n - 1


def test_spsc_refuses_a_second_concurrent_producer():
    """While one thread is inside push_batch (GIL released, a 64 MiB copy), a second
    pusher gets RuntimeError instead of racing it; every accepted record is accounted for."""
    rs = 4096
    big = np.ones((1 << 14, rs), dtype=np.uint8)
    refused = False
    for _attempt in range(5):  # the overlap depends on scheduling; retry rather than flake
        r = ring.SpscRing(1 << 15, rs)
        started = threading.Event()
        result = {}

        def first(r=r, started=started, result=result):
            started.set()
            result["n"] = r.push_batch(big)

        t = threading.Thread(target=first)
        t.start()
        started.wait()
        extra = 0
        while t.is_alive():
            try:
                extra += r.push(b"\2" * rs)
            except RuntimeError as e:
                assert "one producer" in str(e)
                refused = True
                break
        t.join()
        assert r.size == result["n"] + extra
        if refused:
            break
    assert refused


# ---- bad input: clear errors, no state change ----------------------------------------------

def _contents(q, rs):
    """Drain q and return its records (and refill it so the state is the same)."""
    out = np.zeros((q.capacity, rs), dtype=np.uint8)
    n = q.pop_batch(out)
    q.push_batch(out[:n])
    return rows(out[:n])


@pytest.mark.parametrize("cls", ["spsc", "mpmc"])
@pytest.mark.parametrize("capacity,exc,needle", [
    (0, ValueError, "capacity.*got 0"), (-4, ValueError, "capacity.*got -4"),
    (3, ValueError, "power of two.*got 3"), (12, ValueError, "got 12"),
    (2 ** 31, ValueError, "capacity"), (4.0, TypeError, "capacity must be an int"),
    ("8", TypeError, "capacity must be an int"), (True, TypeError, "capacity"),
    (None, TypeError, "capacity"),
])
def test_bad_capacity(cls, capacity, exc, needle):
    make = (lambda c: ring.SpscRing(c, 8)) if cls == "spsc" else (lambda c: ring.MpmcQueue(c, 8))
    with pytest.raises(exc, match=needle):
        make(capacity)


def test_mpmc_needs_capacity_two():
    with pytest.raises(ValueError, match="capacity.*got 1"):
        ring.MpmcQueue(1, 8)
    assert ring.SpscRing(1, 8).capacity == 1


@pytest.mark.parametrize("rs,exc", [(0, ValueError), (-1, ValueError), (2 ** 21, ValueError),
                                    (8.5, TypeError), ("8", TypeError)])
def test_bad_record_size(rs, exc):
    for make in (ring.SpscRing, ring.MpmcQueue):
        with pytest.raises(exc, match="record_size"):
            make(8, rs)


def test_bad_overwrite_flag():
    with pytest.raises(TypeError, match="overwrite must be a bool"):
        ring.SpscRing(8, 8, overwrite="yes")


BAD_RECORDS = [
    (b"1234567", ValueError, "exactly record_size=8 bytes, got 7"),
    (b"123456789", ValueError, "got 9"),
    (b"", ValueError, "got 0"),
    ("12345678", TypeError, "rec must be"),
    (None, TypeError, "rec must be"),
    (12345678, TypeError, "rec must be"),
    (np.zeros(16, np.uint8)[::2], TypeError, "rec must be"),  # non-contiguous buffer
]


@pytest.mark.parametrize("make", [lambda: ring.SpscRing(8, 8), lambda: ring.MpmcQueue(8, 8),
                                  lambda: ring.SpscRing(8, 8, overwrite=True)])
@pytest.mark.parametrize("rec,exc,needle", BAD_RECORDS)
def test_bad_record_changes_nothing(make, rec, exc, needle):
    q = make()
    q.push_batch(records(0, 5, 8))
    before = _contents(q, 8)
    with pytest.raises(exc, match=needle):
        q.push(rec)
    assert q.size == 5 and _contents(q, 8) == before


BAD_BATCHES = [
    (lambda: np.zeros((3, 8), np.float64), TypeError, "dtype float64"),
    (lambda: np.zeros((3, 8), np.uint16), TypeError, "dtype uint16"),
    (lambda: np.zeros((3, 7), np.uint8), ValueError, r"shape \(3, 7\)"),
    (lambda: np.zeros(3, np.uint32), TypeError, "itemsize 4"),
    (lambda: np.zeros(3, object), TypeError, "Python objects"),
    (lambda: np.zeros((3, 2, 8), np.uint8), ValueError, "1-D .* or 2-D"),
    (lambda: np.zeros((6, 8), np.uint8)[::2], ValueError, "C-contiguous"),
    (lambda: np.zeros(6, np.uint64)[::2], ValueError, "C-contiguous"),
    (lambda: [b"12345678"], TypeError, "numpy array, got list"),
    (lambda: b"12345678", TypeError, "numpy array, got bytes"),
]


@pytest.mark.parametrize("make", [lambda: ring.SpscRing(8, 8), lambda: ring.MpmcQueue(8, 8)])
@pytest.mark.parametrize("bad,exc,needle", BAD_BATCHES)
def test_bad_batches_change_nothing(make, bad, exc, needle):
    q = make()
    q.push_batch(records(0, 5, 8))
    before = _contents(q, 8)
    with pytest.raises(exc, match="arr.*" + needle):
        q.push_batch(bad())
    with pytest.raises(exc, match="out.*" + needle):
        q.pop_batch(bad())
    assert q.size == 5 and _contents(q, 8) == before


def test_pop_batch_into_read_only_array_is_refused():
    q = ring.SpscRing(8, 8)
    q.push_batch(np.arange(3, dtype=np.uint64))
    out = np.zeros(4, np.uint64)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        q.pop_batch(out)
    assert q.size == 3


def test_accepted_batch_kinds_and_read_only_input():
    q = ring.SpscRing(16, 8)
    ro = np.arange(4, dtype=np.uint64)
    ro.flags.writeable = False
    assert q.push_batch(ro) == 4  # read-only input is fine for pushing
    assert q.push_batch(np.zeros((0, 8), np.uint8)) == 0
    assert q.push(memoryview(np.uint64(7).tobytes())) is True
    assert q.push(np.array([8], dtype=np.uint64)) is True  # any 8-byte buffer is a record
    out = np.zeros(6, dtype=np.uint64)
    assert q.pop_batch(out) == 6
    assert list(out) == [0, 1, 2, 3, 7, 8]
