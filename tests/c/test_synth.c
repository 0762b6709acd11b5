/* test_synth.c - C unit tests for csrc/synth.c, run under ASan/UBSan by `make sanitize`.
 * Covers the PRNG's reference values (xoshiro256** seeded by splitmix64, values from the
 * plain-Python implementation in tests/test_synth.py), regime checks, exact row counts,
 * determinism, chunked generation, and that every emitted message leaves a book rebuilt
 * from the stream uncrossed, with diff ids consecutive and trades at the levels they take.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"
#include "synth.h"

#include "check.h"

static void test_prng_reference(void)
{
    uint64_t s[4];
    bot4_synth_seed(s, 42);
    CHECK(bot4_synth_next(s) == 0x15780b2e0c2ec716ULL);
    CHECK(bot4_synth_next(s) == 0x6104d9866d113a7eULL);
    CHECK(bot4_synth_next(s) == 0xae17533239e499a1ULL);
}

static void test_args(void)
{
    bot4_synth g;
    bot4_synth_regime r;
    CHECK(bot4_synth_regime_params(4, &r) == BOT4_SYNTH_EINVAL);
    CHECK(bot4_synth_regime_params(-1, &r) == BOT4_SYNTH_EINVAL);
    CHECK(bot4_synth_init(&g, 1, 7) == BOT4_SYNTH_EINVAL);
    CHECK(bot4_synth_init(&g, 1, BOT4_SYNTH_BULL) == BOT4_SYNTH_OK);
    bot4_event ev[10];
    CHECK(bot4_synth_generate(&g, ev, 10) == BOT4_SYNTH_EINVAL); /* snapshot does not fit */
    bot4_synth_free(&g);
}

/* Replays rows through a second book, checking each message. */
static void check_stream(const bot4_event *ev, int64_t n)
{
    bot4_book b;
    CHECK(bot4_book_init(&b, BOT4_BOOK_WINDOW_DEFAULT, 1024) == BOT4_BOOK_OK);
    int64_t last_u = 0, trades = 0, crossed = 0, bad_trade = 0, bad_u = 0;
    for (int64_t i = 0; i < n; i++) {
        const bot4_event *e = &ev[i];
        if (e->kind == BOT4_EV_TRADE) {
            int64_t px, q;
            const int taken = e->side == BOT4_SIDE_BID ? BOT4_SIDE_ASK : BOT4_SIDE_BID;
            /* the level traded at exists and holds at least the traded lots */
            if (!bot4_book_best(&b, taken, &px, &q) || bot4_book_depth_at(&b, taken, e->price) < e->qty)
                bad_trade++;
            trades++;
            continue;
        }
        if (e->kind == BOT4_EV_UPDATE && (e->flags & BOT4_EVF_BEGIN)) {
            if (e->seq_first != last_u + 1 || e->seq_last != last_u + 1) bad_u++;
            last_u = e->seq_last;
        }
        bot4_book_update(&b, e->side, e->price, e->qty);
        if ((e->flags & BOT4_EVF_END) && bot4_book_is_crossed(&b)) crossed++;
    }
    CHECK(trades > 0);
    CHECK(bad_trade == 0);
    CHECK(bad_u == 0);
    CHECK(crossed == 0);
    bot4_book_free(&b);
}

static void test_streams(void)
{
    const int64_t n = 60000;
    bot4_event *a = calloc((size_t)n, sizeof *a), *c = calloc((size_t)n, sizeof *c);
    CHECK(a && c);
    if (!a || !c) { free(a); free(c); return; }
    for (int regime = 0; regime < 4; regime++) {
        bot4_synth g;
        CHECK(bot4_synth_init(&g, 99, regime) == BOT4_SYNTH_OK);
        CHECK(bot4_synth_generate(&g, a, n) == BOT4_SYNTH_OK);
        bot4_synth_free(&g);
        CHECK(bot4_synth_init(&g, 99, regime) == BOT4_SYNTH_OK);
        CHECK(bot4_synth_generate(&g, c, n) == BOT4_SYNTH_OK);
        bot4_synth_free(&g);
        CHECK(memcmp(a, c, (size_t)n * sizeof *a) == 0);
        CHECK(a[0].kind == BOT4_EV_SNAPSHOT && (a[0].flags & BOT4_EVF_BEGIN));
        CHECK(a[n - 1].flags & BOT4_EVF_END);
        check_stream(a, n);
        /* chunked generation continues one valid stream */
        CHECK(bot4_synth_init(&g, 5, regime) == BOT4_SYNTH_OK);
        CHECK(bot4_synth_generate(&g, c, 1000) == BOT4_SYNTH_OK);
        for (int64_t k = 1000; k < n; k += 777) {
            const int64_t m = n - k < 777 ? n - k : 777;
            CHECK(bot4_synth_generate(&g, c + k, m) == BOT4_SYNTH_OK);
        }
        bot4_synth_free(&g);
        check_stream(c, n);
    }
    free(a);
    free(c);
}

int main(void)
{
    test_prng_reference();
    test_args();
    test_streams();
    printf("synth: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
