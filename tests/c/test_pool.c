/* test_pool.c - C unit tests for csrc/pool.c, run under ASan/UBSan by `make sanitize`.
 * Covers argument checks, exhaustion, double release and out-of-range release leaving the
 * state unchanged, statistics, slot access, and a long random sequence against a model.
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

static void test_bench(void)
{
    int64_t ns, cpu;
    uint64_t sum;
    CHECK(bot4_pool_bench(1000, 0, &ns, &cpu, &sum) == BOT4_POOL_EINVAL);
    CHECK(bot4_pool_bench(1000, 1, &ns, &cpu, &sum) == BOT4_POOL_OK && sum == 0);
    CHECK(bot4_pool_bench(1000, 10, &ns, &cpu, &sum) == BOT4_POOL_OK);
}

int main(void)
{
    test_create_args();
    test_exhaust_and_errors();
    test_random_model();
    test_bench();
    printf("pool: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
