/* ring_threads.h - multi-thread transfer checks for csrc/ring.c (pthreads, no Python).
 *
 * ring_spsc_transfer: a producer thread pushes the uint64 values 0..n_items-1 through an
 *   SPSC ring, `batch` records per push_n; a consumer thread pops up to `batch` at a time
 *   and checks that each value is exactly the next one expected.
 * ring_mpmc_transfer: n_producers threads each push items_per_producer 16-byte records
 *   {producer id, seq 0..} through an MPMC queue; n_consumers threads pop (up to `batch`
 *   per pop_n), count every item in a seen table and check each producer's order as one
 *   consumer sees it.
 * Both time the run from thread start to the last join, so one report serves the sanitizer
 * unit test (tests/c/test_ring.c) and tests/c/ring_transfer.c, which tests/test_ring.py and
 * the throughput bench (bench/bench_ring.py) run at full speed. Functions return
 * BOT4_RING_* codes, or RING_ETHREAD when a thread cannot be started.
 */
#ifndef BOT4_TEST_RING_THREADS_H
#define BOT4_TEST_RING_THREADS_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "clock.h"
#include "ring.h"

enum { RING_ETHREAD = -100 };

typedef struct ring_spsc_report {
    uint64_t sent;            /* records the producer pushed */
    uint64_t received;        /* records the consumer popped */
    uint64_t out_of_sequence; /* popped values that were not the next expected one */
    uint64_t last_value;      /* last value popped (n_items - 1 when all went through) */
    uint64_t producer_waits;  /* push attempts that found the ring full */
    uint64_t consumer_waits;  /* pop attempts that found the ring empty */
    int64_t elapsed_ns;       /* threads started -> both joined */
} ring_spsc_report;

typedef struct ring_mpmc_report {
    uint64_t sent;
    uint64_t received;
    uint64_t missing;          /* items never seen */
    uint64_t duplicated;       /* items seen more than once (extra sightings) */
    uint64_t invalid;          /* records with an out-of-range producer id or seq */
    uint64_t order_violations; /* a consumer saw a producer's seq not above its previous */
    int64_t elapsed_ns;
} ring_mpmc_report;

/* Back off while the other side catches up: spin briefly, then yield the core (cores may
 * be shared with other work, and pure spinning can starve the peer). */
static inline void ring_backoff(unsigned *spins)
{
    if (++*spins < 64)
        return;
    *spins = 0;
    sched_yield();
}

/* ---- SPSC ----------------------------------------------------------------------------- */

typedef struct ring_spsc_job {
    bot4_ring_spsc *ring;
    uint64_t n_items;
    size_t batch;
    _Atomic int producer_done;
    ring_spsc_report rep;
} ring_spsc_job;

static void *ring_spsc_producer(void *arg)
{
    ring_spsc_job *t = arg;
    uint64_t *vals = malloc(t->batch * sizeof *vals);
    uint64_t next = 0, waits = 0;
    unsigned spins = 0;
    if (vals) {
        while (next < t->n_items) {
            size_t k = t->n_items - next < t->batch ? (size_t)(t->n_items - next) : t->batch;
            for (size_t i = 0; i < k; i++)
                vals[i] = next + i;
            size_t pushed = bot4_ring_spsc_push_n(t->ring, vals, k);
            if (pushed == 0) {
                waits++;
                ring_backoff(&spins);
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

static void *ring_spsc_consumer(void *arg)
{
    ring_spsc_job *t = arg;
    uint64_t *vals = malloc(t->batch * sizeof *vals);
    uint64_t expected = 0, received = 0, bad = 0, last = 0, waits = 0;
    unsigned spins = 0;
    if (vals) {
        for (;;) {
            /* Read the done flag before popping: if it was set, every push happened
             * before this pop, so an empty pop means the transfer is over. */
            int done = atomic_load_explicit(&t->producer_done, memory_order_acquire);
            size_t k = bot4_ring_spsc_pop_n(t->ring, vals, t->batch);
            if (k == 0) {
                if (done)
                    break;
                waits++;
                ring_backoff(&spins);
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

/* batch: 1..capacity; capacity: a power of two (EINVAL otherwise). */
static int ring_spsc_transfer(uint64_t n_items, size_t capacity, size_t batch,
                              ring_spsc_report *out)
{
    if (!out || batch == 0 || batch > capacity)
        return BOT4_RING_EINVAL;
    ring_spsc_job *t = calloc(1, sizeof *t);
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
    if (pthread_create(&cons, NULL, ring_spsc_consumer, t) != 0) {
        st = RING_ETHREAD;
        goto done;
    }
    if (pthread_create(&prod, NULL, ring_spsc_producer, t) != 0) {
        /* Unblock the consumer: nothing will be produced. */
        atomic_store(&t->producer_done, 1);
        pthread_join(cons, NULL);
        st = RING_ETHREAD;
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

/* ---- MPMC ----------------------------------------------------------------------------- */

typedef struct ring_mpmc_job {
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
} ring_mpmc_job;

typedef struct ring_mpmc_worker {
    ring_mpmc_job *t;
    unsigned id;
    pthread_t thread;
} ring_mpmc_worker;

static void *ring_mpmc_producer(void *arg)
{
    ring_mpmc_worker *w = arg;
    ring_mpmc_job *t = w->t;
    uint64_t rec[2] = {w->id, 0};
    unsigned spins = 0;
    while (rec[1] < t->per_producer && !atomic_load_explicit(&t->stop, memory_order_relaxed)) {
        if (bot4_ring_mpmc_push(t->q, rec) == BOT4_RING_OK)
            rec[1]++;
        else
            ring_backoff(&spins);
    }
    atomic_fetch_add_explicit(&t->producers_done, 1, memory_order_release);
    return NULL;
}

static void *ring_mpmc_consumer(void *arg)
{
    ring_mpmc_worker *w = arg;
    ring_mpmc_job *t = w->t;
    uint64_t *buf = malloc(t->batch * 2 * sizeof *buf);
    int64_t *last = malloc(t->n_producers * sizeof *last); /* last seq seen per producer */
    uint64_t received = 0, invalid = 0, order = 0;
    unsigned spins = 0;
    if (buf && last) {
        for (unsigned p = 0; p < t->n_producers; p++)
            last[p] = -1;
        for (;;) {
            unsigned done = atomic_load_explicit(&t->producers_done, memory_order_acquire);
            size_t k = bot4_ring_mpmc_pop_n(t->q, buf, t->batch);
            if (k == 0) {
                if (done == t->n_producers || atomic_load(&t->stop))
                    break;
                ring_backoff(&spins);
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

/* n_producers, n_consumers: 1..256; batch: 1..capacity; capacity: a power of two >= 2. */
static int ring_mpmc_transfer(unsigned n_producers, unsigned n_consumers,
                              uint64_t items_per_producer, size_t capacity, size_t batch,
                              ring_mpmc_report *out)
{
    if (!out || n_producers == 0 || n_consumers == 0 || batch == 0 || batch > capacity ||
        n_producers > 256 || n_consumers > 256)
        return BOT4_RING_EINVAL;
    uint64_t total = (uint64_t)n_producers * items_per_producer;
    ring_mpmc_job *t = calloc(1, sizeof *t);
    ring_mpmc_worker *workers = calloc(n_producers + n_consumers, sizeof *workers);
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
        void *(*fn)(void *) = i < n_producers ? ring_mpmc_producer : ring_mpmc_consumer;
        if (pthread_create(&workers[i].thread, NULL, fn, &workers[i]) != 0) {
            st = RING_ETHREAD;
            break;
        }
        started++;
    }
    if (st == RING_ETHREAD)
        atomic_store(&t->stop, 1);
    for (unsigned i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    int64_t elapsed = bot4_now_ns() - t0;
    if (st == BOT4_RING_OK) {
        ring_mpmc_report rep = {0};
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

#endif
