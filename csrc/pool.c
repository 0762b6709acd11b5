/* pool.c - object pool: slab of fixed-size slots, LIFO free list of uint32 indices
 * threaded through `next`, per-slot in-use byte (design and invariants in pool.h).
 * Cost: acquire = pop the free-list head, release = check the in-use byte and push; O(1).
 */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define NIL UINT32_MAX

struct bot4_pool {
    unsigned char *slab;
    uint32_t *next;    /* free-list link of each free slot */
    uint8_t *in_use;   /* 1 while acquired */
    size_t capacity;
    size_t slot_size;
    size_t stride;
    uint32_t free_head; /* NIL when exhausted */
    uint64_t in_use_count;
    uint64_t high_water;
    uint64_t acquires;
    uint64_t releases;
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
    p->in_use = calloc(capacity, 1);
    if (!p->slab || !p->next || !p->in_use) {
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
    free(p->in_use);
    free(p);
}

int bot4_pool_acquire(bot4_pool *p, uint32_t *index)
{
    uint32_t i = p->free_head;
    if (i == NIL) {
        p->failed_acquires++;
        return BOT4_POOL_EXHAUSTED;
    }
    p->free_head = p->next[i];
    p->in_use[i] = 1;
    p->acquires++;
    if (++p->in_use_count > p->high_water)
        p->high_water = p->in_use_count;
    *index = i;
    return BOT4_POOL_OK;
}

int bot4_pool_release(bot4_pool *p, uint32_t index)
{
    if (index >= p->capacity)
        return BOT4_POOL_ERANGE;
    if (!p->in_use[index])
        return BOT4_POOL_ENOTHELD;
    p->in_use[index] = 0;
    p->next[index] = p->free_head;
    p->free_head = index;
    p->in_use_count--;
    p->releases++;
    return BOT4_POOL_OK;
}

int bot4_pool_held(const bot4_pool *p, uint32_t index)
{
    return index < p->capacity && p->in_use[index];
}

void *bot4_pool_slot(bot4_pool *p, uint32_t index)
{
    return p->slab + (size_t)index * p->stride;
}

int bot4_pool_slot_checked(bot4_pool *p, uint32_t index, void **out)
{
    if (index >= p->capacity)
        return BOT4_POOL_ERANGE;
    if (!p->in_use[index])
        return BOT4_POOL_ENOTHELD;
    *out = bot4_pool_slot(p, index);
    return BOT4_POOL_OK;
}

void bot4_pool_get_stats(const bot4_pool *p, bot4_pool_stats *out)
{
    out->capacity = p->capacity;
    out->slot_size = p->slot_size;
    out->in_use = p->in_use_count;
    out->high_water = p->high_water;
    out->acquires = p->acquires;
    out->releases = p->releases;
    out->failed_acquires = p->failed_acquires;
}

int bot4_pool_bench(uint64_t n, size_t outstanding, int64_t *elapsed_ns, uint64_t *checksum)
{
    enum { CAP = 4096 };
    if (!elapsed_ns || !checksum || outstanding == 0 || outstanding > CAP)
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
    int64_t t0 = bot4_now_ns();
    while (done < n) {
        size_t k = n - done < outstanding ? (size_t)(n - done) : outstanding;
        for (size_t i = 0; i < k; i++) {
            bad |= bot4_pool_acquire(p, &held[i]);
            sum += held[i];
        }
        /* Release in acquisition order so the free list gets shuffled, not just LIFO. */
        for (size_t i = 0; i < k; i++)
            bad |= bot4_pool_release(p, held[i]);
        done += k;
    }
    *elapsed_ns = bot4_now_ns() - t0;
    *checksum = sum;
    free(held);
    bot4_pool_destroy(p);
    return bad ? BOT4_POOL_EINVAL : BOT4_POOL_OK;
}
