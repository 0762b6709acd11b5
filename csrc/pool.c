/* pool.c - object pool: slab of fixed-size slots, LIFO free list of uint32 indices
 * threaded through `next`, whose entry for an acquired slot is the HELD mark (design and
 * invariants in pool.h). Cost: acquire = pop the free-list head and mark it; release =
 * check the mark and push; O(1), a handful of loads and stores. acquire_n = n acquires
 * after one free-count check; release_n = one pass that checks and marks every id, then
 * n pushes.
 */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

/* The in-use mark lives in the free-list link itself, so acquire/release touch one array
 * entry; indices are < BOT4_POOL_MAX_CAPACITY, so neither value is ever a real index. */
#define NIL UINT32_MAX

#define HELD (UINT32_MAX - 1)

/* release_n's mark for a slot seen earlier in the batch being checked (never left set). */
#define CHECKING (UINT32_MAX - 2)

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

/* A static inline body behind the exported wrapper, so acquire_n inlines it instead of
 * calling through the PLT of a -fPIC extension. */
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

int bot4_pool_release(bot4_pool *p, uint32_t index)
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

int bot4_pool_acquire_n(bot4_pool *p, size_t n, uint32_t *out)
{
    if (n > p->capacity - (p->acquires - p->releases)) {
        p->failed_acquires++;
        return BOT4_POOL_EXHAUSTED;
    }
    for (size_t k = 0; k < n; k++)
        pool_acquire_impl(p, &out[k]); /* cannot fail: n slots are free */
    return BOT4_POOL_OK;
}

int bot4_pool_release_n(bot4_pool *p, const uint32_t *ids, size_t n, size_t *bad)
{
    /* Check every id first, marking each so a repeat shows; undo the marks on failure. */
    for (size_t k = 0; k < n; k++) {
        uint32_t i = ids[k];
        int st = i >= p->capacity ? BOT4_POOL_ERANGE
                 : p->next[i] != HELD ? BOT4_POOL_ENOTHELD : BOT4_POOL_OK;
        if (st != BOT4_POOL_OK) {
            for (size_t j = 0; j < k; j++)
                p->next[ids[j]] = HELD;
            if (bad)
                *bad = k;
            return st;
        }
        p->next[i] = CHECKING;
    }
    uint32_t head = p->free_head;
    for (size_t k = 0; k < n; k++) {
        p->next[ids[k]] = head;
        head = ids[k];
    }
    p->free_head = head;
    p->releases += n;
    return BOT4_POOL_OK;
}
