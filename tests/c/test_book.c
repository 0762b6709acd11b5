/* test_book.c - C unit tests for csrc/book.c, run under ASan/UBSan (make sanitize).
 *
 * A naive reference book (unsorted arrays, linear scans) is driven with the same random
 * operations as bot4_book - near the touch, across a small 4096-tick window, and millions
 * of ticks away - and every query is compared. Then the Binance sequencing rules (every
 * branch of the spot and the futures rule, and the market forced by a setter), the diff
 * buffer ring (a 300k-row stream with no snapshot, messages that wrap, growth while
 * wrapped, all against a model) and batch validation. Exits non-zero on failure; the
 * last line is "book: N passed, M failed".
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

/* Spot rule, every branch: diffs wholly before the snapshot and the one ending at
 * u == lastUpdateId are stale, U == L+1 is the first applied, U != prev u + 1 is a gap,
 * a resync snapshot replays the buffered diffs, and a re-delivered diff is stale. */
static void test_rules_spot(void)
{
    bot4_book b;
    bot4_book_bbo out[64];
    int64_t nout;
    CHECK(bot4_book_init(&b, 4096, 1024) == BOT4_BOOK_OK);
    nrows = 0;
    diff1(0, 90, 1, 90, 95, -1);    /* wholly before L = 100: stale */
    diff1(0, 91, 1, 96, 100, -1);   /* u == L: stale (spot drops u <= L) */
    diff1(0, 92, 1, 101, 103, -1);  /* U == L + 1: the first applied */
    snap2(100, 80, 120);
    diff1(0, 93, 1, 104, 104, -1);  /* U == prev u + 1 */
    diff1(0, 94, 1, 106, 107, -1);  /* 105 missing: gap */
    diff1(0, 95, 1, 108, 109, -1);  /* buffered for the resync */
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 2 && out[0].u == 103 && out[1].u == 104);
    CHECK(b.stats.diffs_stale == 2 && b.stats.gaps == 1 && b.needs_resync && b.pending_msgs == 2);
    CHECK(b.state == BOT4_BOOK_WAIT_SNAPSHOT && b.last_update_id == 104);
    CHECK(bot4_book_depth_at(&b, 0, 90) == 0 && bot4_book_depth_at(&b, 0, 91) == 0);
    CHECK(bot4_book_depth_at(&b, 0, 92) == 1 && bot4_book_depth_at(&b, 0, 93) == 1);
    CHECK(bot4_book_depth_at(&b, 0, 94) == 0);
    /* resync: the gap diff ends at L (stale), the next starts at L + 1 (applied) */
    nrows = 0;
    snap2(107, 81, 121);
    diff1(0, 96, 1, 110, 110, -1);  /* in sequence after 109 */
    diff1(0, 97, 1, 105, 110, -1);  /* re-delivered (u <= 110): stale, not a gap */
    diff1(0, 98, 1, 109, 111, -1);  /* overlaps (U != 111): gap */
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 2 && out[0].u == 109 && out[1].u == 110);
    CHECK(b.stats.resyncs == 1 && b.stats.diffs_stale == 4 && b.stats.gaps == 2);
    CHECK(bot4_book_depth_at(&b, 0, 95) == 1 && bot4_book_depth_at(&b, 0, 96) == 1);
    CHECK(bot4_book_depth_at(&b, 0, 94) == 0 && bot4_book_depth_at(&b, 0, 98) == 0);
    CHECK(bot4_book_depth_at(&b, 0, 92) == 0); /* the resync snapshot replaced the book */
    /* first diff after a snapshot starting past L + 1: a gap; a later straddle with
     * U < L + 1 < u would have applied */
    bot4_book_reset(&b);
    nrows = 0;
    snap2(100, 80, 120);
    diff1(0, 90, 1, 102, 105, -1);
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 0 && b.stats.gaps == 1 && bot4_book_depth_at(&b, 0, 90) == 0);
    bot4_book_reset(&b);
    nrows = 0;
    snap2(100, 80, 120);
    diff1(0, 90, 1, 99, 105, -1);
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 1 && b.stats.gaps == 0 && bot4_book_depth_at(&b, 0, 90) == 1);
    bot4_book_free(&b);
}

/* USD-M/COIN-M rule, every branch (diffs carry pu): u < L stale, u == L is the first
 * applied, U == L + 1 or later is a gap, pu != prev u is a gap, and a resync. */
static void test_rules_futures(void)
{
    bot4_book b;
    bot4_book_bbo out[64];
    int64_t nout;
    CHECK(bot4_book_init(&b, 4096, 1024) == BOT4_BOOK_OK);
    nrows = 0;
    diff1(1, 130, 1, 80, 90, 79);    /* u < L = 100: stale */
    diff1(1, 131, 1, 91, 100, 90);   /* u == L: the first applied (the recording) */
    snap2(100, 80, 120);
    diff1(1, 132, 1, 105, 110, 100); /* pu == prev u (U jumps: futures ids are sparse) */
    diff1(1, 133, 1, 115, 120, 111); /* pu != 110: gap */
    diff1(1, 134, 1, 121, 125, 120); /* buffered */
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 2 && out[0].u == 100 && out[1].u == 110);
    CHECK(b.stats.diffs_stale == 1 && b.stats.gaps == 1 && b.pending_msgs == 2);
    CHECK(bot4_book_depth_at(&b, 1, 130) == 0 && bot4_book_depth_at(&b, 1, 131) == 1);
    CHECK(bot4_book_depth_at(&b, 1, 132) == 1 && bot4_book_depth_at(&b, 1, 133) == 0);
    /* resync at L = 118: the gap diff straddles it (U <= L <= u), then pu continuity */
    nrows = 0;
    snap2(118, 80, 140);
    diff1(1, 135, 1, 126, 126, 125);
    diff1(1, 136, 1, 121, 126, 120); /* re-delivered: pu != 126 is a gap for futures */
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 3 && out[0].u == 120 && out[1].u == 125 && out[2].u == 126);
    CHECK(b.stats.resyncs == 1 && b.stats.gaps == 2 && b.needs_resync);
    CHECK(bot4_book_depth_at(&b, 1, 133) == 1 && bot4_book_depth_at(&b, 1, 135) == 1);
    CHECK(bot4_book_depth_at(&b, 1, 131) == 0);
    /* U == L + 1 is a gap for futures (the first must have U <= L) */
    bot4_book_reset(&b);
    nrows = 0;
    snap2(100, 80, 120);
    diff1(1, 130, 1, 101, 105, 100);
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 0 && b.stats.gaps == 1 && bot4_book_depth_at(&b, 1, 130) == 0);
    /* U < L < u applies; a later diff with u < L is not "stale" once live: pu decides */
    bot4_book_reset(&b);
    nrows = 0;
    snap2(100, 80, 120);
    diff1(1, 130, 1, 95, 105, 94);
    diff1(1, 131, 1, 90, 99, 89);
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 1 && out[0].u == 105 && b.stats.gaps == 1 && b.stats.diffs_stale == 0);
    bot4_book_free(&b);
}

/* The market forced by bot4_book_set_sequencing instead of read from pu. */
static void test_sequencing_modes(void)
{
    bot4_book b;
    bot4_book_bbo out[64];
    int64_t nout;
    CHECK(bot4_book_init(&b, 4096, 1024) == BOT4_BOOK_OK);
    CHECK(b.sequencing == BOT4_BOOK_SEQ_AUTO);
    CHECK(bot4_book_set_sequencing(&b, 3) == BOT4_BOOK_EINVAL && b.sequencing == BOT4_BOOK_SEQ_AUTO);
    CHECK(bot4_book_set_sequencing(&b, BOT4_BOOK_SEQ_SPOT) == BOT4_BOOK_OK);
    nrows = 0;
    snap2(100, 80, 120);
    diff1(0, 90, 1, 96, 100, 95);   /* u == L: stale under spot even with pu */
    diff1(0, 91, 1, 101, 103, 50);  /* pu ignored: U == L + 1 */
    diff1(0, 92, 1, 110, 111, 103); /* pu == prev u, but U != 104: gap under spot */
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 1 && out[0].u == 103 && b.stats.diffs_stale == 1 && b.stats.gaps == 1);
    bot4_book_reset(&b);
    CHECK(b.sequencing == BOT4_BOOK_SEQ_SPOT);
    CHECK(bot4_book_set_sequencing(&b, BOT4_BOOK_SEQ_FUTURES) == BOT4_BOOK_OK);
    nrows = 0;
    snap2(100, 80, 120);
    diff1(0, 90, 1, 96, 100, -1);   /* u == L: the futures straddle, without pu */
    diff1(0, 91, 1, 101, 101, -1);  /* no pu to match: gap */
    CHECK(bot4_book_apply_batch(&b, rows, nrows, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 1 && out[0].u == 100 && b.stats.gaps == 1);
    bot4_book_free(&b);
}

/* ------------------------------------------------------------------ the diff buffer ring */

typedef struct {
    bot4_event *ev;
    int64_t n, cap;
} evbuf;

static void eb_row(evbuf *e, uint8_t kind, uint8_t side, int64_t px, int64_t q, int64_t U,
                   int64_t u, int64_t pu, uint16_t flags)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 1024;
        e->ev = realloc(e->ev, (size_t)e->cap * sizeof(bot4_event));
    }
    bot4_event *r = &e->ev[e->n];
    memset(r, 0, sizeof(*r));
    r->ts_exch = -1;
    r->ts_local = e->n;
    r->kind = kind;
    r->side = side;
    r->price = px;
    r->qty = q;
    r->seq_first = U;
    r->seq_last = u;
    r->seq_prev = pu;
    r->flags = flags;
    e->n++;
}

/* 300,000 one-row diffs and no snapshot through the default 2^18-row buffer: every
 * message costs O(1) (rows copied stay linear in rows received), the oldest are dropped
 * and counted, and the snapshot drains the kept ones in order into the right book. */
static void test_ring_long_stream(void)
{
    const int64_t N = 300000, P = BOT4_BOOK_PENDING_DEFAULT, MID = 1000000;
    bot4_book b;
    CHECK(bot4_book_init(&b, BOT4_BOOK_WINDOW_DEFAULT, P) == BOT4_BOOK_OK);
    evbuf e = {0};
    for (int64_t i = 1; i <= N; i++)
        eb_row(&e, BOT4_EV_UPDATE, 0, MID - i % 3000, i, i, i, -1, BOT4_EVF_BEGIN | BOT4_EVF_END);
    int64_t nout = 0;
    CHECK(bot4_book_apply_batch(&b, e.ev, e.n, NULL, &nout) == BOT4_BOOK_OK);
    CHECK(b.stats.diffs_buffered == N && b.stats.diffs_buffer_dropped == N - P);
    CHECK(b.pending_msgs == P && b.pending_n == P && b.state == BOT4_BOOK_WAIT_SNAPSHOT);
    /* N rows written in, and the ring's growth 1024 -> 2^18 moves < 2^18 rows in all:
     * a buffer that shifted its rows to drop the oldest would move ~N * 2^18 */
    int64_t copied = b.stats.diffs_buffer_rows_copied;
    CHECK(copied >= N && copied <= N + P);
    /* the snapshot's lastUpdateId makes the oldest kept diff (u = N - P + 1) the straddle */
    const int64_t L = N - P;
    int64_t sbp[2] = {MID - 5000, MID - 5001}, sbq[2] = {7, 8}, sap[1] = {MID + 10}, saq[1] = {9};
    bot4_book_bbo *out = malloc((size_t)P * sizeof(*out));
    CHECK(bot4_book_apply_snapshot(&b, sbp, sbq, 2, sap, saq, 1, L, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == P && b.stats.diffs_applied == P && b.stats.gaps == 0 && b.stats.diffs_stale == 0);
    int ordered = 1;
    for (int64_t k = 0; k < nout; k++)
        ordered = ordered && out[k].u == L + 1 + k;
    CHECK(ordered);
    CHECK(b.stats.diffs_buffer_rows_copied == copied); /* one-row messages never wrap */
    CHECK(b.pending_n == 0 && b.pending_msgs == 0 && b.state == BOT4_BOOK_LIVE && b.last_update_id == N);
    /* the book: the snapshot's levels, then per price the last kept diff's quantity */
    int same = bot4_book_level_count(&b, 0) == 3000 + 2 && bot4_book_level_count(&b, 1) == 1;
    for (int64_t r = 0; r < 3000; r++) {
        int64_t last = N - ((N - r) % 3000 + 3000) % 3000; /* largest i <= N, i % 3000 == r */
        same = same && bot4_book_depth_at(&b, 0, MID - r) == last;
    }
    same = same && bot4_book_depth_at(&b, 0, MID - 5000) == 7 && bot4_book_depth_at(&b, 1, MID + 10) == 9;
    CHECK(same);
    CHECK(bot4_book_check(&b) == 0);
    free(out);
    free(e.ev);
    bot4_book_free(&b);
}

/* Messages of 1..5 rows through small rings (so they wrap round the array's end), with
 * a gap among the kept ones: each drop, the drain order, the message that stays buffered
 * after the gap and the final book equal a model - for spot and futures ids. */
static int64_t wrapped_rows; /* rows of wrapped messages copied to scratch, all runs */

static void test_ring_wrap_model(int futures, int64_t P, uint64_t seed)
{
    enum { M = 400 };
    static int64_t mU[M], mu[M], msz[M], mstart[M];
    static int64_t kept[M];
    check_rng = seed;
    bot4_book b;
    CHECK(bot4_book_init(&b, 4096, P) == BOT4_BOOK_OK);
    /* model: drop the oldest whole messages until the new one fits in P rows */
    int64_t nk = 0, head = 0, rows_kept = 0, dropped = 0;
    for (int m = 0; m < M; m++) {
        msz[m] = rnd_in(1, 5);
        if (msz[m] > P) {
            dropped++;
            continue;
        }
        while (rows_kept + msz[m] > P) {
            rows_kept -= msz[kept[head++]];
            dropped++;
        }
        kept[nk++] = m;
        rows_kept += msz[m];
    }
    /* a gap among the kept messages: the middle one does not follow its predecessor */
    const int64_t g = head + (nk - head) / 2;
    const int gap = g > head;
    evbuf e = {0};
    int64_t prev = 1000;
    for (int m = 0; m < M; m++) {
        int breaks = gap && m == kept[g];
        mU[m] = prev + 1 + (futures ? rnd_in(0, 3) : 0) + (!futures && breaks);
        mu[m] = mU[m] + rnd_in(0, 3);
        int64_t pu = futures ? prev - breaks : -1;
        prev = mu[m];
        mstart[m] = e.n;
        for (int64_t k = 0; k < msz[m]; k++) {
            uint16_t fl = (k == 0 ? BOT4_EVF_BEGIN : 0) | (k == msz[m] - 1 ? BOT4_EVF_END : 0);
            int side = (int)(check_rand() & 1);
            int64_t px = side == BOT4_SIDE_BID ? 5000 - rnd_in(0, 60) : 5001 + rnd_in(0, 60);
            eb_row(&e, BOT4_EV_UPDATE, (uint8_t)side, px, rnd_in(0, 3), mU[m], mu[m], pu, fl);
        }
    }
    int64_t nout = 0;
    CHECK(bot4_book_apply_batch(&b, e.ev, e.n, NULL, &nout) == BOT4_BOOK_OK);
    CHECK(b.stats.diffs_buffer_dropped == dropped && b.pending_msgs == nk - head && b.pending_n == rows_kept);
    bot4_book_bbo out[M];
    int64_t bp[1] = {4000}, bq[1] = {1}, ap[1] = {6000}, aq[1] = {1};
    /* two snapshots: the first drains up to the gap, the second (a resync) the rest; each
     * makes the first message it meets the straddle (futures u == L, spot U == L + 1) */
    int64_t from[2] = {head, g}, to[2] = {gap ? g : nk, nk};
    for (int round = 0; round < 1 + gap; round++) {
        int m0 = (int)kept[from[round]];
        int64_t L = futures ? mu[m0] : mU[m0] - 1;
        int64_t before = b.stats.diffs_buffer_rows_copied;
        CHECK(bot4_book_apply_snapshot(&b, bp, bq, 1, ap, aq, 1, L, out, &nout) == BOT4_BOOK_OK);
        CHECK(b.stats.diffs_buffer_rows_copied - before <= rows_kept); /* wrapped messages only */
        wrapped_rows += b.stats.diffs_buffer_rows_copied - before;
        memset(&ref, 0, sizeof(ref));
        ref_update(&ref, 0, 4000, 1);
        ref_update(&ref, 1, 6000, 1);
        int ok = nout == to[round] - from[round];
        for (int64_t k = from[round]; ok && k < to[round]; k++) {
            int m = (int)kept[k];
            ok = out[k - from[round]].u == mu[m];
            for (int64_t r = mstart[m]; r < mstart[m] + msz[m]; r++)
                ref_update(&ref, e.ev[r].side, e.ev[r].price, e.ev[r].qty);
        }
        CHECK(ok);
        compare(&b, &ref);
        /* after a gap the breaking message and the rest stay buffered, in order */
        int more = round == 0 && gap;
        CHECK(b.needs_resync == more && b.stats.gaps == gap && b.stats.resyncs == round);
        CHECK(b.pending_msgs == (more ? nk - g : 0));
    }
    free(e.ev);
    bot4_book_free(&b);
}

/* The ring grows while its rows wrap round the array's end (a drain stopped by a gap
 * left its head mid-array): the rows are unwrapped in order into the larger array. */
static void test_ring_grow_wrapped(void)
{
    bot4_book b;
    CHECK(bot4_book_init(&b, 4096, 3000) == BOT4_BOOK_OK);
    evbuf e = {0};
    /* message i: U = 2i - 1, u = 2i; message 301 starts one id late (a gap) */
    for (int64_t i = 1; i <= 1800; i++) {
        int64_t U = 2 * i - 1 + (i == 301);
        eb_row(&e, BOT4_EV_UPDATE, 0, 10000 - i % 500, i, U, 2 * i, -1, BOT4_EVF_BEGIN | BOT4_EVF_END);
    }
    int64_t nout = 0, bp[1] = {5000}, bq[1] = {1}, ap[1] = {20000}, aq[1] = {1};
    bot4_book_bbo *out = malloc(2000 * sizeof(*out));
    CHECK(bot4_book_apply_batch(&b, e.ev, 600, NULL, &nout) == BOT4_BOOK_OK);
    CHECK(bot4_book_apply_snapshot(&b, bp, bq, 1, ap, aq, 1, 0, out, &nout) == BOT4_BOOK_OK);
    CHECK(nout == 300 && b.needs_resync && b.pending_msgs == 300 && b.pending_head == 300);
    CHECK(b.pending_cap == 1024);
    CHECK(bot4_book_apply_batch(&b, e.ev + 600, 700, NULL, &nout) == BOT4_BOOK_OK);
    CHECK(b.pending_n == 1000 && b.pending_head + b.pending_n > b.pending_cap); /* wrapped */
    int64_t copied = b.stats.diffs_buffer_rows_copied;
    CHECK(bot4_book_apply_batch(&b, e.ev + 1300, 500, NULL, &nout) == BOT4_BOOK_OK);
    CHECK(b.pending_cap == 2048 && b.pending_head == 0 && b.pending_n == 1500);
    /* the 25th row finds the 1024 rows full: they are unwrapped once, then 500 rows in */
    CHECK(b.stats.diffs_buffer_rows_copied - copied == 1024 + 500);
    CHECK(bot4_book_apply_snapshot(&b, bp, bq, 1, ap, aq, 1, 601, out, &nout) == BOT4_BOOK_OK);
    int ok = nout == 1500 && !b.needs_resync && b.stats.gaps == 1 && b.stats.resyncs == 1;
    for (int64_t k = 0; ok && k < nout; k++)
        ok = out[k].u == 2 * (301 + k);
    CHECK(ok);
    memset(&ref, 0, sizeof(ref));
    ref_update(&ref, 0, 5000, 1);
    ref_update(&ref, 1, 20000, 1);
    for (int64_t i = 301; i <= 1800; i++)
        ref_update(&ref, 0, 10000 - i % 500, i);
    compare(&b, &ref);
    free(out);
    free(e.ev);
    bot4_book_free(&b);
}

int main(void)
{
    test_random_levels(4096);
    test_random_levels(1 << 16);
    test_sequencing();
    test_validation();
    test_pending_overflow();
    test_rules_spot();
    test_rules_futures();
    test_sequencing_modes();
    test_ring_long_stream();
    test_ring_grow_wrapped();
    for (int futures = 0; futures < 2; futures++)
        for (int64_t P = 5; P <= 64; P = P * 2 + 1)
            for (uint64_t seed = 1; seed <= 3; seed++)
                test_ring_wrap_model(futures, P, seed * 7919 + (uint64_t)P);
    CHECK(wrapped_rows > 0); /* the drains did meet messages that wrap */
    printf("book: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
