# distutils: sources = csrc/pool.c
"""Fixed-capacity object pool of fixed-size byte slots (C in csrc/pool.c, design in
csrc/pool.h): O(1) acquire/release through an index free list, errors never corrupt it.

Slots are named by int index in [0, capacity). A fresh pool hands out 0, 1, 2, ...; after
that the most recently released slot comes back first (LIFO). Slots start zeroed and keep
their bytes across release/acquire (nothing is cleared).

Errors (all raised before anything changes):

* :meth:`ObjectPool.acquire` on an exhausted pool raises :class:`PoolExhausted` (and the
  ``failed_acquires`` statistic counts it). It never returns a sentinel.
  :meth:`ObjectPool.acquire_many` does the same when fewer slots are free than asked for,
  and acquires none.
* an index that is not an int: TypeError; out of [0, capacity): IndexError;
  in range but not acquired (double release, or read/write of a free slot):
  :class:`PoolError` (a ValueError). :meth:`ObjectPool.release_many` checks every index
  first and releases none if one is bad (a repeat within the batch counts as a double
  release).

A pool has one owner thread (the C has no locking); the GIL serializes Python callers.
"""

from engine.args cimport check_index, check_int
import numpy as np

cimport numpy as cnp

from libc.stdint cimport uint32_t
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize


cnp.import_array()


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
            index = check_index(index, "index")
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

    def acquire_many(self, n):
        """Take n free slots (0 <= n <= capacity) as a uint32 array, in the order n
        acquire() calls would return them. All or nothing: when fewer than n are free it
        raises PoolExhausted, acquires none and counts one failed acquire."""
        cdef cnp.npy_intp k = check_int(n, "n", 0, self.capacity)
        cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, &k, cnp.NPY_UINT32, 0)
        if k and bot4_pool_acquire_n(self._p, <size_t>k,
                                     <uint32_t *>cnp.PyArray_DATA(out)) != BOT4_POOL_OK:
            raise PoolExhausted(f"ObjectPool: acquire_many({k}) with "
                                f"{self.capacity - len(self)} of {self.capacity} slots free")
        return out

    def release_many(self, ids):
        """Return acquired slots: `ids` is a 1-D sequence or array of ints, released in
        order as release() would. All or nothing: the first index that is out of range
        (IndexError), not acquired or repeated within ids (PoolError) is named with its
        position, and no slot is released."""
        cdef cnp.ndarray a = self._id_array(ids)
        cdef const uint32_t *v = <const uint32_t *>cnp.PyArray_DATA(a)
        cdef size_t bad = 0, n = <size_t>cnp.PyArray_DIM(a, 0)
        cdef int st
        if n == 0:
            return
        st = bot4_pool_release_n(self._p, v, n, &bad)
        if st == BOT4_POOL_ERANGE:
            raise IndexError(f"ids[{bad}] = {v[bad]} out of range [0, {self.capacity})")
        if st != BOT4_POOL_OK:
            i = v[bad]
            if any(v[j] == i for j in range(bad)):
                raise PoolError(f"release_many: ids[{bad}] = {i} repeats an earlier index "
                                f"(double release)")
            raise PoolError(f"release_many: ids[{bad}] = {i} is not acquired (double release?)")

    cdef cnp.ndarray _id_array(self, object ids):
        """ids as a 1-D C-contiguous aligned uint32 array, or TypeError/ValueError/
        IndexError naming it."""
        cdef cnp.ndarray arr
        if type(ids) is np.ndarray:
            arr = ids
            if (cnp.PyArray_TYPE(arr) == cnp.NPY_UINT32 and cnp.PyArray_NDIM(arr) == 1
                    and cnp.PyArray_ISCARRAY_RO(arr) and cnp.PyArray_ISNOTSWAPPED(arr)):
                return arr
        a = np.asarray(ids)
        if a.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {a.shape}")
        if a.size == 0:
            return np.empty(0, dtype=np.uint32)
        if a.dtype.kind not in "iu":
            raise TypeError(f"ids must be integers, got dtype {a.dtype}")
        bad = np.flatnonzero((a < 0) | (a > 0xFFFFFFFF))
        if bad.size:
            k = bad[0]
            raise IndexError(f"ids[{k}] = {a[k]} out of range [0, {self.capacity})")
        return np.ascontiguousarray(a, dtype=np.uint32)  # native order, aligned

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
        i = check_index(index, "index")
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
