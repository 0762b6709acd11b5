# The C interface of csrc/ring.h (SPSC ring, Vyukov MPMC queue) and the
# Python classes wrapping it, so other Cython modules can cimport SpscRing/MpmcQueue and
# call the C directly on ._r / ._q.
from libc.stdint cimport uint64_t

cdef extern from "ring.h" nogil:
    enum:
        BOT4_RING_OK
        BOT4_RING_FULL
        BOT4_RING_EMPTY
        BOT4_RING_EINVAL
        BOT4_RING_ENOMEM

    size_t BOT4_RING_MAX_CAPACITY
    size_t BOT4_RING_MAX_RECORD

    int bot4_ring_capacity_ok(size_t capacity, size_t min_capacity)

    ctypedef struct bot4_ring_spsc:
        pass

    int bot4_ring_spsc_create(bot4_ring_spsc **out, size_t capacity, size_t record_size,
                              int overwrite)
    void bot4_ring_spsc_destroy(bot4_ring_spsc *r)
    int bot4_ring_spsc_push(bot4_ring_spsc *r, const void *rec)
    size_t bot4_ring_spsc_push_n(bot4_ring_spsc *r, const void *src, size_t n)
    int bot4_ring_spsc_pop(bot4_ring_spsc *r, void *rec)
    size_t bot4_ring_spsc_pop_n(bot4_ring_spsc *r, void *dst, size_t n)
    size_t bot4_ring_spsc_size(const bot4_ring_spsc *r)
    size_t bot4_ring_spsc_capacity(const bot4_ring_spsc *r)
    size_t bot4_ring_spsc_record_size(const bot4_ring_spsc *r)
    int bot4_ring_spsc_overwrite(const bot4_ring_spsc *r)
    uint64_t bot4_ring_spsc_dropped(const bot4_ring_spsc *r)

    ctypedef struct bot4_ring_mpmc:
        pass

    int bot4_ring_mpmc_create(bot4_ring_mpmc **out, size_t capacity, size_t record_size)
    void bot4_ring_mpmc_destroy(bot4_ring_mpmc *q)
    int bot4_ring_mpmc_push(bot4_ring_mpmc *q, const void *rec)
    int bot4_ring_mpmc_pop(bot4_ring_mpmc *q, void *rec)
    size_t bot4_ring_mpmc_push_n(bot4_ring_mpmc *q, const void *src, size_t n)
    size_t bot4_ring_mpmc_pop_n(bot4_ring_mpmc *q, void *dst, size_t n)
    size_t bot4_ring_mpmc_size(const bot4_ring_mpmc *q)
    size_t bot4_ring_mpmc_capacity(const bot4_ring_mpmc *q)
    size_t bot4_ring_mpmc_record_size(const bot4_ring_mpmc *q)


cdef class SpscRing:
    cdef bot4_ring_spsc *_r
    cdef readonly Py_ssize_t capacity
    cdef readonly Py_ssize_t record_size
    cdef readonly bint overwrite
    # Set while a Python thread is inside a producer / consumer call with the GIL
    # released: a second concurrent producer (or consumer) is refused, never run.
    cdef bint _producing
    cdef bint _consuming

    cdef int _begin(self, bint producer) except -1


cdef class MpmcQueue:
    cdef bot4_ring_mpmc *_q
    cdef readonly Py_ssize_t capacity
    cdef readonly Py_ssize_t record_size
