# distutils: sources = csrc/ring.c
"""Lock-free ring buffers of fixed-size records (C in csrc/ring.c, design in csrc/ring.h).

:class:`SpscRing` is a single-producer single-consumer ring (one Python thread may push
while another pops, both with the GIL released around the copy). :class:`MpmcQueue` is
Dmitry Vyukov's bounded multi-producer multi-consumer queue. Records are raw bytes of a
fixed ``record_size``; batches are numpy arrays (2-D uint8 ``(n, record_size)`` or 1-D of
any plain dtype whose itemsize is ``record_size``, e.g. a structured dtype), C-contiguous.

Threading rules, enforced here:

* SpscRing: at most one thread pushes and one pops at a time. A second thread entering
  push/push_batch while another is inside one (or pop/pop_batch likewise) gets
  RuntimeError instead of corrupting the ring.
* SpscRing(overwrite=True): the ring drops its oldest record to make room and counts it
  in ``dropped``. Dropping moves the consumer's index from the producer side, so the C
  ring is single-owner in this mode; here every call keeps the GIL, which serializes
  Python threads (the C copy is short).
* MpmcQueue: any number of threads push and pop concurrently.

Bad arguments raise TypeError/ValueError naming the argument and its value, before
anything changes.
"""

from engine.args cimport check_index, check_int
import numpy as np

cimport numpy as cnp
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE

cnp.import_array()

# numpy's dtype flag for items holding Python object references (NPY_ITEM_REFCOUNT)
cdef enum:
    _NPY_ITEM_REFCOUNT = 0x01


# ---- argument checks --------------------------------------------------------------------

cdef object _check_capacity(object capacity, Py_ssize_t min_capacity, object max_capacity):
    c = check_index(capacity, "capacity")
    if c < min_capacity or c > max_capacity or (c & (c - 1)) != 0:
        raise ValueError(
            f"capacity must be a power of two in [{min_capacity}, {max_capacity}], got {c}")
    return c


cdef object _record_view(object rec, Py_ssize_t record_size, str name):
    """rec (any C-contiguous bytes-like object) as a flat uint8 array of record_size bytes."""
    try:
        flat = np.frombuffer(rec, dtype=np.uint8)
    except (TypeError, ValueError, BufferError) as e:
        raise TypeError(
            f"{name} must be a C-contiguous bytes-like object of record_size={record_size} "
            f"bytes, got {type(rec).__name__} ({e})") from None
    if flat.shape[0] != record_size:
        raise ValueError(
            f"{name} must be exactly record_size={record_size} bytes, got {flat.shape[0]}")
    return flat


cdef int _batch_args(object arr, Py_ssize_t record_size, str name, bint writable,
                     unsigned char **data, size_t *n) except -1:
    """Check a batch array and give its data pointer and record count (no copy). The
    checks use the numpy C API: this runs on every batch call, so it must cost ~100 ns."""
    if not cnp.PyArray_Check(arr):
        raise TypeError(f"{name} must be a numpy array, got {type(arr).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray>arr
    cdef int nd = cnp.PyArray_NDIM(a)
    if cnp.PyDataType_FLAGS(a.descr) & _NPY_ITEM_REFCOUNT:
        raise TypeError(f"{name} has dtype {arr.dtype} holding Python objects; records are plain bytes")
    if nd == 2:
        if cnp.PyArray_TYPE(a) != cnp.NPY_UINT8:
            raise TypeError(
                f"{name} is 2-D with dtype {arr.dtype}; a 2-D batch must be uint8 of shape "
                f"(n, record_size={record_size})")
        if cnp.PyArray_DIM(a, 1) != record_size:
            raise ValueError(
                f"{name} has shape {arr.shape}; a 2-D batch must have shape "
                f"(n, record_size={record_size})")
    elif nd == 1:
        if cnp.PyArray_ITEMSIZE(a) != record_size:
            raise TypeError(
                f"{name} has dtype {arr.dtype} of itemsize {arr.dtype.itemsize}; a 1-D batch "
                f"needs itemsize == record_size={record_size}")
    else:
        raise ValueError(
            f"{name} must be 1-D (one record per element) or 2-D (n, record_size), "
            f"got shape {arr.shape}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{name} must be C-contiguous, got strides {arr.strides} for shape "
                         f"{arr.shape} (see numpy.ascontiguousarray)")
    if writable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{name} is read-only; pop_batch needs a writable array")
    data[0] = <unsigned char *>cnp.PyArray_DATA(a)
    n[0] = <size_t>cnp.PyArray_DIM(a, 0)
    return 0


cdef void _raise_status(int st, str what) except *:
    if st == BOT4_RING_ENOMEM:
        raise MemoryError(f"{what}: out of memory")
    raise ValueError(f"{what}: invalid argument (status {st})")


# ---- SPSC ring ---------------------------------------------------------------------------

cdef class SpscRing:
    """Single-producer single-consumer ring of `capacity` records of `record_size` bytes.

    capacity: a power of two >= 1. overwrite: when full, a push drops the oldest record
    (counted in ``dropped``) instead of failing; see the module docstring for threading.
    """

    def __cinit__(self, capacity, record_size, overwrite=False):
        self._r = NULL
        cap = _check_capacity(capacity, 1, BOT4_RING_MAX_CAPACITY)
        rs = check_int(record_size, "record_size", 1, BOT4_RING_MAX_RECORD)
        if not isinstance(overwrite, bool):
            raise TypeError(f"overwrite must be a bool, got {type(overwrite).__name__} {overwrite!r}")
        cdef int st = bot4_ring_spsc_create(&self._r, cap, rs, 1 if overwrite else 0)
        if st != BOT4_RING_OK:
            self._r = NULL
            _raise_status(st, "SpscRing")
        self.capacity = cap
        self.record_size = rs
        self.overwrite = overwrite
        self._producing = False
        self._consuming = False

    def __dealloc__(self):
        bot4_ring_spsc_destroy(self._r)

    cdef int _begin(self, bint producer) except -1:
        if producer:
            if self._producing:
                raise RuntimeError(
                    "SpscRing: another thread is pushing right now; an SPSC ring has one "
                    "producer (use MpmcQueue for several)")
            self._producing = True
        else:
            if self._consuming:
                raise RuntimeError(
                    "SpscRing: another thread is popping right now; an SPSC ring has one "
                    "consumer (use MpmcQueue for several)")
            self._consuming = True
        return 0

    def push(self, rec):
        """Append one record (bytes-like, exactly record_size bytes).

        Returns False when the ring is full (nothing written); in overwrite mode always
        True (the oldest record is dropped instead)."""
        cdef const unsigned char *p
        cdef int st
        if type(rec) is bytes:
            if PyBytes_GET_SIZE(rec) != self.record_size:
                raise ValueError(
                    f"rec must be exactly record_size={self.record_size} bytes, "
                    f"got {PyBytes_GET_SIZE(rec)}")
            p = <const unsigned char *>PyBytes_AS_STRING(rec)
            keep = rec
        else:
            keep = _record_view(rec, self.record_size, "rec")
            p = <const unsigned char *>cnp.PyArray_DATA(keep)
        if self.overwrite:
            st = bot4_ring_spsc_push(self._r, p)
            return st == BOT4_RING_OK
        self._begin(True)
        try:
            with nogil:
                st = bot4_ring_spsc_push(self._r, p)
        finally:
            self._producing = False
        return st == BOT4_RING_OK

    def pop(self):
        """Remove and return the oldest record as bytes, or None when the ring is empty."""
        cdef int st
        out = PyBytes_FromStringAndSize(NULL, self.record_size)
        cdef char *p = PyBytes_AS_STRING(out)
        if self.overwrite:
            st = bot4_ring_spsc_pop(self._r, p)
            return out if st == BOT4_RING_OK else None
        self._begin(False)
        try:
            with nogil:
                st = bot4_ring_spsc_pop(self._r, p)
        finally:
            self._consuming = False
        return out if st == BOT4_RING_OK else None

    def push_batch(self, arr):
        """Push the records of `arr` in order; returns how many went in (stops when full;
        overwrite mode: all of them, dropping the oldest as needed)."""
        cdef unsigned char *data
        cdef size_t n, done
        _batch_args(arr, self.record_size, "arr", False, &data, &n)
        if n == 0:
            return 0
        if self.overwrite:
            return bot4_ring_spsc_push_n(self._r, data, n)
        self._begin(True)
        try:
            with nogil:
                done = bot4_ring_spsc_push_n(self._r, data, n)
        finally:
            self._producing = False
        return done

    def pop_batch(self, out):
        """Pop up to len(out) records into the front of `out`; returns how many."""
        cdef unsigned char *data
        cdef size_t n, done
        _batch_args(out, self.record_size, "out", True, &data, &n)
        if n == 0:
            return 0
        if self.overwrite:
            return bot4_ring_spsc_pop_n(self._r, data, n)
        self._begin(False)
        try:
            with nogil:
                done = bot4_ring_spsc_pop_n(self._r, data, n)
        finally:
            self._consuming = False
        return done

    @property
    def size(self):
        """Records in the ring (exact when idle, approximate while another thread works)."""
        return bot4_ring_spsc_size(self._r)

    @property
    def dropped(self):
        """Records dropped by overwrite-oldest pushes (always 0 otherwise)."""
        return bot4_ring_spsc_dropped(self._r)

    def __len__(self):
        return bot4_ring_spsc_size(self._r)

    def __repr__(self):
        return (f"SpscRing(capacity={self.capacity}, record_size={self.record_size}, "
                f"overwrite={self.overwrite}, size={self.size}, dropped={self.dropped})")


# ---- MPMC queue --------------------------------------------------------------------------

cdef class MpmcQueue:
    """Bounded multi-producer multi-consumer queue (Vyukov) of `capacity` records of
    `record_size` bytes. capacity: a power of two >= 2. Full/empty are reported, never
    overwritten."""

    def __cinit__(self, capacity, record_size):
        self._q = NULL
        cap = _check_capacity(capacity, 2, BOT4_RING_MAX_CAPACITY)
        rs = check_int(record_size, "record_size", 1, BOT4_RING_MAX_RECORD)
        cdef int st = bot4_ring_mpmc_create(&self._q, cap, rs)
        if st != BOT4_RING_OK:
            self._q = NULL
            _raise_status(st, "MpmcQueue")
        self.capacity = cap
        self.record_size = rs

    def __dealloc__(self):
        bot4_ring_mpmc_destroy(self._q)

    def push(self, rec):
        """Append one record; False when the queue is full."""
        cdef const unsigned char *p
        cdef int st
        if type(rec) is bytes:
            if PyBytes_GET_SIZE(rec) != self.record_size:
                raise ValueError(
                    f"rec must be exactly record_size={self.record_size} bytes, "
                    f"got {PyBytes_GET_SIZE(rec)}")
            p = <const unsigned char *>PyBytes_AS_STRING(rec)
            keep = rec
        else:
            keep = _record_view(rec, self.record_size, "rec")
            p = <const unsigned char *>cnp.PyArray_DATA(keep)
        with nogil:
            st = bot4_ring_mpmc_push(self._q, p)
        return st == BOT4_RING_OK

    def pop(self):
        """Remove and return the oldest record as bytes, or None when empty."""
        cdef int st
        out = PyBytes_FromStringAndSize(NULL, self.record_size)
        cdef char *p = PyBytes_AS_STRING(out)
        with nogil:
            st = bot4_ring_mpmc_pop(self._q, p)
        return out if st == BOT4_RING_OK else None

    def push_batch(self, arr):
        """Push the records of `arr` in order; returns how many went in (stops when full)."""
        cdef unsigned char *data
        cdef size_t n, done
        _batch_args(arr, self.record_size, "arr", False, &data, &n)
        if n == 0:
            return 0
        with nogil:
            done = bot4_ring_mpmc_push_n(self._q, data, n)
        return done

    def pop_batch(self, out):
        """Pop up to len(out) records into the front of `out`; returns how many."""
        cdef unsigned char *data
        cdef size_t n, done
        _batch_args(out, self.record_size, "out", True, &data, &n)
        if n == 0:
            return 0
        with nogil:
            done = bot4_ring_mpmc_pop_n(self._q, data, n)
        return done

    @property
    def size(self):
        """Records in the queue (exact when idle, approximate while others work)."""
        return bot4_ring_mpmc_size(self._q)

    def __len__(self):
        return bot4_ring_mpmc_size(self._q)

    def __repr__(self):
        return (f"MpmcQueue(capacity={self.capacity}, record_size={self.record_size}, "
                f"size={self.size})")
