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

Drivers for tests and benchmarks run their threads in C with the GIL released:
:func:`spsc_transfer_test`, :func:`mpmc_transfer_test`, :func:`spsc_bench`,
:func:`mpmc_bench`; :func:`perf_stages` feeds ``bot4 perf-manifest``.
"""

from engine.args cimport check_int
import numpy as np

cimport numpy as cnp
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc

cnp.import_array()

# numpy's dtype flag for items holding Python object references (NPY_ITEM_REFCOUNT)
cdef enum:
    _NPY_ITEM_REFCOUNT = 0x01

# Caps on what the Python-callable test drivers may be asked to allocate.
_DRIVER_MAX_CAPACITY = 1 << 24
_DRIVER_MAX_ITEMS = 1 << 40
_MPMC_DRIVER_MAX_TOTAL = 1 << 28
_MPMC_DRIVER_MAX_THREADS = 64


# ---- argument checks (shared by the classes and drivers) --------------------------------



cdef object _check_capacity(object capacity, Py_ssize_t min_capacity, object max_capacity):
    if isinstance(capacity, bool) or not hasattr(capacity, "__index__"):
        raise TypeError(f"capacity must be an int, got {type(capacity).__name__} {capacity!r}")
    c = capacity.__index__()
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
    if st == BOT4_RING_ETHREAD:
        raise RuntimeError(f"{what}: could not start a thread")
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


# ---- C-thread drivers --------------------------------------------------------------------

def spsc_transfer_test(n_items, capacity, batch):
    """Move the uint64 values 0..n_items-1 from a producer pthread to a consumer pthread
    through an SPSC ring (C, GIL released), `batch` records per push/pop call.

    Returns {"sent", "received", "out_of_sequence", "last_value", "producer_waits",
    "consumer_waits", "elapsed_ns", "items_per_s", "ok"}; ok means every value arrived
    exactly once and in order."""
    cdef uint64_t n = check_int(n_items, "n_items", 0, _DRIVER_MAX_ITEMS)
    cdef size_t cap = _check_capacity(capacity, 1, _DRIVER_MAX_CAPACITY)
    cdef size_t b = check_int(batch, "batch", 1, cap)
    cdef bot4_ring_spsc_transfer_report rep
    cdef int st
    with nogil:
        st = bot4_ring_spsc_transfer(n, cap, b, &rep)
    if st != BOT4_RING_OK:
        _raise_status(st, "spsc_transfer_test")
    ok = (rep.sent == n and rep.received == n and rep.out_of_sequence == 0
          and (n == 0 or rep.last_value == n - 1))
    return {
        "sent": rep.sent, "received": rep.received,
        "out_of_sequence": rep.out_of_sequence, "last_value": rep.last_value,
        "producer_waits": rep.producer_waits, "consumer_waits": rep.consumer_waits,
        "elapsed_ns": rep.elapsed_ns,
        "items_per_s": rep.received * 1e9 / rep.elapsed_ns if rep.elapsed_ns > 0 else 0.0,
        "ok": bool(ok),
    }


def mpmc_transfer_test(n_producers, n_consumers, items_per_producer, capacity, batch=None):
    """n_producers pthreads each push items_per_producer 16-byte records (producer id,
    sequence) through an MPMC queue; n_consumers pthreads pop up to `batch` at a time (C,
    GIL released), count every item and check each producer's order per consumer.
    batch defaults to min(16, capacity).

    Returns {"sent", "received", "missing", "duplicated", "invalid", "order_violations",
    "elapsed_ns", "items_per_s", "ok"}; ok means every item arrived exactly once and no
    consumer saw a producer's items out of order."""
    cdef unsigned np_ = check_int(n_producers, "n_producers", 1, _MPMC_DRIVER_MAX_THREADS)
    cdef unsigned nc = check_int(n_consumers, "n_consumers", 1, _MPMC_DRIVER_MAX_THREADS)
    cdef uint64_t per = check_int(items_per_producer, "items_per_producer", 0,
                                   _MPMC_DRIVER_MAX_TOTAL // np_)
    cdef size_t cap = _check_capacity(capacity, 2, _DRIVER_MAX_CAPACITY)
    cdef size_t default_batch = <size_t>16 if cap > <size_t>16 else cap
    cdef size_t b = check_int(default_batch if batch is None else batch, "batch", 1, cap)
    cdef bot4_ring_mpmc_transfer_report rep
    cdef int st
    with nogil:
        st = bot4_ring_mpmc_transfer(np_, nc, per, cap, b, &rep)
    if st != BOT4_RING_OK:
        _raise_status(st, "mpmc_transfer_test")
    ok = (rep.sent == rep.received and rep.missing == 0 and rep.duplicated == 0
          and rep.invalid == 0 and rep.order_violations == 0)
    return {
        "sent": rep.sent, "received": rep.received, "missing": rep.missing,
        "duplicated": rep.duplicated, "invalid": rep.invalid,
        "order_violations": rep.order_violations, "elapsed_ns": rep.elapsed_ns,
        "items_per_s": rep.received * 1e9 / rep.elapsed_ns if rep.elapsed_ns > 0 else 0.0,
        "ok": bool(ok),
    }


cdef object _bench_clock(str clock):
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    return clock == "cpu"


def spsc_bench(n, batch=256, clock="wall"):
    """One thread pushes `batch` 8-byte records into a 4096-record SPSC ring and pops them
    back, until n records made the round trip (all in C, GIL released). Returns the
    loop's nanoseconds: wall time, or with clock="cpu" the thread's CPU time (which leaves
    out time the shared machine kept the thread descheduled)."""
    cdef uint64_t count = check_int(n, "n", 1, _DRIVER_MAX_ITEMS)
    cdef size_t b = check_int(batch, "batch", 1, 4096)
    use_cpu = _bench_clock(clock)
    cdef int64_t ns = 0, cpu_ns = 0
    cdef uint64_t checksum = 0
    cdef int st
    with nogil:
        st = bot4_ring_spsc_bench(count, b, &ns, &cpu_ns, &checksum)
    if st != BOT4_RING_OK:
        _raise_status(st, "spsc_bench")
    return cpu_ns if use_cpu else ns


def mpmc_bench(n, batch=256, clock="wall"):
    """As :func:`spsc_bench`, through a 4096-record MPMC queue (one thread). Returns ns."""
    cdef uint64_t count = check_int(n, "n", 1, _DRIVER_MAX_ITEMS)
    cdef size_t b = check_int(batch, "batch", 1, 4096)
    use_cpu = _bench_clock(clock)
    cdef int64_t ns = 0, cpu_ns = 0
    cdef uint64_t checksum = 0
    cdef int st
    with nogil:
        st = bot4_ring_mpmc_bench(count, b, &ns, &cpu_ns, &checksum)
    if st != BOT4_RING_OK:
        _raise_status(st, "mpmc_bench")
    return cpu_ns if use_cpu else ns


# ---- perf-manifest stages ----------------------------------------------------------------

cdef enum:
    _PERF_BATCH = 64


def perf_stages(samples=10000):
    """Latency samples of the ring hot paths for ``bot4 perf-manifest``.

    Each sample times (bot4_now_ns) _PERF_BATCH = 64 operations on one thread and divides
    by 64, so latency_ns is per record:

    * ``ring.spsc.push_pop``: push_n of 64 8-byte records, then pop_n of 64 (SPSC ring of
      1024), i.e. the batched path; latency = one record's push + pop.
    * ``ring.spsc.push_pop_single``: 64 single push + pop pairs (unbatched path).
    * ``ring.mpmc.push_pop``: as ring.spsc.push_pop through the MPMC queue.
    """
    cdef Py_ssize_t ns_ = check_int(samples, "samples", 1, 100_000_000)
    cdef Py_ssize_t s, i
    cdef int64_t t0, t1
    cdef uint64_t src[_PERF_BATCH]
    cdef uint64_t dst[_PERF_BATCH]
    cdef bot4_ring_spsc *r = NULL
    cdef bot4_ring_mpmc *q = NULL
    for i in range(_PERF_BATCH):
        src[i] = i
    result = {}
    lat_batch = np.empty(ns_, dtype=np.float64)
    lat_single = np.empty(ns_, dtype=np.float64)
    lat_mpmc = np.empty(ns_, dtype=np.float64)
    cdef double[::1] lb = lat_batch, ls = lat_single, lm = lat_mpmc
    if bot4_ring_spsc_create(&r, 1024, 8, 0) != BOT4_RING_OK:
        raise MemoryError("perf_stages: SpscRing")
    if bot4_ring_mpmc_create(&q, 1024, 8) != BOT4_RING_OK:
        bot4_ring_spsc_destroy(r)
        raise MemoryError("perf_stages: MpmcQueue")
    with nogil:
        for s in range(ns_):
            t0 = bot4_now_ns()
            bot4_ring_spsc_push_n(r, src, _PERF_BATCH)
            bot4_ring_spsc_pop_n(r, dst, _PERF_BATCH)
            t1 = bot4_now_ns()
            lb[s] = <double>(t1 - t0) / _PERF_BATCH
        for s in range(ns_):
            t0 = bot4_now_ns()
            for i in range(_PERF_BATCH):
                bot4_ring_spsc_push(r, &src[i])
                bot4_ring_spsc_pop(r, &dst[i])
            t1 = bot4_now_ns()
            ls[s] = <double>(t1 - t0) / _PERF_BATCH
        for s in range(ns_):
            t0 = bot4_now_ns()
            bot4_ring_mpmc_push_n(q, src, _PERF_BATCH)
            bot4_ring_mpmc_pop_n(q, dst, _PERF_BATCH)
            t1 = bot4_now_ns()
            lm[s] = <double>(t1 - t0) / _PERF_BATCH
    bot4_ring_spsc_destroy(r)
    bot4_ring_mpmc_destroy(q)
    for name, lat in (("ring.spsc.push_pop", lat_batch),
                      ("ring.spsc.push_pop_single", lat_single),
                      ("ring.mpmc.push_pop", lat_mpmc)):
        total_ns = float(lat.sum())
        result[name] = {
            "latency_ns": lat,
            "ops_per_sample": _PERF_BATCH,
            # samples * 64 records over the summed sample time (sum of lat * 64 ns)
            "throughput_per_s": ns_ * 1e9 / total_ns if total_ns > 0 else 0.0,
        }
    return result
