# The C interface of csrc/pool.h (fixed-capacity object pool, index free list) and the
# Python class wrapping it; other Cython modules can cimport ObjectPool and use ._p.
cimport numpy as cnp
from libc.stdint cimport uint32_t, uint64_t


cdef extern from "pool.h" nogil:
    enum:
        BOT4_POOL_OK
        BOT4_POOL_EXHAUSTED
        BOT4_POOL_EINVAL
        BOT4_POOL_ENOMEM
        BOT4_POOL_ERANGE
        BOT4_POOL_ENOTHELD

    size_t BOT4_POOL_MAX_CAPACITY
    size_t BOT4_POOL_MAX_SLOT

    ctypedef struct bot4_pool:
        pass

    ctypedef struct bot4_pool_stats:
        uint64_t capacity
        uint64_t slot_size
        uint64_t in_use
        uint64_t high_water
        uint64_t acquires
        uint64_t releases
        uint64_t failed_acquires

    int bot4_pool_create(bot4_pool **out, size_t capacity, size_t slot_size)
    void bot4_pool_destroy(bot4_pool *p)
    int bot4_pool_acquire(bot4_pool *p, uint32_t *index)
    int bot4_pool_release(bot4_pool *p, uint32_t index)
    int bot4_pool_held(const bot4_pool *p, uint32_t index)
    void *bot4_pool_slot(bot4_pool *p, uint32_t index)
    int bot4_pool_slot_checked(bot4_pool *p, uint32_t index, void **out)
    void bot4_pool_get_stats(const bot4_pool *p, bot4_pool_stats *out)
    int bot4_pool_acquire_n(bot4_pool *p, size_t n, uint32_t *out)
    int bot4_pool_release_n(bot4_pool *p, const uint32_t *ids, size_t n, size_t *bad)


cdef class ObjectPool:
    cdef bot4_pool *_p
    cdef readonly Py_ssize_t capacity
    cdef readonly Py_ssize_t slot_size

    cdef uint32_t _held_index(self, object index, str what) except? 0xFFFFFFFF
    cdef cnp.ndarray _id_array(self, object ids)
