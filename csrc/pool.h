/* pool.h - fixed-capacity object pool of fixed-size slots with an index-based free list.
 *
 * Design: one contiguous slab of `capacity` slots (slot_size rounded up to 8 bytes, slab
 * 64-byte aligned, zeroed at creation), a free list threaded through a parallel uint32
 * `next` array (a LIFO stack: the slot released last is acquired first, which keeps hot
 * slots in cache); an acquired slot's `next` entry holds a HELD mark instead of a link,
 * so the in-use flag costs no extra memory or stores. Slots are named by index, so handles stay
 * valid across copies and can be stored in other arrays or sent through a ring.
 * Invariants: every index in [0, capacity) is either on the free list exactly once or
 * marked HELD, never both; in_use == number of marked slots; high_water >= in_use.
 * Errors never change state: releasing an index that is out of range or not in use (a
 * double release) returns a status and leaves the free list intact; acquiring from an
 * exhausted pool returns BOT4_POOL_EXHAUSTED and counts a failed acquire.
 * Cost: acquire and release are O(1): a few loads/stores, no allocation, no search; the
 * batch calls are O(n) for n slots.
 * Slot contents are not cleared on release or acquire (the caller owns them).
 * Threads: a pool has one owner thread (no internal locking); hand indices to other
 * threads through a ring if needed.
 */
#ifndef BOT4_POOL_H
#define BOT4_POOL_H

#include <stddef.h>
#include <stdint.h>

enum {
    BOT4_POOL_OK = 0,
    BOT4_POOL_EXHAUSTED = 1, /* acquire: no free slot */
    BOT4_POOL_EINVAL = -1,   /* bad capacity or slot size */
    BOT4_POOL_ENOMEM = -2,
    BOT4_POOL_ERANGE = -3,   /* index >= capacity */
    BOT4_POOL_ENOTHELD = -4, /* index is not in use (double release, or never acquired) */
};

#define BOT4_POOL_MAX_CAPACITY ((size_t)1 << 30)
#define BOT4_POOL_MAX_SLOT ((size_t)1 << 20)

typedef struct bot4_pool bot4_pool;

typedef struct bot4_pool_stats {
    uint64_t capacity;
    uint64_t slot_size;
    uint64_t in_use;
    uint64_t high_water;      /* most slots ever in use at once */
    uint64_t acquires;        /* successful acquires */
    uint64_t releases;        /* successful releases */
    uint64_t failed_acquires; /* acquires refused because the pool was exhausted */
} bot4_pool_stats;

/* capacity: 1..BOT4_POOL_MAX_CAPACITY; slot_size: 1..BOT4_POOL_MAX_SLOT. */
int bot4_pool_create(bot4_pool **out, size_t capacity, size_t slot_size);
void bot4_pool_destroy(bot4_pool *p);

int bot4_pool_acquire(bot4_pool *p, uint32_t *index);   /* OK or EXHAUSTED */
int bot4_pool_release(bot4_pool *p, uint32_t index);    /* OK, ERANGE or ENOTHELD */

/* 1 if index is in range and in use. */
int bot4_pool_held(const bot4_pool *p, uint32_t index);

/* Pointer to the slot's slot_size bytes (index must be < capacity; unchecked). */
void *bot4_pool_slot(bot4_pool *p, uint32_t index);

/* Checked access: OK, ERANGE or ENOTHELD; *out set only on OK. */
int bot4_pool_slot_checked(bot4_pool *p, uint32_t index, void **out);

void bot4_pool_get_stats(const bot4_pool *p, bot4_pool_stats *out);

/* Batches, all or nothing; the cost is that of n single calls without the call overhead.
 * acquire_n: n slots into out[0..n) in the order acquire would hand them out; OK, or
 * EXHAUSTED when fewer than n are free (nothing acquired, failed_acquires counts one).
 * release_n: release ids[0..n) in order, as n release calls would; OK, or ERANGE/ENOTHELD
 * for the first id that is out of range, not in use, or a repeat of an earlier id in the
 * batch: then nothing is released and *bad (may be NULL) is that id's position. */
int bot4_pool_acquire_n(bot4_pool *p, size_t n, uint32_t *out);
int bot4_pool_release_n(bot4_pool *p, const uint32_t *ids, size_t n, size_t *bad);

#endif
