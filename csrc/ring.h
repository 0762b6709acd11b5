/* ring.h - lock-free bounded queues of fixed-size records: an SPSC ring and an MPMC queue.
 *
 * SPSC ring (bot4_ring_spsc): one producer thread, one consumer thread.
 *   Design after rigtorp/SPSCQueue and the LMAX Disruptor. `tail` (next slot to write) is
 *   owned by the producer, `head` (next slot to read) by the consumer; both are unbounded
 *   size_t counters reduced with `& mask` (capacity is a power of two), so the ring holds
 *   exactly `capacity` records and full/empty need no spare slot. head and tail sit on
 *   separate 64-byte cache lines, and each side keeps a private cached copy of the other's
 *   index (head_cache on the producer's line, tail_cache on the consumer's), re-reading the
 *   shared index only when the cached one says full/empty: in steady state a push or pop
 *   touches no cache line the other side writes.
 *   Ordering: the producer copies records, then stores tail with release; the consumer
 *   loads tail with acquire before copying out (so it sees the bytes), and stores head
 *   with release after copying out; the producer loads head with acquire before reusing
 *   slots (so the consumer's reads happened before the overwrite).
 *   Invariants: 0 <= tail - head <= capacity; records leave in the order they entered;
 *   a full ring rejects a push (status/short count), it never overwrites.
 *   Cost: push/pop of k records = one or two memcpy of k*record_size bytes + one release
 *   store, plus one acquire load of the other side's index only when the cache runs out.
 *
 * Overwrite-oldest mode (made at creation, `overwrite != 0`): a push into a full ring
 *   drops the oldest record and counts it in `dropped`; pushes never fail. SAFETY: an
 *   overwrite-mode ring has a SINGLE OWNER THREAD that both pushes and pops (a bounded
 *   "last N records" history). Dropping the oldest record means the producer moves the
 *   consumer's head; with a concurrent consumer that would race with the consumer's
 *   copy of that very slot (a torn read only a seqlock with racy reads could hide), so
 *   this design forbids it instead. The Python binding enforces it by keeping the GIL
 *   held for every operation on an overwrite-mode ring, so Python threads are serialized.
 *   A pushed batch larger than the ring keeps its last `capacity` records, exactly as if
 *   pushed one at a time; every record lost (old or from the batch) counts as dropped.
 *
 * MPMC queue (bot4_ring_mpmc): Dmitry Vyukov's bounded MPMC queue. Every cell carries a
 *   sequence number; cell i starts at seq = i. A producer at position pos may fill the
 *   cell when seq == pos, claims it by CAS on enqueue_pos, copies the record and
 *   publishes seq = pos + 1 (release). A consumer at pos may take the cell when
 *   seq == pos + 1, claims it by CAS on dequeue_pos, copies out and frees the cell with
 *   seq = pos + capacity (release). seq < expected means full (producer) / empty
 *   (consumer). Batches claim k consecutive cells with a single CAS after checking that
 *   all k are ready (a ready cell stays ready until its position is claimed, and claiming
 *   moves the CAS'd counter, so the check cannot go stale behind a successful CAS).
 *   Invariants: each position is claimed by exactly one producer and one consumer; a
 *   consumer sees positions in increasing order, so each producer's records reach any one
 *   consumer in the order that producer pushed them. Capacity is a power of two >= 2.
 *   Cost: one CAS on a shared counter per push/pop (per batch with the _n calls) plus the
 *   copy; lock-free, not wait-free (a producer stalled between claim and publish delays
 *   consumers of that cell).
 *
 * Functions return BOT4_RING_* status codes or counts; nothing aborts or prints. Argument
 * validity (non-NULL, sizes) is the caller's job except where a status says otherwise.
 */
#ifndef BOT4_RING_H
#define BOT4_RING_H

#include <stddef.h>
#include <stdint.h>

enum {
    BOT4_RING_OK = 0,
    BOT4_RING_FULL = 1,       /* push: no free slot (non-overwrite mode) */
    BOT4_RING_EMPTY = 2,      /* pop: nothing to read */
    BOT4_RING_EINVAL = -1,    /* bad capacity / record size / argument */
    BOT4_RING_ENOMEM = -2,    /* allocation failed */
};

#define BOT4_RING_MAX_CAPACITY ((size_t)1 << 30)
#define BOT4_RING_MAX_RECORD ((size_t)1 << 20)

/* 1 if capacity is a power of two in [min_capacity, BOT4_RING_MAX_CAPACITY]. */
int bot4_ring_capacity_ok(size_t capacity, size_t min_capacity);

/* ---- SPSC ring ---------------------------------------------------------------------- */
typedef struct bot4_ring_spsc bot4_ring_spsc;

/* capacity: power of two >= 1; record_size: 1..BOT4_RING_MAX_RECORD. EINVAL otherwise. */
int bot4_ring_spsc_create(bot4_ring_spsc **out, size_t capacity, size_t record_size,
                          int overwrite);
void bot4_ring_spsc_destroy(bot4_ring_spsc *r);

/* Producer side. push: OK or FULL (overwrite mode: always OK). push_n: how many of the n
 * records at src were accepted (a prefix; overwrite mode: always n). */
int bot4_ring_spsc_push(bot4_ring_spsc *r, const void *rec);
size_t bot4_ring_spsc_push_n(bot4_ring_spsc *r, const void *src, size_t n);

/* Consumer side. pop: OK or EMPTY. pop_n: how many records (<= n) were copied to dst. */
int bot4_ring_spsc_pop(bot4_ring_spsc *r, void *rec);
size_t bot4_ring_spsc_pop_n(bot4_ring_spsc *r, void *dst, size_t n);

/* Either side; exact when no other thread is operating, approximate while racing. */
size_t bot4_ring_spsc_size(const bot4_ring_spsc *r);
size_t bot4_ring_spsc_capacity(const bot4_ring_spsc *r);
size_t bot4_ring_spsc_record_size(const bot4_ring_spsc *r);
int bot4_ring_spsc_overwrite(const bot4_ring_spsc *r);
uint64_t bot4_ring_spsc_dropped(const bot4_ring_spsc *r);

/* ---- MPMC queue --------------------------------------------------------------------- */
typedef struct bot4_ring_mpmc bot4_ring_mpmc;

/* capacity: power of two >= 2; record_size: 1..BOT4_RING_MAX_RECORD. EINVAL otherwise. */
int bot4_ring_mpmc_create(bot4_ring_mpmc **out, size_t capacity, size_t record_size);
void bot4_ring_mpmc_destroy(bot4_ring_mpmc *q);
int bot4_ring_mpmc_push(bot4_ring_mpmc *q, const void *rec);          /* OK or FULL */
int bot4_ring_mpmc_pop(bot4_ring_mpmc *q, void *rec);                 /* OK or EMPTY */
size_t bot4_ring_mpmc_push_n(bot4_ring_mpmc *q, const void *src, size_t n);
size_t bot4_ring_mpmc_pop_n(bot4_ring_mpmc *q, void *dst, size_t n);
size_t bot4_ring_mpmc_size(const bot4_ring_mpmc *q);
size_t bot4_ring_mpmc_capacity(const bot4_ring_mpmc *q);
size_t bot4_ring_mpmc_record_size(const bot4_ring_mpmc *q);

#endif
