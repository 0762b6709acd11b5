/* test_ring.c - C unit tests for csrc/ring.c, run under ASan/UBSan by `make sanitize`.
 * Covers argument checks, full/empty reporting, wraparound batches, overwrite-oldest mode
 * against an array model, MPMC single-thread semantics and batches, and two-thread SPSC
 * and multi-thread MPMC transfers (ring_threads.h; sizes kept small for the sanitizers).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

#include "check.h"
#include "ring_threads.h"

static void test_create_args(void)
{
    bot4_ring_spsc *r = NULL;
    bot4_ring_mpmc *q = NULL;
    CHECK(bot4_ring_spsc_create(&r, 0, 8, 0) == BOT4_RING_EINVAL);
    CHECK(bot4_ring_spsc_create(&r, 3, 8, 0) == BOT4_RING_EINVAL);
    CHECK(bot4_ring_spsc_create(&r, 6, 8, 0) == BOT4_RING_EINVAL);
    CHECK(bot4_ring_spsc_create(&r, 8, 0, 0) == BOT4_RING_EINVAL);
    CHECK(bot4_ring_spsc_create(&r, 8, BOT4_RING_MAX_RECORD + 1, 0) == BOT4_RING_EINVAL);
    CHECK(bot4_ring_spsc_create(&r, BOT4_RING_MAX_CAPACITY * 2, 8, 0) == BOT4_RING_EINVAL);
    CHECK(r == NULL);
    CHECK(bot4_ring_spsc_create(&r, 1, 3, 0) == BOT4_RING_OK);
    bot4_ring_spsc_destroy(r);
    CHECK(bot4_ring_mpmc_create(&q, 1, 8) == BOT4_RING_EINVAL); /* Vyukov needs >= 2 */
    CHECK(bot4_ring_mpmc_create(&q, 12, 8) == BOT4_RING_EINVAL);
    CHECK(bot4_ring_mpmc_create(&q, 8, 0) == BOT4_RING_EINVAL);
    CHECK(q == NULL);
    CHECK(bot4_ring_mpmc_create(&q, 2, 5) == BOT4_RING_OK);
    bot4_ring_mpmc_destroy(q);
}

static void test_spsc_full_empty(void)
{
    bot4_ring_spsc *r;
    CHECK(bot4_ring_spsc_create(&r, 4, 3, 0) == BOT4_RING_OK);
    unsigned char rec[3], out[3];
    CHECK(bot4_ring_spsc_pop(r, out) == BOT4_RING_EMPTY);
    for (int i = 0; i < 4; i++) {
        memset(rec, i + 1, sizeof rec);
        CHECK(bot4_ring_spsc_push(r, rec) == BOT4_RING_OK);
    }
    CHECK(bot4_ring_spsc_size(r) == 4);
    memset(rec, 99, sizeof rec);
    CHECK(bot4_ring_spsc_push(r, rec) == BOT4_RING_FULL);
    CHECK(bot4_ring_spsc_dropped(r) == 0);
    for (int i = 0; i < 4; i++) {
        CHECK(bot4_ring_spsc_pop(r, out) == BOT4_RING_OK);
        CHECK(out[0] == i + 1 && out[2] == i + 1);
    }
    CHECK(bot4_ring_spsc_pop(r, out) == BOT4_RING_EMPTY);
    CHECK(bot4_ring_spsc_size(r) == 0);
    bot4_ring_spsc_destroy(r);
}

/* Batches that straddle the end of the buffer, against a counter model. */
static void test_spsc_wrap_batches(void)
{
    bot4_ring_spsc *r;
    CHECK(bot4_ring_spsc_create(&r, 8, sizeof(uint32_t), 0) == BOT4_RING_OK);
    uint32_t in[16], out[16];
    uint32_t next_in = 0, next_out = 0;
    int ok = 1;
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        seed = seed * 1103515245u + 12345u;
        size_t k = (seed >> 16) % 12;
        for (size_t i = 0; i < k; i++)
            in[i] = next_in + (uint32_t)i;
        size_t size_before = next_in - next_out;
        size_t pushed = bot4_ring_spsc_push_n(r, in, k);
        size_t expect_push = k < 8 - size_before ? k : 8 - size_before;
        ok &= pushed == expect_push;
        next_in += (uint32_t)pushed;
        seed = seed * 1103515245u + 12345u;
        size_t m = (seed >> 16) % 12;
        size_t popped = bot4_ring_spsc_pop_n(r, out, m);
        size_t have = next_in - next_out;
        ok &= popped == (m < have ? m : have);
        for (size_t i = 0; i < popped; i++)
            ok &= out[i] == next_out + i;
        next_out += (uint32_t)popped;
        ok &= bot4_ring_spsc_size(r) == next_in - next_out;
    }
    CHECK(ok);
    CHECK(next_in > 1000); /* the sequence really went round the ring many times */
    bot4_ring_spsc_destroy(r);
}

/* Overwrite mode against a model that pushes one record at a time into a bounded list. */
static void test_spsc_overwrite(void)
{
    enum { CAP = 8 };
    bot4_ring_spsc *r;
    CHECK(bot4_ring_spsc_create(&r, CAP, sizeof(uint32_t), 1) == BOT4_RING_OK);
    uint32_t model[CAP];
    size_t model_size = 0;
    uint64_t model_dropped = 0;
    uint32_t next = 0, in[32], out[32];
    unsigned seed = 777;
    int ok = 1;
    for (int round = 0; round < 3000; round++) {
        seed = seed * 1103515245u + 12345u;
        size_t k = (seed >> 16) % 20; /* sometimes more than the capacity */
        for (size_t i = 0; i < k; i++) {
            in[i] = next++;
            if (model_size == CAP) {
                memmove(model, model + 1, (CAP - 1) * sizeof *model);
                model_size--;
                model_dropped++;
            }
            model[model_size++] = in[i];
        }
        ok &= bot4_ring_spsc_push_n(r, in, k) == k;
        seed = seed * 1103515245u + 12345u;
        size_t m = (seed >> 16) % 10;
        size_t popped = bot4_ring_spsc_pop_n(r, out, m);
        ok &= popped == (m < model_size ? m : model_size);
        for (size_t i = 0; i < popped; i++)
            ok &= out[i] == model[i];
        memmove(model, model + popped, (model_size - popped) * sizeof *model);
        model_size -= popped;
        ok &= bot4_ring_spsc_size(r) == model_size;
        ok &= bot4_ring_spsc_dropped(r) == model_dropped;
    }
    CHECK(ok);
    CHECK(model_dropped > 100);
    CHECK(bot4_ring_spsc_push(r, in) == BOT4_RING_OK);
    bot4_ring_spsc_destroy(r);
}

static void test_mpmc_single_thread(void)
{
    bot4_ring_mpmc *q;
    CHECK(bot4_ring_mpmc_create(&q, 4, sizeof(uint64_t)) == BOT4_RING_OK);
    uint64_t v = 0, out[8];
    CHECK(bot4_ring_mpmc_pop(q, &v) == BOT4_RING_EMPTY);
    for (v = 10; v < 14; v++)
        CHECK(bot4_ring_mpmc_push(q, &v) == BOT4_RING_OK);
    CHECK(bot4_ring_mpmc_push(q, &v) == BOT4_RING_FULL);
    CHECK(bot4_ring_mpmc_size(q) == 4);
    CHECK(bot4_ring_mpmc_pop_n(q, out, 8) == 4);
    CHECK(out[0] == 10 && out[3] == 13);
    CHECK(bot4_ring_mpmc_size(q) == 0);
    /* Wrapping batches against a counter model. */
    uint64_t in[8], next_in = 0, next_out = 0;
    int ok = 1;
    for (int round = 0; round < 1000; round++) {
        size_t k = (size_t)((round * 7 + round / 3) % 7);
        for (size_t i = 0; i < k; i++)
            in[i] = next_in + i;
        size_t have = next_in - next_out;
        size_t pushed = bot4_ring_mpmc_push_n(q, in, k);
        ok &= pushed == (k < 4 - have ? k : 4 - have);
        next_in += pushed;
        size_t m = (size_t)((round * 5 + round / 7) % 6);
        size_t popped = bot4_ring_mpmc_pop_n(q, out, m);
        have = next_in - next_out;
        ok &= popped == (m < have ? m : have);
        for (size_t i = 0; i < popped; i++)
            ok &= out[i] == next_out + i;
        next_out += popped;
    }
    CHECK(ok);
    bot4_ring_mpmc_destroy(q);
}

static void test_spsc_transfer(void)
{
    ring_spsc_report rep;
    CHECK(ring_spsc_transfer(100, 8, 9, &rep) == BOT4_RING_EINVAL);
    CHECK(ring_spsc_transfer(100, 7, 1, &rep) == BOT4_RING_EINVAL);
    size_t batches[] = {1, 7, 64};
    for (size_t b = 0; b < 3; b++) {
        memset(&rep, 0xff, sizeof rep);
        CHECK(ring_spsc_transfer(200000, 64, batches[b], &rep) == BOT4_RING_OK);
        CHECK(rep.sent == 200000 && rep.received == 200000);
        CHECK(rep.out_of_sequence == 0);
        CHECK(rep.last_value == 199999);
    }
}

static void test_mpmc_transfer(void)
{
    ring_mpmc_report rep;
    CHECK(ring_mpmc_transfer(0, 1, 10, 8, 1, &rep) == BOT4_RING_EINVAL);
    CHECK(ring_mpmc_transfer(4, 2, 50000, 64, 8, &rep) == BOT4_RING_OK);
    CHECK(rep.sent == 200000 && rep.received == 200000);
    CHECK(rep.missing == 0 && rep.duplicated == 0 && rep.invalid == 0);
    CHECK(rep.order_violations == 0);
    CHECK(ring_mpmc_transfer(2, 3, 30000, 4, 1, &rep) == BOT4_RING_OK);
    CHECK(rep.received == 60000 && rep.missing == 0 && rep.duplicated == 0);
    CHECK(rep.order_violations == 0);
}

int main(void)
{
    test_create_args();
    test_spsc_full_empty();
    test_spsc_wrap_batches();
    test_spsc_overwrite();
    test_mpmc_single_thread();
    test_spsc_transfer();
    test_mpmc_transfer();
    printf("ring: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
