# The C interface of csrc/ring.h (SPSC ring, Vyukov MPMC queue, C-thread drivers) and the
# Python classes wrapping it, so other Cython modules can cimport SpscRing/MpmcQueue and
# call the C directly on ._r / ._q.
from libc.stdint cimport int64_t, uint64_t


cdef extern from "clock.h" nogil:
    int64_t bot4_now_ns()


cdef extern from "ring.h" nogil:
    enum:
        BOT4_RING_OK
        BOT4_RING_FULL
        BOT4_RING_EMPTY
        BOT4_RING_EINVAL
        BOT4_RING_ENOMEM
        BOT4_RING_ETHREAD

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

    ctypedef struct bot4_ring_spsc_transfer_report:
        uint64_t sent
        uint64_t received
        uint64_t out_of_sequence
        uint64_t last_value
        uint64_t producer_waits
        uint64_t consumer_waits
        int64_t elapsed_ns

    int bot4_ring_spsc_transfer(uint64_t n_items, size_t capacity, size_t batch,
                                bot4_ring_spsc_transfer_report *out)

    ctypedef struct bot4_ring_mpmc_transfer_report:
        uint64_t sent
        uint64_t received
        uint64_t missing
        uint64_t duplicated
        uint64_t invalid
        uint64_t order_violations
        int64_t elapsed_ns

    int bot4_ring_mpmc_transfer(unsigned n_producers, unsigned n_consumers,
                                uint64_t items_per_producer, size_t capacity, size_t batch,
                                bot4_ring_mpmc_transfer_report *out)

    int bot4_ring_spsc_bench(uint64_t n, size_t batch, int64_t *elapsed_ns, int64_t *cpu_ns,
                             uint64_t *checksum)
    int bot4_ring_mpmc_bench(uint64_t n, size_t batch, int64_t *elapsed_ns, int64_t *cpu_ns,
                             uint64_t *checksum)


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
