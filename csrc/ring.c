/* ring.c - SPSC ring and Vyukov MPMC queue of fixed-size records (design in ring.h).
 *
 * SPSC: head/tail are unbounded counters on separate cache lines, each side caching the
 * other's index; acquire/release pairs order the record copies against index updates.
 * Overwrite mode is single-owner (one thread pushes and pops), see ring.h.
 * MPMC: per-cell sequence numbers; a cell is {_Atomic size_t seq; record bytes}, padded
 * to 8 bytes. Batches claim k ready cells with one CAS.
 * Cost per operation: O(record_size) copy + O(1) atomics (one CAS per MPMC claim).
 * Also the C-thread drivers used by tests and benches (transfer checks, one-thread bench).
 */
#include "ring.h"

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

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

/* ---- Drivers ------------------------------------------------------------------------- */

/* Back off while the other side catches up: spin briefly, then yield the core (two cores
 * are shared with other work here, so pure spinning can starve the peer). */
static inline void backoff(unsigned *spins)
{
    if (++*spins < 64)
        return;
    *spins = 0;
    sched_yield();
}

typedef struct spsc_transfer {
    bot4_ring_spsc *ring;
    uint64_t n_items;
    size_t batch;
    _Atomic int producer_done;
    bot4_ring_spsc_transfer_report rep;
} spsc_transfer;

static void *spsc_producer(void *arg)
{
    spsc_transfer *t = arg;
    uint64_t *vals = malloc(t->batch * sizeof *vals);
    uint64_t next = 0, waits = 0;
    unsigned spins = 0;
    if (vals) {
        while (next < t->n_items) {
            size_t k = t->n_items - next < t->batch ? (size_t)(t->n_items - next) : t->batch;
            for (size_t i = 0; i < k; i++)
                vals[i] = next + i;
            size_t pushed = spsc_push_n_impl(t->ring, vals, k);
            if (pushed == 0) {
                waits++;
                backoff(&spins);
            }
            next += pushed;
        }
    }
    free(vals);
    t->rep.sent = next;
    t->rep.producer_waits = waits;
    atomic_store_explicit(&t->producer_done, 1, memory_order_release);
    return NULL;
}

static void *spsc_consumer(void *arg)
{
    spsc_transfer *t = arg;
    uint64_t *vals = malloc(t->batch * sizeof *vals);
    uint64_t expected = 0, received = 0, bad = 0, last = 0, waits = 0;
    unsigned spins = 0;
    if (vals) {
        for (;;) {
            /* Read the done flag before popping: if it was set, every push happened
             * before this pop, so an empty pop means the transfer is over. */
            int done = atomic_load_explicit(&t->producer_done, memory_order_acquire);
            size_t k = spsc_pop_n_impl(t->ring, vals, t->batch);
            if (k == 0) {
                if (done)
                    break;
                waits++;
                backoff(&spins);
                continue;
            }
            for (size_t i = 0; i < k; i++) {
                if (vals[i] != expected)
                    bad++;
                expected = vals[i] + 1;
            }
            last = vals[k - 1];
            received += k;
        }
    }
    free(vals);
    t->rep.received = received;
    t->rep.out_of_sequence = bad;
    t->rep.last_value = last;
    t->rep.consumer_waits = waits;
    return NULL;
}

int bot4_ring_spsc_transfer(uint64_t n_items, size_t capacity, size_t batch,
                            bot4_ring_spsc_transfer_report *out)
{
    if (!out || batch == 0 || batch > capacity)
        return BOT4_RING_EINVAL;
    spsc_transfer *t = calloc(1, sizeof *t);
    if (!t)
        return BOT4_RING_ENOMEM;
    int st = bot4_ring_spsc_create(&t->ring, capacity, sizeof(uint64_t), 0);
    if (st != BOT4_RING_OK) {
        free(t);
        return st;
    }
    t->n_items = n_items;
    t->batch = batch;
    atomic_init(&t->producer_done, 0);
    pthread_t prod, cons;
    int64_t t0 = bot4_now_ns();
    if (pthread_create(&cons, NULL, spsc_consumer, t) != 0) {
        st = BOT4_RING_ETHREAD;
        goto done;
    }
    if (pthread_create(&prod, NULL, spsc_producer, t) != 0) {
        /* Unblock the consumer: nothing will be produced. */
        atomic_store(&t->producer_done, 1);
        pthread_join(cons, NULL);
        st = BOT4_RING_ETHREAD;
        goto done;
    }
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    t->rep.elapsed_ns = bot4_now_ns() - t0;
    *out = t->rep;
done:
    bot4_ring_spsc_destroy(t->ring);
    free(t);
    return st;
}

typedef struct mpmc_transfer {
    bot4_ring_mpmc *q;
    unsigned n_producers;
    uint64_t per_producer;
    size_t batch;
    _Atomic unsigned char *seen; /* per item: how many times a consumer popped it */
    _Atomic unsigned producers_done;
    _Atomic int stop; /* a thread failed to start: everyone quits */
    _Atomic uint64_t received;
    _Atomic uint64_t invalid;
    _Atomic uint64_t order_violations;
} mpmc_transfer;

typedef struct mpmc_worker {
    mpmc_transfer *t;
    unsigned id;
    pthread_t thread;
} mpmc_worker;

static void *mpmc_producer(void *arg)
{
    mpmc_worker *w = arg;
    mpmc_transfer *t = w->t;
    uint64_t rec[2] = {w->id, 0};
    unsigned spins = 0;
    while (rec[1] < t->per_producer && !atomic_load_explicit(&t->stop, memory_order_relaxed)) {
        if (bot4_ring_mpmc_push(t->q, rec) == BOT4_RING_OK)
            rec[1]++;
        else
            backoff(&spins);
    }
    atomic_fetch_add_explicit(&t->producers_done, 1, memory_order_release);
    return NULL;
}

static void *mpmc_consumer(void *arg)
{
    mpmc_worker *w = arg;
    mpmc_transfer *t = w->t;
    uint64_t *buf = malloc(t->batch * 2 * sizeof *buf);
    int64_t *last = malloc(t->n_producers * sizeof *last); /* last seq seen per producer */
    uint64_t received = 0, invalid = 0, order = 0;
    unsigned spins = 0;
    if (buf && last) {
        for (unsigned p = 0; p < t->n_producers; p++)
            last[p] = -1;
        for (;;) {
            unsigned done = atomic_load_explicit(&t->producers_done, memory_order_acquire);
            size_t k = mpmc_pop_n_impl(t->q, buf, t->batch);
            if (k == 0) {
                if (done == t->n_producers || atomic_load(&t->stop))
                    break;
                backoff(&spins);
                continue;
            }
            for (size_t i = 0; i < k; i++) {
                uint64_t p = buf[2 * i], s = buf[2 * i + 1];
                if (p >= t->n_producers || s >= t->per_producer) {
                    invalid++;
                    continue;
                }
                atomic_fetch_add_explicit(&t->seen[p * t->per_producer + s], 1,
                                          memory_order_relaxed);
                if ((int64_t)s <= last[p])
                    order++;
                last[p] = (int64_t)s;
            }
            received += k;
        }
    }
    free(buf);
    free(last);
    atomic_fetch_add(&t->received, received);
    atomic_fetch_add(&t->invalid, invalid);
    atomic_fetch_add(&t->order_violations, order);
    return NULL;
}

int bot4_ring_mpmc_transfer(unsigned n_producers, unsigned n_consumers,
                            uint64_t items_per_producer, size_t capacity, size_t batch,
                            bot4_ring_mpmc_transfer_report *out)
{
    if (!out || n_producers == 0 || n_consumers == 0 || batch == 0 || batch > capacity ||
        n_producers > 256 || n_consumers > 256)
        return BOT4_RING_EINVAL;
    uint64_t total = (uint64_t)n_producers * items_per_producer;
    mpmc_transfer *t = calloc(1, sizeof *t);
    mpmc_worker *workers = calloc(n_producers + n_consumers, sizeof *workers);
    int st = BOT4_RING_ENOMEM;
    if (!t || !workers)
        goto out_free;
    t->seen = calloc(total ? total : 1, sizeof *t->seen);
    if (!t->seen)
        goto out_free;
    st = bot4_ring_mpmc_create(&t->q, capacity, 2 * sizeof(uint64_t));
    if (st != BOT4_RING_OK)
        goto out_free;
    t->n_producers = n_producers;
    t->per_producer = items_per_producer;
    t->batch = batch;
    atomic_init(&t->producers_done, 0);
    atomic_init(&t->stop, 0);
    atomic_init(&t->received, 0);
    atomic_init(&t->invalid, 0);
    atomic_init(&t->order_violations, 0);

    int64_t t0 = bot4_now_ns();
    unsigned started = 0;
    for (unsigned i = 0; i < n_producers + n_consumers; i++) {
        workers[i].t = t;
        workers[i].id = i < n_producers ? i : i - n_producers;
        void *(*fn)(void *) = i < n_producers ? mpmc_producer : mpmc_consumer;
        if (pthread_create(&workers[i].thread, NULL, fn, &workers[i]) != 0) {
            st = BOT4_RING_ETHREAD;
            break;
        }
        started++;
    }
    if (st == BOT4_RING_ETHREAD)
        atomic_store(&t->stop, 1);
    for (unsigned i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    int64_t elapsed = bot4_now_ns() - t0;
    if (st == BOT4_RING_OK) {
        bot4_ring_mpmc_transfer_report rep = {0};
        rep.sent = total;
        rep.received = atomic_load(&t->received);
        rep.invalid = atomic_load(&t->invalid);
        rep.order_violations = atomic_load(&t->order_violations);
        for (uint64_t i = 0; i < total; i++) {
            unsigned c = atomic_load_explicit(&t->seen[i], memory_order_relaxed);
            if (c == 0)
                rep.missing++;
            else
                rep.duplicated += c - 1;
        }
        rep.elapsed_ns = elapsed;
        *out = rep;
    }
out_free:
    if (t) {
        bot4_ring_mpmc_destroy(t->q);
        free((void *)t->seen);
    }
    free(t);
    free(workers);
    return st;
}

int bot4_ring_spsc_bench(uint64_t n, size_t batch, int64_t *elapsed_ns, int64_t *cpu_ns,
                         uint64_t *checksum)
{
    enum { RING = 4096 };
    if (!elapsed_ns || !cpu_ns || !checksum || batch == 0 || batch > RING)
        return BOT4_RING_EINVAL;
    bot4_ring_spsc *r;
    int st = bot4_ring_spsc_create(&r, RING, sizeof(uint64_t), 0);
    if (st != BOT4_RING_OK)
        return st;
    uint64_t *src = malloc(batch * sizeof *src), *dst = malloc(batch * sizeof *dst);
    if (!src || !dst) {
        free(src);
        free(dst);
        bot4_ring_spsc_destroy(r);
        return BOT4_RING_ENOMEM;
    }
    for (size_t i = 0; i < batch; i++)
        src[i] = i;
    uint64_t sum = 0, done = 0;
    int64_t t0 = bot4_now_ns(), c0 = bot4_thread_cpu_ns();
    while (done < n) {
        size_t k = n - done < batch ? (size_t)(n - done) : batch;
        size_t pushed = spsc_push_n_impl(r, src, k);
        size_t popped = spsc_pop_n_impl(r, dst, pushed);
        if (popped == 0)
            break; /* cannot happen: the ring is drained every round */
        sum += dst[0] + dst[popped - 1];
        done += popped;
    }
    *elapsed_ns = bot4_now_ns() - t0;
    *cpu_ns = bot4_thread_cpu_ns() - c0;
    *checksum = sum;
    free(src);
    free(dst);
    bot4_ring_spsc_destroy(r);
    return BOT4_RING_OK;
}

int bot4_ring_mpmc_bench(uint64_t n, size_t batch, int64_t *elapsed_ns, int64_t *cpu_ns,
                         uint64_t *checksum)
{
    enum { RING = 4096 };
    if (!elapsed_ns || !cpu_ns || !checksum || batch == 0 || batch > RING)
        return BOT4_RING_EINVAL;
    bot4_ring_mpmc *q;
    int st = bot4_ring_mpmc_create(&q, RING, sizeof(uint64_t));
    if (st != BOT4_RING_OK)
        return st;
    uint64_t *src = malloc(batch * sizeof *src), *dst = malloc(batch * sizeof *dst);
    if (!src || !dst) {
        free(src);
        free(dst);
        bot4_ring_mpmc_destroy(q);
        return BOT4_RING_ENOMEM;
    }
    for (size_t i = 0; i < batch; i++)
        src[i] = i;
    uint64_t sum = 0, done = 0;
    int64_t t0 = bot4_now_ns(), c0 = bot4_thread_cpu_ns();
    while (done < n) {
        size_t k = n - done < batch ? (size_t)(n - done) : batch;
        size_t pushed = mpmc_push_n_impl(q, src, k);
        size_t popped = mpmc_pop_n_impl(q, dst, pushed);
        if (popped == 0)
            break; /* cannot happen: the queue is drained every round */
        sum += dst[0] + dst[popped - 1];
        done += popped;
    }
    *elapsed_ns = bot4_now_ns() - t0;
    *cpu_ns = bot4_thread_cpu_ns() - c0;
    *checksum = sum;
    free(src);
    free(dst);
    bot4_ring_mpmc_destroy(q);
    return BOT4_RING_OK;
}
