/* ring.c - SPSC ring and Vyukov MPMC queue of fixed-size records (design in ring.h).
 *
 * SPSC: head/tail are unbounded counters on separate cache lines, each side caching the
 * other's index; acquire/release pairs order the record copies against index updates.
 * Overwrite mode is single-owner (one thread pushes and pops), see ring.h.
 * MPMC: per-cell sequence numbers; a cell is {_Atomic size_t seq; record bytes}, padded
 * to 8 bytes. Batches claim k ready cells with one CAS.
 * Cost per operation: O(record_size) copy + O(1) atomics (one CAS per MPMC claim).
 */
#include "ring.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64

int bot4_ring_capacity_ok(size_t capacity, size_t min_capacity)
{
    return capacity >= min_capacity && capacity <= BOT4_RING_MAX_CAPACITY &&
           (capacity & (capacity - 1)) == 0;
}

/* Cache-line aligned allocation; zeroed when `zero` (record buffers need not be: a slot
 * is always written before it is read, and not touching it keeps big rings cheap). */
static void *alloc_lines(size_t bytes, int zero)
{
    size_t rounded = (bytes + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    if (rounded == 0)
        rounded = CACHE_LINE;
    void *p = aligned_alloc(CACHE_LINE, rounded);
    if (p && zero)
        memset(p, 0, rounded);
    return p;
}

/* ---- SPSC ---------------------------------------------------------------------------- */

struct bot4_ring_spsc {
    /* Written once at create; read by both sides, never contended. */
    unsigned char *buf;
    size_t capacity;
    size_t mask;
    size_t record_size;
    int overwrite;
    /* Producer's line: its index, its cached copy of head, and the drop count. */
    alignas(CACHE_LINE) _Atomic size_t tail;
    size_t head_cache;
    _Atomic uint64_t dropped;
    /* Consumer's line: its index and its cached copy of tail. */
    alignas(CACHE_LINE) _Atomic size_t head;
    size_t tail_cache;
};

int bot4_ring_spsc_create(bot4_ring_spsc **out, size_t capacity, size_t record_size,
                          int overwrite)
{
    if (!out || !bot4_ring_capacity_ok(capacity, 1) || record_size == 0 ||
        record_size > BOT4_RING_MAX_RECORD)
        return BOT4_RING_EINVAL;
    bot4_ring_spsc *r = alloc_lines(sizeof *r, 1);
    if (!r)
        return BOT4_RING_ENOMEM;
    r->buf = alloc_lines(capacity * record_size, 0);
    if (!r->buf) {
        free(r);
        return BOT4_RING_ENOMEM;
    }
    r->capacity = capacity;
    r->mask = capacity - 1;
    r->record_size = record_size;
    r->overwrite = overwrite != 0;
    atomic_init(&r->tail, 0);
    atomic_init(&r->head, 0);
    atomic_init(&r->dropped, 0);
    r->head_cache = 0;
    r->tail_cache = 0;
    *out = r;
    return BOT4_RING_OK;
}

void bot4_ring_spsc_destroy(bot4_ring_spsc *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

/* One record (an SPSC single push/pop, an MPMC cell). Fixed small sizes get an inlined
 * copy instead of a call to memcpy, which dominates the cost for 8- and 16-byte records. */
static inline void copy_record(void *dst, const void *src, size_t size)
{
    switch (size) {
    case 8:
        memcpy(dst, src, 8);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    case 32:
        memcpy(dst, src, 32);
        break;
    case 64:
        memcpy(dst, src, 64);
        break;
    default:
        memcpy(dst, src, size);
    }
}

/* Copy n records into the ring starting at counter position pos (wraps at most once). */
static inline void spsc_copy_in(bot4_ring_spsc *r, size_t pos, const unsigned char *src,
                                size_t n)
{
    size_t i = pos & r->mask;
    if (n == 1) {
        copy_record(r->buf + i * r->record_size, src, r->record_size);
        return;
    }
    size_t first = r->capacity - i < n ? r->capacity - i : n;
    memcpy(r->buf + i * r->record_size, src, first * r->record_size);
    if (n > first)
        memcpy(r->buf, src + first * r->record_size, (n - first) * r->record_size);
}

static inline void spsc_copy_out(const bot4_ring_spsc *r, size_t pos, unsigned char *dst,
                                 size_t n)
{
    size_t i = pos & r->mask;
    if (n == 1) {
        copy_record(dst, r->buf + i * r->record_size, r->record_size);
        return;
    }
    size_t first = r->capacity - i < n ? r->capacity - i : n;
    memcpy(dst, r->buf + i * r->record_size, first * r->record_size);
    if (n > first)
        memcpy(dst + first * r->record_size, r->buf, (n - first) * r->record_size);
}

/* Overwrite mode (single owner): accept all n, dropping the oldest records as needed. */
static size_t spsc_push_overwrite(bot4_ring_spsc *r, const unsigned char *src, size_t n)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t size = tail - head;
    size_t accepted = n;
    if (size + n > r->capacity) {
        size_t drop = size + n - r->capacity;
        size_t from_ring = drop < size ? drop : size;
        size_t from_batch = drop - from_ring; /* records of this batch overwritten by it */
        head += from_ring;
        tail += from_batch;
        if (from_batch)
            head = tail; /* the ring is empty and the batch's first records are gone */
        src += from_batch * r->record_size;
        n -= from_batch;
        atomic_store_explicit(&r->head, head, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->dropped, drop, memory_order_relaxed);
    }
    spsc_copy_in(r, tail, src, n);
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return accepted;
}

/* The bodies are static inline *_impl functions behind thin exported wrappers: in a -fPIC
 * extension, calls between exported functions go through the PLT and are never inlined,
 * so single-record calls, the drivers and the benches use the _impl bodies directly. */
static inline size_t spsc_push_n_impl(bot4_ring_spsc *r, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (r->overwrite)
        return spsc_push_overwrite(r, src, n);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t free_slots = r->capacity - (tail - r->head_cache);
    if (free_slots < n) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        free_slots = r->capacity - (tail - r->head_cache);
        if (free_slots == 0)
            return 0;
        if (n > free_slots)
            n = free_slots;
    }
    spsc_copy_in(r, tail, src, n);
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

size_t bot4_ring_spsc_push_n(bot4_ring_spsc *r, const void *src, size_t n)
{
    return spsc_push_n_impl(r, src, n);
}

int bot4_ring_spsc_push(bot4_ring_spsc *r, const void *rec)
{
    return spsc_push_n_impl(r, rec, 1) == 1 ? BOT4_RING_OK : BOT4_RING_FULL;
}

static inline size_t spsc_pop_n_impl(bot4_ring_spsc *r, void *dst, size_t n)
{
    if (n == 0)
        return 0;
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t avail = r->tail_cache - head;
    /* avail > capacity: head moved past the cache (overwrite mode drops), so re-read. */
    if (avail < n || avail > r->capacity) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        avail = r->tail_cache - head;
        if (avail == 0)
            return 0;
        if (n > avail)
            n = avail;
    }
    spsc_copy_out(r, head, dst, n);
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    return n;
}

size_t bot4_ring_spsc_pop_n(bot4_ring_spsc *r, void *dst, size_t n)
{
    return spsc_pop_n_impl(r, dst, n);
}

int bot4_ring_spsc_pop(bot4_ring_spsc *r, void *rec)
{
    return spsc_pop_n_impl(r, rec, 1) == 1 ? BOT4_RING_OK : BOT4_RING_EMPTY;
}

size_t bot4_ring_spsc_size(const bot4_ring_spsc *r)
{
    /* head first: tail read later is >= the head read earlier, so the difference is >= 0. */
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t size = tail - head;
    return size > r->capacity ? r->capacity : size;
}

size_t bot4_ring_spsc_capacity(const bot4_ring_spsc *r) { return r->capacity; }
size_t bot4_ring_spsc_record_size(const bot4_ring_spsc *r) { return r->record_size; }
int bot4_ring_spsc_overwrite(const bot4_ring_spsc *r) { return r->overwrite; }

uint64_t bot4_ring_spsc_dropped(const bot4_ring_spsc *r)
{
    return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}

/* ---- MPMC (Vyukov) ------------------------------------------------------------------- */

struct bot4_ring_mpmc {
    unsigned char *cells; /* capacity cells of `stride` bytes: seq, then the record */
    size_t capacity;
    size_t mask;
    size_t record_size;
    size_t stride;
    alignas(CACHE_LINE) _Atomic size_t enqueue_pos;
    alignas(CACHE_LINE) _Atomic size_t dequeue_pos;
};

#define CELL_HDR sizeof(_Atomic size_t)

static inline _Atomic size_t *cell_seq(const bot4_ring_mpmc *q, size_t pos)
{
    return (_Atomic size_t *)(void *)(q->cells + (pos & q->mask) * q->stride);
}

int bot4_ring_mpmc_create(bot4_ring_mpmc **out, size_t capacity, size_t record_size)
{
    if (!out || !bot4_ring_capacity_ok(capacity, 2) || record_size == 0 ||
        record_size > BOT4_RING_MAX_RECORD)
        return BOT4_RING_EINVAL;
    bot4_ring_mpmc *q = alloc_lines(sizeof *q, 1);
    if (!q)
        return BOT4_RING_ENOMEM;
    q->stride = (CELL_HDR + record_size + 7) / 8 * 8;
    q->cells = alloc_lines(capacity * q->stride, 0);
    if (!q->cells) {
        free(q);
        return BOT4_RING_ENOMEM;
    }
    q->capacity = capacity;
    q->mask = capacity - 1;
    q->record_size = record_size;
    for (size_t i = 0; i < capacity; i++)
        atomic_init(cell_seq(q, i), i);
    atomic_init(&q->enqueue_pos, 0);
    atomic_init(&q->dequeue_pos, 0);
    *out = q;
    return BOT4_RING_OK;
}

void bot4_ring_mpmc_destroy(bot4_ring_mpmc *q)
{
    if (!q)
        return;
    free(q->cells);
    free(q);
}

/* Claim up to n consecutive cells whose seq equals pos + i + ready_offset (0: free for a
 * producer, 1: published for a consumer) by one CAS on *counter. Returns how many were
 * claimed (0: full/empty) and their first position in *first. */
static size_t mpmc_claim(bot4_ring_mpmc *q, _Atomic size_t *counter, size_t ready_offset,
                         size_t n, size_t *first)
{
    const unsigned char *cells = q->cells;
    const size_t mask = q->mask, stride = q->stride;
    size_t pos = atomic_load_explicit(counter, memory_order_relaxed);
    for (;;) {
        size_t k = 0;
        int stale = 0;
        while (k < n) {
            const _Atomic size_t *seqp =
                (const _Atomic size_t *)(const void *)(cells + ((pos + k) & mask) * stride);
            size_t seq = atomic_load_explicit(seqp, memory_order_acquire);
            intptr_t dif = (intptr_t)(seq - (pos + k + ready_offset));
            if (dif == 0) {
                k++;
                continue;
            }
            if (dif > 0 && k == 0)
                stale = 1; /* another thread already claimed pos */
            break;
        }
        if (k == 0 && !stale)
            return 0;
        if (k > 0 && atomic_compare_exchange_weak_explicit(counter, &pos, pos + k,
                                                           memory_order_relaxed,
                                                           memory_order_relaxed)) {
            *first = pos;
            return k;
        }
        if (stale)
            pos = atomic_load_explicit(counter, memory_order_relaxed);
        /* else the failed CAS reloaded pos */
    }
}

/* Copy k records into the claimed cells from position first and publish each (seq =
 * pos + 1, release). Loop-invariant fields are read into locals once: as far as the
 * compiler knows, the copies may alias them. */
static void mpmc_fill_cells(bot4_ring_mpmc *q, size_t first, size_t k, const unsigned char *src)
{
    unsigned char *cells = q->cells;
    const size_t mask = q->mask, stride = q->stride, rs = q->record_size;
    for (size_t i = 0; i < k; i++) {
        unsigned char *cell = cells + ((first + i) & mask) * stride;
        copy_record(cell + CELL_HDR, src + i * rs, rs);
        atomic_store_explicit((_Atomic size_t *)(void *)cell, first + i + 1,
                              memory_order_release);
    }
}

/* Copy k records out of the claimed cells and free each for the next lap (seq = pos +
 * capacity, release). */
static void mpmc_drain_cells(bot4_ring_mpmc *q, size_t first, size_t k, unsigned char *dst)
{
    unsigned char *cells = q->cells;
    const size_t mask = q->mask, stride = q->stride, rs = q->record_size, lap = q->capacity;
    for (size_t i = 0; i < k; i++) {
        unsigned char *cell = cells + ((first + i) & mask) * stride;
        copy_record(dst + i * rs, cell + CELL_HDR, rs);
        atomic_store_explicit((_Atomic size_t *)(void *)cell, first + i + lap,
                              memory_order_release);
    }
}

static inline size_t mpmc_push_n_impl(bot4_ring_mpmc *q, const void *src, size_t n)
{
    const unsigned char *s = src;
    size_t done = 0;
    while (done < n) {
        size_t pos;
        size_t k = mpmc_claim(q, &q->enqueue_pos, 0, n - done, &pos);
        if (k == 0)
            break;
        mpmc_fill_cells(q, pos, k, s + done * q->record_size);
        done += k;
    }
    return done;
}

size_t bot4_ring_mpmc_push_n(bot4_ring_mpmc *q, const void *src, size_t n)
{
    return mpmc_push_n_impl(q, src, n);
}

static inline size_t mpmc_pop_n_impl(bot4_ring_mpmc *q, void *dst, size_t n)
{
    unsigned char *d = dst;
    size_t done = 0;
    while (done < n) {
        size_t pos;
        size_t k = mpmc_claim(q, &q->dequeue_pos, 1, n - done, &pos);
        if (k == 0)
            break;
        mpmc_drain_cells(q, pos, k, d + done * q->record_size);
        done += k;
    }
    return done;
}

size_t bot4_ring_mpmc_pop_n(bot4_ring_mpmc *q, void *dst, size_t n)
{
    return mpmc_pop_n_impl(q, dst, n);
}

int bot4_ring_mpmc_push(bot4_ring_mpmc *q, const void *rec)
{
    return mpmc_push_n_impl(q, rec, 1) == 1 ? BOT4_RING_OK : BOT4_RING_FULL;
}

int bot4_ring_mpmc_pop(bot4_ring_mpmc *q, void *rec)
{
    return mpmc_pop_n_impl(q, rec, 1) == 1 ? BOT4_RING_OK : BOT4_RING_EMPTY;
}

size_t bot4_ring_mpmc_size(const bot4_ring_mpmc *q)
{
    size_t deq = atomic_load_explicit(&q->dequeue_pos, memory_order_acquire);
    size_t enq = atomic_load_explicit(&q->enqueue_pos, memory_order_acquire);
    /* enq may trail deq when racing (consumers claim cells whose producers published
     * after our deq read); clamp to [0, capacity]. */
    intptr_t size = (intptr_t)(enq - deq);
    if (size < 0)
        return 0;
    return (size_t)size > q->capacity ? q->capacity : (size_t)size;
}

size_t bot4_ring_mpmc_capacity(const bot4_ring_mpmc *q) { return q->capacity; }
size_t bot4_ring_mpmc_record_size(const bot4_ring_mpmc *q) { return q->record_size; }
