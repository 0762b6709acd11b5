/* test_book.c - C unit tests for csrc/book.c, run under ASan/UBSan (make sanitize).
 *
 * A naive reference book (unsorted arrays, linear scans) is driven with the same random
 * operations as bot4_book - near the touch, across a small 4096-tick window, and millions
 * of ticks away - and every query is compared. Then the Binance sequencing rules, the
 * pre-snapshot buffer and batch validation. Exits non-zero on failure; the last line is
 * "book: N passed, M failed".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"

#include "check.h"

/* ------------------------------------------------------------------ reference book */

#define REF_MAX 100000
typedef struct {
    int64_t px[2][REF_MAX], q[2][REF_MAX];
    int64_t n[2];
} ref_book;

static void ref_update(ref_book *r, int side, int64_t px, int64_t q)
{
    for (int64_t i = 0; i < r->n[side]; i++) {
        if (r->px[side][i] == px) {
            if (q) {
                r->q[side][i] = q;
            } else {
                r->n[side]--;
                r->px[side][i] = r->px[side][r->n[side]];
                r->q[side][i] = r->q[side][r->n[side]];
            }
            return;
        }
    }
    if (q) {
        r->px[side][r->n[side]] = px;
        r->q[side][r->n[side]] = q;
        r->n[side]++;
    }
}

static int better(int side, int64_t a, int64_t b) { return side == BOT4_SIDE_BID ? a > b : a < b; }

/* Levels of a side sorted best first (selection into out arrays). */
static int64_t ref_sorted(const ref_book *r, int side, int64_t *px, int64_t *q)
{
    int64_t n = r->n[side];
    memcpy(px, r->px[side], (size_t)n * sizeof(int64_t));
    memcpy(q, r->q[side], (size_t)n * sizeof(int64_t));
    for (int64_t i = 1; i < n; i++) { /* insertion sort: fine for test sizes */
        int64_t p = px[i], x = q[i], j = i - 1;
        while (j >= 0 && better(side, p, px[j])) {
            px[j + 1] = px[j];
            q[j + 1] = q[j];
            j--;
        }
        px[j + 1] = p;
        q[j + 1] = x;
    }
    return n;
}

static int64_t rnd_in(int64_t lo, int64_t hi) { return lo + (int64_t)(check_rand() % (uint64_t)(hi - lo + 1)); }

static int64_t apx[REF_MAX], aq[REF_MAX], bpx[REF_MAX], bq[REF_MAX];

static void compare(const bot4_book *b, const ref_book *r)
{
    int inv = bot4_book_check(b);
    CHECK(inv == 0);
    if (inv)
        fprintf(stderr, "  invariant %d broken\n", inv);
    for (int side = 0; side < 2; side++) {
        int64_t n = ref_sorted(r, side, apx, aq);
        int ok = bot4_book_level_count(b, side) == n;
        int64_t k = bot4_book_top(b, side, n + 5, bpx, bq);
        ok = ok && k == n;
        for (int64_t i = 0; ok && i < n; i++)
            ok = apx[i] == bpx[i] && aq[i] == bq[i];
        int64_t px, q;
        int has = bot4_book_best(b, side, &px, &q);
        ok = ok && has == (n > 0) && (!has || (px == apx[0] && q == aq[0]));
        /* top_below at present levels and at prices between, around and beyond them */
        for (int64_t i = 0; ok && i < n; i += 1 + n / 9) {
            for (int64_t off = -1; ok && off <= 1; off++) {
                const int64_t price = apx[i] + off;
                int64_t first = 0; /* the first ref level strictly worse than price */
                while (first < n && (side == BOT4_SIDE_BID ? apx[first] >= price : apx[first] <= price))
                    first++;
                int64_t k2 = bot4_book_top_below(b, side, price, 6, bpx, bq);
                ok = k2 == (n - first < 6 ? n - first : 6);
                for (int64_t j = 0; ok && j < k2; j++)
                    ok = bpx[j] == apx[first + j] && bq[j] == aq[first + j];
            }
        }
        if (n) { /* a price better than every level: the whole top */
            int64_t k2 = bot4_book_top_below(b, side, side == BOT4_SIDE_BID ? apx[0] + 100000000 : 1, 3, bpx, bq);
            ok = ok && k2 == (n < 3 ? n : 3) && bpx[0] == apx[0];
        }
        /* depth at every level and at a few absent prices */
        for (int64_t i = 0; ok && i < n; i += 7)
            ok = bot4_book_depth_at(b, side, apx[i]) == aq[i];
        /* fill: a quantity that spans several levels */
        int64_t want = 0;
        for (int64_t i = 0; i < n && i < 5; i++)
            want += aq[i];
        want += 3;
        int64_t filled, hi, levels;
        uint64_t lo;
        bot4_book_fill(b, side, want, &filled, &hi, &lo, &levels);
        __int128 notional = 0;
        int64_t left = want, lv = 0;
        for (int64_t i = 0; i < n && left > 0; i++, lv++) {
            int64_t t = aq[i] < left ? aq[i] : left;
            notional += (__int128)apx[i] * t;
            left -= t;
        }
        __int128 got = ((__int128)hi << 64) | (__int128)lo;
        ok = ok && filled == want - left && levels == lv && got == notional;
        CHECK(ok);
        if (!ok) {
            fprintf(stderr, "  side %d: ref %lld levels, book %lld\n", side, (long long)n,
                    (long long)bot4_book_level_count(b, side));
            return;
        }
    }
}

static ref_book ref;

static void test_random_levels(int64_t window)
{
    bot4_book b;
    CHECK(bot4_book_init(&b, window, 1024) == BOT4_BOOK_OK);
    memset(&ref, 0, sizeof(ref));
    int64_t touch = 50000000;
    for (int step = 0; step < 60000; step++) {
        touch += rnd_in(-30, 30);
        int side = (int)(check_rand() & 1);
        int64_t r = rnd_in(0, 99), d;
        if (r < 60)
            d = rnd_in(0, 40);
        else if (r < 92)
            d = rnd_in(0, 9000);
        else
            d = rnd_in(1000000, 20000000);
        int64_t px = side == BOT4_SIDE_BID ? touch - d : touch + 1 + d;
        int64_t q = rnd_in(0, 99) < 35 ? 0 : rnd_in(1, 1000000);
        if (ref.n[side] >= REF_MAX - 1)
            q = 0;
        CHECK(bot4_book_update(&b, side, px, q) == BOT4_BOOK_OK);
        ref_update(&ref, side, px, q);
        if (step % 3000 == 0)
            compare(&b, &ref);
        if (step % 20000 == 19999) { /* wipe a side from the touch down: window follows */
            int64_t n = ref_sorted(&ref, side, apx, aq);
            for (int64_t i = 0; i < n; i++) {
                bot4_book_update(&b, side, apx[i], 0);
                ref_update(&ref, side, apx[i], 0);
            }
            compare(&b, &ref);
        }
    }
    compare(&b, &ref);
    bot4_book_reset(&b);
    CHECK(bot4_book_level_count(&b, 0) == 0 && bot4_book_level_count(&b, 1) == 0);
    bot4_book_free(&b);
}

/* ------------------------------------------------------------------ sequencing */

static int64_t nrows;
static bot4_event rows[64];

static void add(uint8_t kind, uint8_t side, int64_t px, int64_t q, int64_t U, int64_t u, int64_t pu,
                uint16_t flags)
{
    bot4_event *e = &rows[nrows];
    memset(e, 0, sizeof(*e));
    e->ts_exch = -1;
    e->ts_local = nrows;
    e->kind = kind;
    e->side = side;
    e->price = px;
    e->qty = q;
    e->seq_first = U;
    e->seq_last = u;
    e->seq_prev = pu;
    e->flags = flags;
    nrows++;
}

static void diff1(uint8_t side, int64_t px, int64_t q, int64_t U, int64_t u, int64_t pu)
{
    add(BOT4_EV_UPDATE, side, px, q, U, u, pu, BOT4_EVF_BEGIN | BOT4_EVF_END);
}

static void snap2(int64_t L, int64_t bid, int64_t ask)
{
    add(BOT4_EV_SNAPSHOT, BOT4_SIDE_BID, bid, 1, -1, L, -1, BOT4_EVF_BEGIN);
    add(BOT4_EV_SNAPSHOT, BOT4_SIDE_ASK, ask, 1, -1, L, -1, BOT4_EVF_END);
}

static void test_sequencing(void)
{
    bot4_book b;
    bot4_book_bbo out[64];
    bot4_book_verr err;
    int64_t nd, nout;
    CHECK(bot4_book_init(&b, 4096, 1024) == BOT4_BOOK_OK);
    nrows = 0;
    diff1(0, 90, 1, 90, 99, -1);    /* stale once the snapshot (L=101) arrives */
    diff1(0, 91, 1, 100, 104, -1);  /* straddles 102: applied from the buffer */
    snap2(101, 95, 105);
    diff1(0, 92, 1, 105, 106, -1);  /* in sequence */
    diff1(0, 93, 1, 108, 109, -1);  /* gap (107 missing) */
    diff1(0, 94, 1, 110, 110, -1);  /* buffered */
    add(BOT4_EV_TRADE, 0, 95, 1, -1, 7, -1, BOT4_EVF_BEGIN | BOT4_EVF_END);
    CHECK(bot4_book_validate_batch(rows, nrows, &err, &nd) == BOT4_BOOK_OK && nd == 5);
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 2 && out[0].u == 104 && out[1].u == 106);
    CHECK(out[1].bid_price == 95 && out[1].ask_price == 105 && out[1].ask_qty == 1);
    CHECK(b.stats.gaps == 1 && b.needs_resync && b.stats.diffs_stale == 1);
    CHECK(b.stats.diffs_buffered == 4 && b.pending_msgs == 2 && b.stats.rows_skipped == 1);
    CHECK(bot4_book_depth_at(&b, 0, 93) == 0 && bot4_book_depth_at(&b, 0, 92) == 1);
    /* resync */
    nrows = 0;
    snap2(108, 80, 120);
    CHECK(bot4_book_validate_batch(rows, nrows, &err, &nd) == BOT4_BOOK_OK && nd == 0);
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 2 && out[0].u == 109 && out[1].u == 110);
    CHECK(!b.needs_resync && b.stats.resyncs == 1 && b.state == BOT4_BOOK_LIVE);
    CHECK(bot4_book_depth_at(&b, 0, 93) == 1 && bot4_book_depth_at(&b, 0, 94) == 1);
    /* futures: pu continuity */
    nrows = 0;
    diff1(1, 121, 5, 500, 600, 110);
    diff1(1, 122, 5, 601, 700, 599);   /* pu != 600: gap */
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 1 && b.stats.gaps == 2 && bot4_book_depth_at(&b, 1, 122) == 0);
    bot4_book_free(&b);
}

static void test_validation(void)
{
    bot4_book_verr err;
    int64_t nd;
    nrows = 0;
    snap2(10, 100, 101);
    diff1(0, 99, 1, 11, 11, -1);
    rows[2].price = 0;
    CHECK(bot4_book_validate_batch(rows, nrows, &err, &nd) == BOT4_BOOK_EINVAL);
    CHECK(err.row == 2 && err.reason == BOT4_BOOK_V_PRICE && err.value == 0);
    rows[2].price = 99;
    rows[1].price = 100; /* crossed snapshot */
    CHECK(bot4_book_validate_batch(rows, nrows, &err, &nd) == BOT4_BOOK_EINVAL);
    CHECK(err.row == 1 && err.reason == BOT4_BOOK_V_SNAP_CROSSED);
    rows[1].price = 101;
    rows[2].ts_local = -5;
    CHECK(bot4_book_validate_batch(rows, nrows, &err, &nd) == BOT4_BOOK_EINVAL);
    CHECK(err.row == 2 && err.reason == BOT4_BOOK_V_TS_UNSORTED);
    rows[2].ts_local = 2;
    rows[1].flags = 0; /* snapshot not closed when the diff begins */
    CHECK(bot4_book_validate_batch(rows, nrows, &err, &nd) == BOT4_BOOK_EINVAL);
    CHECK(err.row == 2 && err.reason == BOT4_BOOK_V_NESTED);
    rows[1].flags = BOT4_EVF_END;
    rows[2].flags = BOT4_EVF_BEGIN; /* batch ends inside the diff */
    CHECK(bot4_book_validate_batch(rows, nrows, &err, &nd) == BOT4_BOOK_EINVAL);
    CHECK(err.row == 2 && err.reason == BOT4_BOOK_V_UNTERMINATED);
    rows[2].flags = BOT4_EVF_BEGIN | BOT4_EVF_END;
    rows[2].kind = 9;
    CHECK(bot4_book_validate_batch(rows, nrows, &err, &nd) == BOT4_BOOK_EINVAL);
    CHECK(err.row == 2 && err.reason == BOT4_BOOK_V_KIND);
    rows[2].kind = BOT4_EV_UPDATE;
    CHECK(bot4_book_validate_batch(rows, nrows, &err, &nd) == BOT4_BOOK_OK && nd == 1);
    bot4_book b;
    CHECK(bot4_book_init(&b, 1000, 10) == BOT4_BOOK_EINVAL);
    CHECK(bot4_book_init(&b, 4096, 0) == BOT4_BOOK_EINVAL);
}

static void test_pending_overflow(void)
{
    bot4_book b;
    bot4_book_bbo out[64];
    int64_t nout;
    /* room for 3 one-row diffs: 6..8 are kept, 6 straddles L+1 = 6 */
    CHECK(bot4_book_init(&b, 4096, 3) == BOT4_BOOK_OK);
    nrows = 0;
    for (int i = 1; i <= 8; i++)
        diff1(0, 100 - i, 1, i, i, -1);
    snap2(5, 200, 300);
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(b.stats.diffs_buffer_dropped == 5 && b.stats.diffs_stale == 0);
    CHECK(b.stats.gaps == 0 && nout == 3 && out[0].u == 6 && out[2].u == 8);
    bot4_book_free(&b);
    /* room for 2: 7..8 kept, 7 does not straddle 6 -> a gap, re-buffered */
    CHECK(bot4_book_init(&b, 4096, 2) == BOT4_BOOK_OK);
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(b.stats.diffs_buffer_dropped == 6 && b.stats.gaps == 1 && nout == 0);
    CHECK(b.needs_resync && b.pending_msgs == 2);
    bot4_book_free(&b);
}

int main(void)
{
    test_random_levels(4096);
    test_random_levels(1 << 16);
    test_sequencing();
    test_validation();
    test_pending_overflow();
    printf("book: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
