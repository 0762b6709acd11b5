/* test_match.c - unit tests of the matching engine (csrc/match.c) under ASan/UBSan:
 * classic scenarios plus a long random sequence with a full structural check after every
 * operation. Exits non-zero on failure; the last line is "match: N passed, M failed". */
#include "match.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

static bot4_match_fill fills[4096];
static uint32_t nfills;

static bot4_match_result run1(bot4_match *m, bot4_match_op op)
{
    bot4_match_result r;
    uint32_t done;
    int st = bot4_match_run(m, &op, 1, &r, fills, 4096, &done, &nfills);
    CHECK(st == 0 && done == 1);
    CHECK(bot4_match_check(m) == 0);
    return r;
}

static bot4_match_op limit(int64_t id, int side, int64_t price, int64_t qty)
{
    bot4_match_op op;
    memset(&op, 0, sizeof op);
    op.op = BOT4_MATCH_OP_ADD;
    op.id = id;
    op.owner = id;
    op.side = (uint8_t)side;
    op.price = price;
    op.qty = qty;
    return op;
}

static bot4_match_op cancel(int64_t id)
{
    bot4_match_op op;
    memset(&op, 0, sizeof op);
    op.op = BOT4_MATCH_OP_CANCEL;
    op.id = id;
    return op;
}

static void test_scenarios(void)
{
    bot4_match *m = bot4_match_create(64);
    CHECK(m != NULL);
    bot4_match_result r = run1(m, limit(1, BOT4_MATCH_SELL, 101, 5));
    CHECK(r.reason == 0 && r.resting == 5 && nfills == 0);
    r = run1(m, limit(2, BOT4_MATCH_SELL, 101, 3));
    r = run1(m, limit(3, BOT4_MATCH_SELL, 102, 4));
    /* buy 6 at 101: fills id 1 (5) then id 2 (1), price-time priority, at resting price */
    r = run1(m, limit(4, BOT4_MATCH_BUY, 103, 6));
    CHECK(r.reason == 0 && r.filled == 6 && nfills == 2);
    CHECK(fills[0].maker_id == 1 && fills[0].qty == 5 && fills[0].price == 101);
    CHECK(fills[1].maker_id == 2 && fills[1].qty == 1 && fills[1].maker_remaining == 2);
    /* cancel then second cancel fails */
    r = run1(m, cancel(2));
    CHECK(r.reason == 0 && r.cancelled == 2);
    r = run1(m, cancel(2));
    CHECK(r.reason == BOT4_MATCH_R_UNKNOWN_ID);
    /* FOK rejected leaves book untouched */
    bot4_match_op fok = limit(5, BOT4_MATCH_BUY, 102, 5);
    fok.tif = BOT4_MATCH_FOK;
    r = run1(m, fok);
    CHECK(r.reason == BOT4_MATCH_R_FOK_UNFILLABLE);
    int64_t p, q;
    CHECK(bot4_match_best(m, BOT4_MATCH_SELL, &p, &q) == 0 && p == 102 && q == 4);
    fok.qty = 4;
    r = run1(m, fok);
    CHECK(r.reason == 0 && r.filled == 4);
    CHECK(bot4_match_order_count(m) == 0);
    /* book full */
    bot4_match *s = bot4_match_create(1);
    r = run1(s, limit(1, BOT4_MATCH_BUY, 10, 1));
    r = run1(s, limit(2, BOT4_MATCH_BUY, 11, 1));
    CHECK(r.reason == BOT4_MATCH_R_BOOK_FULL);
    bot4_match_destroy(s);
    bot4_match_destroy(m);
}


static void test_random(void)
{
    bot4_match *m = bot4_match_create(512);
    int64_t next_id = 1;
    int bad = 0;
    for (int i = 0; i < 200000 && !bad; i++) {
        bot4_match_op op;
        memset(&op, 0, sizeof op);
        uint64_t r = check_rand();
        int kind = (int)(r % 10);
        if (kind < 6) {
            op = limit(next_id++, (int)((r >> 8) & 1), 1000 + (int64_t)((r >> 16) % 40) - 20,
                       1 + (int64_t)((r >> 24) % 9));
            op.owner = (int64_t)((r >> 32) % 4);
            op.tif = (uint8_t)((r >> 36) % 3);
            op.stp = (uint8_t)((r >> 40) % 4);
            if (((r >> 44) & 7) == 0) {
                op.type = BOT4_MATCH_MARKET;
                op.tif = BOT4_MATCH_IOC;
            }
        } else if (kind < 9) {
            op = cancel(1 + (int64_t)((r >> 8) % (uint64_t)next_id));
        } else {
            op.op = BOT4_MATCH_OP_MODIFY;
            op.id = 1 + (int64_t)((r >> 8) % (uint64_t)next_id);
            op.price = 1000 + (int64_t)((r >> 16) % 40) - 20;
            op.qty = 1 + (int64_t)((r >> 24) % 9);
        }
        bot4_match_result res;
        uint32_t done, nf;
        bot4_match_run(m, &op, 1, &res, fills, 4096, &done, &nf);
        if (bot4_match_check(m) != 0)
            bad = 1;
    }
    CHECK(!bad);
    bot4_match_destroy(m);
}

/* Ids that collide in their low bits (strides of the table size, high-bit patterns) must
 * still be found and deleted correctly. */
static void test_id_patterns(void)
{
    bot4_match *m = bot4_match_create(1024);
    const int64_t strides[] = {1, 2048, 4096, (int64_t)1 << 17, (int64_t)1 << 40, 3};
    int bad = 0;
    for (size_t s = 0; s < sizeof strides / sizeof strides[0]; s++) {
        bot4_match_clear(m);
        for (int64_t k = 1; k <= 1000; k++) {
            bot4_match_result r = run1(m, limit(k * strides[s], BOT4_MATCH_BUY, 100 + k % 7, 1));
            bad |= r.reason != 0;
        }
        for (int64_t k = 1; k <= 1000; k += 2) {
            bot4_match_result r = run1(m, cancel(k * strides[s]));
            bad |= r.reason != 0 || r.cancelled != 1;
        }
        for (int64_t k = 2; k <= 1000; k += 2) {
            int64_t owner, price, qty;
            uint8_t side;
            bad |= bot4_match_get(m, k * strides[s], &owner, &side, &price, &qty) != 0;
        }
        bad |= bot4_match_order_count(m) != 500;
    }
    CHECK(!bad);
    bot4_match_destroy(m);
}

int main(void)
{
    test_id_patterns();
    test_scenarios();
    test_random();
    CHECK(strcmp(bot4_match_reason_name(BOT4_MATCH_R_FOK_UNFILLABLE), "fok_unfillable") == 0);
    printf("match: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
