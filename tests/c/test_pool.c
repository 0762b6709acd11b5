/* test_pool.c - C unit tests for csrc/pool.c, run under ASan/UBSan by `make sanitize`.
 * Covers argument checks, exhaustion, double release and out-of-range release leaving the
 * state unchanged, statistics, slot access, a long random sequence against a model, and
 * the batch calls against the single ones (refused batches change nothing).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pool.h"

#include "check.h"

static void test_create_args(void)
{
    bot4_pool *p = NULL;
    CHECK(bot4_pool_create(&p, 0, 8) == BOT4_POOL_EINVAL);
    CHECK(bot4_pool_create(&p, 8, 0) == BOT4_POOL_EINVAL);
    CHECK(bot4_pool_create(&p, BOT4_POOL_MAX_CAPACITY + 1, 8) == BOT4_POOL_EINVAL);
    CHECK(bot4_pool_create(&p, 8, BOT4_POOL_MAX_SLOT + 1) == BOT4_POOL_EINVAL);
    CHECK(p == NULL);
}

static void test_exhaust_and_errors(void)
{
    bot4_pool *p;
    CHECK(bot4_pool_create(&p, 3, 5) == BOT4_POOL_OK);
    uint32_t a, b, c, d = 77;
    CHECK(bot4_pool_acquire(p, &a) == BOT4_POOL_OK && a == 0);
    CHECK(bot4_pool_acquire(p, &b) == BOT4_POOL_OK && b == 1);
    CHECK(bot4_pool_acquire(p, &c) == BOT4_POOL_OK && c == 2);
    CHECK(bot4_pool_acquire(p, &d) == BOT4_POOL_EXHAUSTED && d == 77);
    bot4_pool_stats s;
    bot4_pool_get_stats(p, &s);
    CHECK(s.capacity == 3 && s.slot_size == 5 && s.in_use == 3 && s.high_water == 3);
    CHECK(s.failed_acquires == 1 && s.acquires == 3);

    CHECK(bot4_pool_release(p, b) == BOT4_POOL_OK);
    CHECK(bot4_pool_release(p, b) == BOT4_POOL_ENOTHELD); /* double release */
    CHECK(bot4_pool_release(p, 3) == BOT4_POOL_ERANGE);
    CHECK(bot4_pool_release(p, UINT32_MAX) == BOT4_POOL_ERANGE);
    bot4_pool_get_stats(p, &s);
    CHECK(s.in_use == 2 && s.high_water == 3 && s.releases == 1 && s.failed_acquires == 1);
    /* The free list survived the bad releases: exactly one slot (b) comes back. */
    CHECK(bot4_pool_acquire(p, &d) == BOT4_POOL_OK && d == b);
    CHECK(bot4_pool_acquire(p, &d) == BOT4_POOL_EXHAUSTED);

    void *ptr = NULL;
    CHECK(bot4_pool_slot_checked(p, a, &ptr) == BOT4_POOL_OK && ptr != NULL);
    memset(ptr, 0xab, 5);
    CHECK(bot4_pool_slot_checked(p, 9, &ptr) == BOT4_POOL_ERANGE);
    CHECK(bot4_pool_release(p, a) == BOT4_POOL_OK);
    CHECK(bot4_pool_slot_checked(p, a, &ptr) == BOT4_POOL_ENOTHELD);
    CHECK(!bot4_pool_held(p, a) && bot4_pool_held(p, c) && !bot4_pool_held(p, 100));
    /* Contents persist across release/acquire (the pool does not clear slots). */
    CHECK(bot4_pool_acquire(p, &d) == BOT4_POOL_OK && d == a);
    CHECK(((unsigned char *)bot4_pool_slot(p, d))[4] == 0xab);
    bot4_pool_destroy(p);
}

/* Long random acquire/release sequence against a model: a LIFO stack and a held flag. */
static void test_random_model(void)
{
    enum { CAP = 64 };
    bot4_pool *p;
    CHECK(bot4_pool_create(&p, CAP, 16) == BOT4_POOL_OK);
    uint32_t stack[CAP], held_list[CAP];
    int held[CAP] = {0};
    size_t top = 0, n_held = 0;
    for (uint32_t i = 0; i < CAP; i++)
        stack[top++] = CAP - 1 - i; /* top of stack is index 0 */
    uint64_t failed_acq = 0, hw = 0;
    unsigned seed = 4242;
    int ok = 1;
    for (int step = 0; step < 100000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned op = (seed >> 16) % 10;
        if (op < 5) {
            uint32_t idx;
            int st = bot4_pool_acquire(p, &idx);
            if (top == 0) {
                ok &= st == BOT4_POOL_EXHAUSTED;
                failed_acq++;
            } else {
                uint32_t want = stack[--top];
                ok &= st == BOT4_POOL_OK && idx == want;
                held[want] = 1;
                held_list[n_held++] = want;
                *(uint32_t *)bot4_pool_slot(p, idx) = idx * 3u;
            }
        } else if (op < 9 && n_held > 0) {
            size_t j = (seed >> 8) % n_held;
            uint32_t idx = held_list[j];
            ok &= *(uint32_t *)bot4_pool_slot(p, idx) == idx * 3u;
            ok &= bot4_pool_release(p, idx) == BOT4_POOL_OK;
            held[idx] = 0;
            held_list[j] = held_list[--n_held];
            stack[top++] = idx;
        } else {
            uint32_t idx = (seed >> 4) % (CAP + 8);
            int st = bot4_pool_release(p, idx);
            if (idx >= CAP)
                ok &= st == BOT4_POOL_ERANGE;
            else if (!held[idx])
                ok &= st == BOT4_POOL_ENOTHELD;
            else {
                ok &= st == BOT4_POOL_OK;
                held[idx] = 0;
                for (size_t j = 0; j < n_held; j++)
                    if (held_list[j] == idx) {
                        held_list[j] = held_list[--n_held];
                        break;
                    }
                stack[top++] = idx;
            }
        }
        if (n_held > hw)
            hw = n_held;
        bot4_pool_stats s;
        bot4_pool_get_stats(p, &s);
        ok &= s.in_use == n_held && s.high_water == hw && s.failed_acquires == failed_acq;
    }
    CHECK(ok);
    CHECK(failed_acq > 0 && hw == CAP);
    bot4_pool_destroy(p);
}

/* acquire_n/release_n against the same calls one at a time on a twin pool; refused
 * batches (too few free, out of range, not held, repeated) change nothing. */
static void test_batches(void)
{
    enum { CAP = 16 };
    bot4_pool *p, *q;
    CHECK(bot4_pool_create(&p, CAP, 8) == BOT4_POOL_OK);
    CHECK(bot4_pool_create(&q, CAP, 8) == BOT4_POOL_OK);
    uint32_t got[CAP], want[CAP];
    CHECK(bot4_pool_acquire_n(p, 0, got) == BOT4_POOL_OK);
    CHECK(bot4_pool_acquire_n(p, 10, got) == BOT4_POOL_OK);
    int same = 1;
    for (int k = 0; k < 10; k++) {
        same &= bot4_pool_acquire(q, &want[k]) == BOT4_POOL_OK;
        same &= got[k] == want[k] && got[k] == (uint32_t)k;
    }
    CHECK(same);

    const uint32_t order[5] = {3, 7, 0, 9, 5};
    size_t bad = 99;
    CHECK(bot4_pool_release_n(p, order, 5, &bad) == BOT4_POOL_OK && bad == 99);
    for (int k = 0; k < 5; k++)
        CHECK(bot4_pool_release(q, order[k]) == BOT4_POOL_OK);
    CHECK(bot4_pool_release_n(p, order, 0, NULL) == BOT4_POOL_OK);

    bot4_pool_stats sp, sq, before;
    bot4_pool_get_stats(p, &before);
    const uint32_t range[3] = {1, 2, CAP};
    const uint32_t free_one[3] = {1, 3, 2};
    const uint32_t repeat[4] = {1, 2, 4, 2};
    CHECK(bot4_pool_release_n(p, range, 3, &bad) == BOT4_POOL_ERANGE && bad == 2);
    CHECK(bot4_pool_release_n(p, free_one, 3, &bad) == BOT4_POOL_ENOTHELD && bad == 1);
    CHECK(bot4_pool_release_n(p, repeat, 4, &bad) == BOT4_POOL_ENOTHELD && bad == 3);
    CHECK(bot4_pool_release_n(p, repeat, 4, NULL) == BOT4_POOL_ENOTHELD);
    /* 11 free: asking for 12 is refused whole and counted once */
    CHECK(bot4_pool_acquire_n(p, 12, got) == BOT4_POOL_EXHAUSTED);
    bot4_pool_get_stats(p, &sp);
    CHECK(sp.in_use == before.in_use && sp.releases == before.releases);
    CHECK(sp.acquires == before.acquires && sp.failed_acquires == before.failed_acquires + 1);
    /* the refused batches left every mark as it was: the ids they named are still held */
    CHECK(bot4_pool_held(p, 1) && bot4_pool_held(p, 2) && bot4_pool_held(p, 4));
    CHECK(!bot4_pool_held(p, 3));

    /* The free lists agree: draining both gives the same order (LIFO, then fresh slots). */
    CHECK(bot4_pool_acquire_n(p, 11, got) == BOT4_POOL_OK);
    same = 1;
    for (int k = 0; k < 11; k++)
        same &= bot4_pool_acquire(q, &want[k]) == BOT4_POOL_OK && got[k] == want[k];
    CHECK(same && got[0] == 5 && got[4] == 3 && got[5] == 10);
    CHECK(bot4_pool_acquire_n(p, 1, got) == BOT4_POOL_EXHAUSTED);
    CHECK(bot4_pool_acquire(q, &want[0]) == BOT4_POOL_EXHAUSTED);
    bot4_pool_get_stats(p, &sp);
    bot4_pool_get_stats(q, &sq);
    CHECK(sp.in_use == CAP && sq.in_use == CAP && sp.high_water == CAP);
    CHECK(sp.acquires == sq.acquires && sp.releases == sq.releases);
    bot4_pool_destroy(p);
    bot4_pool_destroy(q);
}

int main(void)
{
    test_create_args();
    test_exhaust_and_errors();
    test_random_model();
    test_batches();
    printf("pool: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
