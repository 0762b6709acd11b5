# distutils: sources = csrc/pool.c
"""Fixed-capacity object pool of fixed-size byte slots (C in csrc/pool.c, design in
csrc/pool.h): O(1) acquire/release through an index free list, errors never corrupt it.

Slots are named by int index in [0, capacity). A fresh pool hands out 0, 1, 2, ...; after
that the most recently released slot comes back first (LIFO). Slots start zeroed and keep
their bytes across release/acquire (nothing is cleared).

Errors (all raised before anything changes):

* :meth:`ObjectPool.acquire` on an exhausted pool raises :class:`PoolExhausted` (and the
  ``failed_acquires`` statistic counts it). It never returns a sentinel.
* an index that is not an int: TypeError; out of [0, capacity): IndexError;
  in range but not acquired (double release, or read/write of a free slot):
  :class:`PoolError` (a ValueError).

A pool has one owner thread (the C has no locking); the GIL serializes Python callers.
"""

from engine.args cimport check_int
import numpy as np

from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize


class PoolExhausted(RuntimeError):
    """acquire() found no free slot."""


class PoolError(ValueError):
    """An index that is in range but not acquired: double release, or use of a free slot."""


cdef class ObjectPool:
    """`capacity` slots of `slot_size` bytes each (capacity 1..2**30, slot_size 1..2**20)."""

    def __cinit__(self, capacity, slot_size):
        self._p = NULL
        cap = check_int(capacity, "capacity", 1, BOT4_POOL_MAX_CAPACITY)
        ss = check_int(slot_size, "slot_size", 1, BOT4_POOL_MAX_SLOT)
        cdef int st = bot4_pool_create(&self._p, cap, ss)
        if st == BOT4_POOL_ENOMEM:
            self._p = NULL
            raise MemoryError(f"ObjectPool(capacity={cap}, slot_size={ss}): out of memory")
        if st != BOT4_POOL_OK:
            self._p = NULL
            raise ValueError(f"ObjectPool(capacity={cap}, slot_size={ss}): invalid (status {st})")
        self.capacity = cap
        self.slot_size = ss

    def __dealloc__(self):
        bot4_pool_destroy(self._p)

    cdef uint32_t _held_index(self, object index, str what) except? 0xFFFFFFFF:
        cdef long long i
        if type(index) is not int:  # exact int is the fast path; bool is refused
            if isinstance(index, bool) or not hasattr(index, "__index__"):
                raise TypeError(f"index must be an int, got {type(index).__name__} {index!r}")
            index = index.__index__()
        try:
            i = index
        except OverflowError:
            raise IndexError(f"index {index} out of range [0, {self.capacity})") from None
        if i < 0 or i >= self.capacity:
            raise IndexError(f"index {i} out of range [0, {self.capacity})")
        if not bot4_pool_held(self._p, <uint32_t>i):
            raise PoolError(f"{what}: index {i} is not acquired"
                            + (" (double release?)" if what == "release" else ""))
        return <uint32_t>i

    def acquire(self):
        """Take a free slot; returns its index. Raises PoolExhausted when none is free."""
        cdef uint32_t i
        if bot4_pool_acquire(self._p, &i) != BOT4_POOL_OK:
            raise PoolExhausted(f"ObjectPool: all {self.capacity} slots are in use")
        return i

    def release(self, index):
        """Return an acquired slot. IndexError when out of range, PoolError when the slot
        is not acquired (double release); the pool is unchanged in both cases."""
        cdef uint32_t i = self._held_index(index, "release")
        bot4_pool_release(self._p, i)

    def write(self, index, data):
        """Copy `data` (bytes-like, exactly slot_size bytes) into an acquired slot."""
        cdef uint32_t i = self._held_index(index, "write")
        try:
            flat = np.frombuffer(data, dtype=np.uint8)
        except (TypeError, ValueError, BufferError) as e:
            raise TypeError(f"data must be a C-contiguous bytes-like object of "
                            f"slot_size={self.slot_size} bytes, got {type(data).__name__} ({e})") from None
        if flat.shape[0] != self.slot_size:
            raise ValueError(f"data must be exactly slot_size={self.slot_size} bytes, "
                             f"got {flat.shape[0]}")
        cdef const unsigned char[::1] src = flat
        memcpy(bot4_pool_slot(self._p, i), &src[0], self.slot_size)

    def read(self, index):
        """The slot_size bytes of an acquired slot."""
        cdef uint32_t i = self._held_index(index, "read")
        return PyBytes_FromStringAndSize(<char *>bot4_pool_slot(self._p, i), self.slot_size)

    def held(self, index):
        """True if index is in range and currently acquired."""
        if isinstance(index, bool) or not hasattr(index, "__index__"):
            raise TypeError(f"index must be an int, got {type(index).__name__} {index!r}")
        i = index.__index__()
        return 0 <= i < self.capacity and bool(bot4_pool_held(self._p, <uint32_t>i))

    def stats(self):
        """{"capacity", "slot_size", "in_use", "free", "high_water", "acquires",
        "releases", "failed_acquires"}."""
        cdef bot4_pool_stats s
        bot4_pool_get_stats(self._p, &s)
        return {
            "capacity": s.capacity, "slot_size": s.slot_size, "in_use": s.in_use,
            "free": s.capacity - s.in_use, "high_water": s.high_water,
            "acquires": s.acquires, "releases": s.releases,
            "failed_acquires": s.failed_acquires,
        }

    def __len__(self):
        cdef bot4_pool_stats s
        bot4_pool_get_stats(self._p, &s)
        return s.in_use

    def __repr__(self):
        return f"ObjectPool(capacity={self.capacity}, slot_size={self.slot_size}, in_use={len(self)})"




def pool_bench(n, outstanding=1, clock="wall"):
    """n acquire+release pairs on a 4096-slot pool, in C with the GIL released;
    `outstanding` slots are acquired before they are released each round. Returns the
    loop's nanoseconds: wall time, or with clock="cpu" the thread's CPU time."""
    cdef uint64_t count = check_int(n, "n", 1, 1 << 40)
    cdef size_t k = check_int(outstanding, "outstanding", 1, 4096)
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    cdef int64_t ns = 0, cpu_ns = 0
    cdef uint64_t checksum = 0
    cdef int st
    with nogil:
        st = bot4_pool_bench(count, k, &ns, &cpu_ns, &checksum)
    if st != BOT4_POOL_OK:
        raise RuntimeError(f"pool_bench: status {st}")
    return cpu_ns if clock == "cpu" else ns


cdef enum:
    _PERF_BATCH = 64


def perf_stages(samples=10000):
    """Latency samples for ``bot4 perf-manifest``: ``pool.acquire_release``. Each sample
    times (bot4_now_ns) 64 acquire+release pairs on a 4096-slot pool and divides by 64,
    so latency_ns is one acquire plus one release."""
    cdef Py_ssize_t ns_ = check_int(samples, "samples", 1, 100_000_000)
    cdef Py_ssize_t s, j
    cdef int64_t t0, t1
    cdef uint32_t idx
    cdef bot4_pool *p = NULL
    lat = np.empty(ns_, dtype=np.float64)
    cdef double[::1] lv = lat
    if bot4_pool_create(&p, 4096, 64) != BOT4_POOL_OK:
        raise MemoryError("perf_stages: ObjectPool")
    with nogil:
        for s in range(ns_):
            t0 = bot4_now_ns()
            for j in range(_PERF_BATCH):
                bot4_pool_acquire(p, &idx)
                bot4_pool_release(p, idx)
            t1 = bot4_now_ns()
            lv[s] = <double>(t1 - t0) / _PERF_BATCH
    bot4_pool_destroy(p)
    total_ns = float(lat.sum())
    return {
        "pool.acquire_release": {
            "latency_ns": lat,
            "ops_per_sample": _PERF_BATCH,
            "throughput_per_s": ns_ * 1e9 / total_ns if total_ns > 0 else 0.0,
        }
    }
