"""engine.pool.ObjectPool against a plain-Python model (a list used as a LIFO free stack, a
set of held indices, a dict of slot contents), plus bad input leaving the pool unchanged.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

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

    def acquire_many(self, n: int):
        """n acquires, or None (nothing acquired, one failure counted) when fewer are free."""
        if n > len(self.free):
            self.failed += 1
            return None
        return [self.acquire() for _ in range(n)]

    def release_many(self, ids) -> tuple[int, str] | None:
        """Release ids in order; on the first bad one (out of range, not held, or repeated)
        release none and return (position, "range" | "not held" | "repeat")."""
        for k, i in enumerate(ids):
            if not 0 <= i < self.capacity:
                return k, "range"
            if i in ids[:k]:
                return k, "repeat"
            if i not in self.held:
                return k, "not held"
        for i in ids:
            self.release(i)
        return None

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

    @rule(n=st.integers(0, 40))
    def acquire_many(self, n):
        if n > self.m.capacity:
            return
        want = self.m.acquire_many(n)
        if want is None:
            with pytest.raises(PoolExhausted, match=f"acquire_many\\({n}\\)"):
                self.p.acquire_many(n)
        else:
            got = self.p.acquire_many(n)
            assert got.dtype == np.uint32 and got.tolist() == want

    @rule(data=st.data())
    def release_many(self, data):
        """A batch of held indices in any order, sometimes with a repeat, a free index or
        one out of range: all released, or an error naming the first bad one and no change."""
        ids = data.draw(st.lists(st.sampled_from(sorted(self.m.held)), unique=True)
                        if self.m.held else st.just([]))
        if data.draw(st.booleans()):
            bad = data.draw(st.integers(-2, self.m.capacity + 2))
            ids.insert(data.draw(st.integers(0, len(ids))), bad)
        before = pool_state(self.p)
        outcome = self.m.release_many(ids)
        if outcome is None:
            self.p.release_many(ids)
            return
        k, why = outcome
        exc, needle = {"range": (IndexError, "out of range"), "repeat": (PoolError, "repeats"),
                       "not held": (PoolError, "is not acquired")}[why]
        with pytest.raises(exc, match=rf"ids\[{k}\] = {ids[k]} {needle}"):
            self.p.release_many(np.array(ids))
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
    (lambda p: p.release(1.0), TypeError, "index must be an integer, got float"),
    (lambda p: p.release("0"), TypeError, "index must be an integer, got str"),
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


def test_batch_calls_match_single_calls():
    single, batch = ObjectPool(16, 8), ObjectPool(16, 8)
    want = [single.acquire() for _ in range(10)]
    got = batch.acquire_many(10)
    assert got.dtype == np.uint32 and got.tolist() == want
    order = [3, 7, 0, 9, 5]
    for i in order:
        single.release(i)
    batch.release_many(order)
    assert pool_state(batch) == pool_state(single)
    want = [single.acquire() for _ in range(8)]  # LIFO: 5, 9, 0, 7, 3, then 10, 11, 12
    assert batch.acquire_many(8).tolist() == want == [5, 9, 0, 7, 3, 10, 11, 12]
    assert pool_state(batch) == pool_state(single)
    # any integer sequence or array
    batch.release_many([np.int64(10), 11])
    batch.release_many(np.array([12, 0], dtype=np.int32)[::-1])
    batch.release_many(np.array([3], dtype=">u4"))
    for i in (10, 11, 0, 12, 3):
        single.release(i)
    assert pool_state(batch) == pool_state(single)
    assert batch.acquire_many(0).tolist() == []
    batch.release_many([])
    batch.release_many(np.empty(0, np.uint32))
    assert pool_state(batch) == pool_state(single)


def test_acquire_many_all_or_nothing():
    p = ObjectPool(4, 8)
    p.acquire()
    before = pool_state(p)
    with pytest.raises(PoolExhausted, match=r"acquire_many\(4\) with 3 of 4 slots free"):
        p.acquire_many(4)
    stats, held, contents = pool_state(p)
    assert (held, contents) == before[1:]
    assert stats == {**before[0], "failed_acquires": before[0]["failed_acquires"] + 1}
    assert p.acquire_many(3).tolist() == [1, 2, 3]
    assert p.stats()["high_water"] == 4


@pytest.mark.parametrize("call,exc,needle", [
    (lambda p: p.acquire_many(5), ValueError, r"n must be in \[0, 4\], got 5"),
    (lambda p: p.acquire_many(-1), ValueError, "n must be in"),
    (lambda p: p.acquire_many(2.0), TypeError, "n must be an integer, got float"),
    (lambda p: p.acquire_many(True), TypeError, "n must be an integer, got bool"),
    (lambda p: p.release_many([0, 4]), IndexError, r"ids\[1\] = 4 out of range \[0, 4\)"),
    (lambda p: p.release_many([0, -1]), IndexError, r"ids\[1\] = -1 out of range"),
    (lambda p: p.release_many([0, 2**40]), IndexError, r"ids\[1\] = 1099511627776 out of range"),
    (lambda p: p.release_many([0, 2]), PoolError, r"ids\[1\] = 2 is not acquired"),
    (lambda p: p.release_many([0, 3, 0]), PoolError, r"ids\[1\] = 3 is not acquired"),
    (lambda p: p.release_many([1, 0, 1]), PoolError, r"ids\[2\] = 1 repeats an earlier index"),
    (lambda p: p.release_many(np.array([0, 1, 0], np.uint32)), PoolError, r"ids\[2\] = 0 repeats"),
    (lambda p: p.release_many([0.0, 1.0]), TypeError, "ids must be integers, got dtype float64"),
    (lambda p: p.release_many([True]), TypeError, "ids must be integers, got dtype bool"),
    (lambda p: p.release_many(["0"]), TypeError, "ids must be integers"),
    (lambda p: p.release_many([[0, 1]]), ValueError, r"ids must be 1-D, got shape \(1, 2\)"),
    (lambda p: p.release_many(0), ValueError, r"ids must be 1-D, got shape \(\)"),
])
def test_batch_bad_input_changes_nothing(call, exc, needle):
    p = ObjectPool(4, 8)
    for _ in range(3):
        p.acquire()
    p.write(0, b"ABCDEFGH")
    p.release(2)
    before = pool_state(p)
    with pytest.raises(exc, match=needle):
        call(p)
    assert pool_state(p) == before
    p.release_many([0, 1])  # the free list is intact
    assert p.acquire_many(4).tolist() == [1, 0, 2, 3]
