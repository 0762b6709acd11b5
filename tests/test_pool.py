"""engine.pool.ObjectPool against a plain-Python model (a list used as a LIFO free stack, a
set of held indices, a dict of slot contents), plus bad input leaving the pool unchanged.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine import pool
from engine.pool import ObjectPool, PoolError, PoolExhausted


class PoolModel:
    def __init__(self, capacity: int, slot_size: int):
        self.capacity = capacity
        self.slot_size = slot_size
        self.free = list(range(capacity - 1, -1, -1))  # pop() hands out 0, 1, 2, ...
        self.held: set[int] = set()
        self.contents = {i: bytes(slot_size) for i in range(capacity)}
        self.high_water = 0
        self.failed = 0
        self.acquires = 0
        self.releases = 0

    def acquire(self):
        if not self.free:
            self.failed += 1
            return None
        i = self.free.pop()
        self.held.add(i)
        self.acquires += 1
        self.high_water = max(self.high_water, len(self.held))
        return i

    def release(self, i: int) -> str:
        if not 0 <= i < self.capacity:
            return "range"
        if i not in self.held:
            return "not held"
        self.held.remove(i)
        self.free.append(i)
        self.releases += 1
        return "ok"

    def stats(self) -> dict:
        return {"capacity": self.capacity, "slot_size": self.slot_size,
                "in_use": len(self.held), "free": self.capacity - len(self.held),
                "high_water": self.high_water, "acquires": self.acquires,
                "releases": self.releases, "failed_acquires": self.failed}


def pool_state(p: ObjectPool) -> tuple:
    """Everything observable without changing the pool."""
    held = tuple(i for i in range(p.capacity) if p.held(i))
    return p.stats(), held, tuple(p.read(i) for i in held)


class PoolMachine(RuleBasedStateMachine):
    @initialize(cap=st.sampled_from([1, 2, 5, 16, 33]), ss=st.sampled_from([1, 7, 8, 24]))
    def setup(self, cap, ss):
        self.p = ObjectPool(cap, ss)
        self.m = PoolModel(cap, ss)
        self.counter = 0

    @rule()
    def acquire(self):
        want = self.m.acquire()
        if want is None:
            with pytest.raises(PoolExhausted):
                self.p.acquire()
        else:
            assert self.p.acquire() == want

    @precondition(lambda self: self.m.held)
    @rule(data=st.data())
    def release_held(self, data):
        i = data.draw(st.sampled_from(sorted(self.m.held)))
        assert self.m.release(i) == "ok"
        self.p.release(i)

    @rule(i=st.integers(-3, 40))
    def release_any(self, i):
        """Any index: in range and held releases; otherwise an error and no change."""
        before = pool_state(self.p)
        outcome = self.m.release(i)
        if outcome == "ok":
            self.p.release(i)
        elif outcome == "range":
            with pytest.raises(IndexError, match=f"index {i} out of range"):
                self.p.release(i)
            assert pool_state(self.p) == before
        else:
            with pytest.raises(PoolError, match=f"index {i} is not acquired"):
                self.p.release(i)
            assert pool_state(self.p) == before

    @precondition(lambda self: self.m.held)
    @rule(data=st.data())
    def write_held(self, data):
        i = data.draw(st.sampled_from(sorted(self.m.held)))
        payload = bytes((self.counter + j) % 256 for j in range(self.m.slot_size))
        self.counter += 1
        self.p.write(i, payload)
        self.m.contents[i] = payload

    @rule(i=st.integers(0, 40))
    def read_or_write_free_is_refused(self, i):
        if i < self.m.capacity and i in self.m.held:
            assert self.p.read(i) == self.m.contents[i]
            return
        before = pool_state(self.p)
        exc = IndexError if i >= self.m.capacity else PoolError
        with pytest.raises(exc):
            self.p.read(i)
        with pytest.raises(exc):
            self.p.write(i, bytes(self.m.slot_size))
        assert pool_state(self.p) == before

    @invariant()
    def agrees(self):
        if not hasattr(self, "p"):
            return
        assert self.p.stats() == self.m.stats()
        assert len(self.p) == len(self.m.held)
        for i in self.m.held:
            assert self.p.held(i)
            assert self.p.read(i) == self.m.contents[i]


TestPoolStateful = PoolMachine.TestCase
TestPoolStateful.settings = settings(max_examples=40, stateful_step_count=100, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=15, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["acq", "rel", "bad"]), st.integers(0, 10**6)),
                    min_size=300, max_size=1500),
       cap=st.sampled_from([1, 3, 8, 64]))
def test_long_sequences_match_model(ops, cap):
    p = ObjectPool(cap, 8)
    m = PoolModel(cap, 8)
    for op, x in ops:
        if op == "acq":
            want = m.acquire()
            if want is None:
                with pytest.raises(PoolExhausted):
                    p.acquire()
            else:
                i = p.acquire()
                assert i == want
                p.write(i, i.to_bytes(8, "little"))
        elif op == "rel" and m.held:
            i = sorted(m.held)[x % len(m.held)]
            assert p.read(i) == i.to_bytes(8, "little")
            m.release(i)
            p.release(i)
        else:
            i = x % (cap + 4)
            outcome = m.release(i)
            if outcome == "ok":
                p.release(i)
            else:
                with pytest.raises(IndexError if outcome == "range" else PoolError):
                    p.release(i)
        assert p.stats() == m.stats()
    assert sorted(i for i in range(cap) if p.held(i)) == sorted(m.held)


def test_exhaustion_and_statistics():
    p = ObjectPool(3, 16)
    assert [p.acquire() for _ in range(3)] == [0, 1, 2]
    with pytest.raises(PoolExhausted, match="all 3 slots are in use"):
        p.acquire()
    with pytest.raises(PoolExhausted):
        p.acquire()
    s = p.stats()
    assert (s["in_use"], s["high_water"], s["failed_acquires"], s["capacity"]) == (3, 3, 2, 3)
    p.release(1)
    p.release(0)
    assert p.acquire() == 0  # LIFO: last released comes back first
    s = p.stats()
    assert (s["in_use"], s["high_water"], s["releases"], s["acquires"]) == (2, 3, 2, 4)


def test_double_release_is_an_error_not_corruption():
    p = ObjectPool(4, 8)
    a, b = p.acquire(), p.acquire()
    p.write(a, b"AAAAAAAA")
    p.release(b)
    before = pool_state(p)
    with pytest.raises(PoolError, match="index 1 is not acquired .double release"):
        p.release(b)
    assert pool_state(p) == before
    # the free list is intact: exactly 3 more acquires succeed, each index once
    got = sorted(p.acquire() for _ in range(3))
    assert got == [1, 2, 3]
    with pytest.raises(PoolExhausted):
        p.acquire()
    assert p.read(a) == b"AAAAAAAA"


def test_contents_persist_across_release_and_start_zeroed():
    p = ObjectPool(2, 5)
    i = p.acquire()
    assert p.read(i) == b"\0" * 5
    p.write(i, bytearray(b"hello"))
    p.release(i)
    assert p.acquire() == i
    assert p.read(i) == b"hello"
    p.write(i, np.frombuffer(b"world", dtype=np.uint8))
    assert p.read(i) == b"world"


@pytest.mark.parametrize("args,exc,needle", [
    ((0, 8), ValueError, r"capacity must be in \[1, .*got 0"),
    ((-1, 8), ValueError, "capacity.*got -1"),
    ((2 ** 31, 8), ValueError, "capacity"),
    ((4, 0), ValueError, "slot_size.*got 0"),
    ((4, 2 ** 21), ValueError, "slot_size"),
    ((4.0, 8), TypeError, "capacity must be an int"),
    ((4, "8"), TypeError, "slot_size must be an int"),
    ((None, 8), TypeError, "capacity"),
])
def test_bad_constructor_arguments(args, exc, needle):
    with pytest.raises(exc, match=needle):
        ObjectPool(*args)


@pytest.mark.parametrize("call,exc,needle", [
    (lambda p: p.release(4), IndexError, r"index 4 out of range \[0, 4\)"),
    (lambda p: p.release(-1), IndexError, "index -1 out of range"),
    (lambda p: p.release(2**40), IndexError, "out of range"),
    (lambda p: p.release(1.0), TypeError, "index must be an int, got float"),
    (lambda p: p.release("0"), TypeError, "index must be an int, got str"),
    (lambda p: p.release(None), TypeError, "index must be an int"),
    (lambda p: p.release(3), PoolError, "index 3 is not acquired"),
    (lambda p: p.write(0, b"short"), ValueError, "slot_size=8 bytes, got 5"),
    (lambda p: p.write(0, b"123456789"), ValueError, "got 9"),
    (lambda p: p.write(0, "12345678"), TypeError, "data must be"),
    (lambda p: p.write(0, None), TypeError, "data must be"),
    (lambda p: p.write(3, b"12345678"), PoolError, "write: index 3 is not acquired"),
    (lambda p: p.read(3), PoolError, "read: index 3 is not acquired"),
    (lambda p: p.read(9), IndexError, "index 9"),
    (lambda p: p.held("x"), TypeError, "index must be an int"),
])
def test_bad_input_changes_nothing(call, exc, needle):
    p = ObjectPool(4, 8)
    for _ in range(3):
        p.acquire()
    p.write(0, b"ABCDEFGH")
    p.release(2)
    before = pool_state(p)
    with pytest.raises(exc, match=needle):
        call(p)
    assert pool_state(p) == before


def test_numpy_integer_indices_are_accepted():
    p = ObjectPool(4, 8)
    i = p.acquire()
    p.write(np.int64(i), b"12345678")
    assert p.read(np.uint32(i)) == b"12345678"
    p.release(np.int32(i))
    assert p.stats()["in_use"] == 0


def test_pool_bench_and_perf_stages():
    assert pool.pool_bench(10_000) > 0
    assert pool.pool_bench(10_000, 64, clock="cpu") > 0
    with pytest.raises(ValueError, match="outstanding"):
        pool.pool_bench(10, 0)
    with pytest.raises(ValueError, match="clock"):
        pool.pool_bench(10, 1, clock="tsc")
    stages = pool.perf_stages(300)
    s = stages["pool.acquire_release"]
    assert s["latency_ns"].dtype == np.float64 and s["latency_ns"].shape[0] >= 300
    assert (s["latency_ns"] > 0).all() and s["ops_per_sample"] == 64 and s["throughput_per_s"] > 0
    with pytest.raises(ValueError, match="samples"):
        pool.perf_stages(0)
