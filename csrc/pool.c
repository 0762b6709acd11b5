/* pool.c - object pool: slab of fixed-size slots, LIFO free list of uint32 indices
 * threaded through `next`, whose entry for an acquired slot is the HELD mark (design and
 * invariants in pool.h). Cost: acquire = pop the free-list head and mark it; release =
 * check the mark and push; O(1), a handful of loads and stores.
 */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* The in-use mark lives in the free-list link itself, so acquire/release touch one array
 * entry; indices are < BOT4_POOL_MAX_CAPACITY, so neither value is ever a real index. */
#define NIL UINT32_MAX

#define HELD (UINT32_MAX - 1)

struct bot4_pool {
    uint32_t *next;     /* free slot: next free index (NIL ends); acquired slot: HELD */
    unsigned char *slab;
    size_t capacity;
    size_t slot_size;
    size_t stride;
    uint32_t free_head; /* NIL when exhausted */
    /* in use = acquires - releases: two counters each bumped on one side keep release and
     * acquire from chaining through one read-modify-write field. */
    uint64_t acquires;
    uint64_t releases;
    uint64_t high_water;
    uint64_t failed_acquires;
};

int bot4_pool_create(bot4_pool **out, size_t capacity, size_t slot_size)
{
    if (!out || capacity == 0 || capacity > BOT4_POOL_MAX_CAPACITY || slot_size == 0 ||
        slot_size > BOT4_POOL_MAX_SLOT)
        return BOT4_POOL_EINVAL;
    bot4_pool *p = calloc(1, sizeof *p);
    if (!p)
        return BOT4_POOL_ENOMEM;
    p->stride = (slot_size + 7) / 8 * 8;
    size_t slab_bytes = (capacity * p->stride + 63) / 64 * 64;
    p->slab = aligned_alloc(64, slab_bytes);
    p->next = malloc(capacity * sizeof *p->next);
    if (!p->slab || !p->next) {
        bot4_pool_destroy(p);
        return BOT4_POOL_ENOMEM;
    }
    memset(p->slab, 0, slab_bytes);
    p->capacity = capacity;
    p->slot_size = slot_size;
    /* Free list 0 -> 1 -> ... -> capacity-1, so a fresh pool hands out 0, 1, 2, ... */
    for (size_t i = 0; i + 1 < capacity; i++)
        p->next[i] = (uint32_t)(i + 1);
    p->next[capacity - 1] = NIL;
    p->free_head = 0;
    *out = p;
    return BOT4_POOL_OK;
}

void bot4_pool_destroy(bot4_pool *p)
{
    if (!p)
        return;
    free(p->slab);
    free(p->next);
    free(p);
}

/* Static inline bodies behind exported wrappers, so the bench (and any caller in this file)
 * inlines them instead of calling through the PLT of a -fPIC extension. */
static inline int pool_acquire_impl(bot4_pool *p, uint32_t *index)
{
    /* Loads first, stores after: the stores may alias the fields (char-typed slab, and
     * builds use -fno-strict-aliasing), so this order avoids re-reading them. */
    uint32_t i = p->free_head;
    if (i == NIL) {
        p->failed_acquires++;
        return BOT4_POOL_EXHAUSTED;
    }
    uint32_t next = p->next[i];
    uint64_t acquires = p->acquires + 1, used = acquires - p->releases, high = p->high_water;
    p->free_head = next;
    p->next[i] = HELD;
    p->acquires = acquires;
    if (used > high)
        p->high_water = used;
    *index = i;
    return BOT4_POOL_OK;
}

int bot4_pool_acquire(bot4_pool *p, uint32_t *index)
{
    return pool_acquire_impl(p, index);
}

static inline int pool_release_impl(bot4_pool *p, uint32_t index)
{
    if (index >= p->capacity)
        return BOT4_POOL_ERANGE;
    if (p->next[index] != HELD)
        return BOT4_POOL_ENOTHELD;
    uint32_t head = p->free_head;
    uint64_t releases = p->releases + 1;
    p->next[index] = head;
    p->free_head = index;
    p->releases = releases;
    return BOT4_POOL_OK;
}

int bot4_pool_release(bot4_pool *p, uint32_t index)
{
    return pool_release_impl(p, index);
}

int bot4_pool_held(const bot4_pool *p, uint32_t index)
{
    return index < p->capacity && p->next[index] == HELD;
}

void *bot4_pool_slot(bot4_pool *p, uint32_t index)
{
    return p->slab + (size_t)index * p->stride;
}

int bot4_pool_slot_checked(bot4_pool *p, uint32_t index, void **out)
{
    if (index >= p->capacity)
        return BOT4_POOL_ERANGE;
    if (p->next[index] != HELD)
        return BOT4_POOL_ENOTHELD;
    *out = bot4_pool_slot(p, index);
    return BOT4_POOL_OK;
}

void bot4_pool_get_stats(const bot4_pool *p, bot4_pool_stats *out)
{
    out->capacity = p->capacity;
    out->slot_size = p->slot_size;
    out->in_use = p->acquires - p->releases;
    out->high_water = p->high_water;
    out->acquires = p->acquires;
    out->releases = p->releases;
    out->failed_acquires = p->failed_acquires;
}

int bot4_pool_bench(uint64_t n, size_t outstanding, int64_t *elapsed_ns, int64_t *cpu_ns,
                    uint64_t *checksum)
{
    enum { CAP = 4096 };
    if (!elapsed_ns || !cpu_ns || !checksum || outstanding == 0 || outstanding > CAP)
        return BOT4_POOL_EINVAL;
    bot4_pool *p;
    int st = bot4_pool_create(&p, CAP, 64);
    if (st != BOT4_POOL_OK)
        return st;
    uint32_t *held = malloc(outstanding * sizeof *held);
    if (!held) {
        bot4_pool_destroy(p);
        return BOT4_POOL_ENOMEM;
    }
    uint64_t sum = 0, done = 0;
    int bad = 0;
    int64_t t0 = bot4_now_ns(), c0 = bot4_thread_cpu_ns();
    while (done < n) {
        size_t k = n - done < outstanding ? (size_t)(n - done) : outstanding;
        for (size_t i = 0; i < k; i++) {
            bad |= pool_acquire_impl(p, &held[i]);
            sum += held[i];
        }
        /* Release in acquisition order so the free list gets shuffled, not just LIFO. */
        for (size_t i = 0; i < k; i++)
            bad |= pool_release_impl(p, held[i]);
        done += k;
    }
    *elapsed_ns = bot4_now_ns() - t0;
    *cpu_ns = bot4_thread_cpu_ns() - c0;
    *checksum = sum;
    free(held);
    bot4_pool_destroy(p);
    return bad ? BOT4_POOL_EINVAL : BOT4_POOL_OK;
}
