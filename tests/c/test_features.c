/* test_features.c - C unit tests for csrc/micro_features.c, run under ASan/UBSan by
 * `make sanitize`. Covers parameter checks, a hand-worked two-level book (spread, mid,
 * microprice, imbalance, OFI, touch ages, cancel removal), tape features on a few trades,
 * VPIN buckets split across a boundary, output-capacity errors of the batch driver, and,
 * on a synthetic stream with tiny windows (every ring wraps many times), window sums
 * against brute-force recomputation from the level trace; the top levels patched from
 * random diff messages (deep deletes, thin sides, multi-row messages) against the book's
 * own top after each message; the levels-driven batch against the book-driven one; the
 * level checks; running totals that wrap; the OFI and touch_volume SIMD bodies.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"
#include "micro_features.h"
#include "simd.h"
#include "synth.h"

#include "check.h"

static bot4_features_params defaults(void)
{
    bot4_features_params p = {.ofi_window = 100, .kyle_window = 200, .rv_window = 200,
                              .cancel_short = 20, .cancel_long = 500, .trade_window = 64,
                              .bvc_window = 200, .vpin_bucket = 100, .vpin_buckets = 50,
                              .momentum_lag = 10};
    return p;
}

static bot4_event mk(int64_t ts, int kind, int side, int64_t px, int64_t q, int flags, int64_t u)
{
    bot4_event e;
    memset(&e, 0, sizeof e);
    e.ts_exch = ts; e.ts_local = ts; e.price = px; e.qty = q;
    e.seq_first = kind == BOT4_EV_UPDATE ? u : BOT4_SEQ_NONE;
    e.seq_last = u; e.seq_prev = BOT4_SEQ_NONE;
    e.kind = (uint8_t)kind; e.side = (uint8_t)side; e.flags = (uint16_t)flags;
    return e;
}

static void test_params(void)
{
    bot4_features_params p = defaults();
    bot4_features f;
    CHECK(bot4_features_params_check(&p) == BOT4_FEATURES_OK);
    p.ofi_window = 0;
    CHECK(bot4_features_init(&f, &p) == BOT4_FEATURES_EINVAL);
    p = defaults(); p.cancel_short = 600;
    CHECK(bot4_features_params_check(&p) == BOT4_FEATURES_EINVAL);
    p = defaults(); p.vpin_bucket = 0;
    CHECK(bot4_features_params_check(&p) == BOT4_FEATURES_EINVAL);
    p = defaults(); p.momentum_lag = ((int64_t)1 << 24) + 1;
    CHECK(bot4_features_params_check(&p) == BOT4_FEATURES_EINVAL);
}

static void test_hand_worked(void)
{
    bot4_event ev[9];
    int k = 0;
    ev[k++] = mk(1000, BOT4_EV_SNAPSHOT, BOT4_SIDE_BID, 100, 10, BOT4_EVF_BEGIN, 0);
    ev[k++] = mk(1000, BOT4_EV_SNAPSHOT, BOT4_SIDE_BID, 99, 5, 0, 0);
    ev[k++] = mk(1000, BOT4_EV_SNAPSHOT, BOT4_SIDE_ASK, 101, 30, 0, 0);
    ev[k++] = mk(1000, BOT4_EV_SNAPSHOT, BOT4_SIDE_ASK, 102, 1, BOT4_EVF_END, 0);
    /* a seller hits the bid for 4 lots, a buyer lifts 101 for 60 */
    ev[k++] = mk(2000, BOT4_EV_TRADE, BOT4_SIDE_ASK, 100, 4, BOT4_EVF_BEGIN | BOT4_EVF_END, 1);
    ev[k++] = mk(2500, BOT4_EV_TRADE, BOT4_SIDE_BID, 101, 60, BOT4_EVF_BEGIN | BOT4_EVF_END, 2);
    /* diff u=1: bid 100 -> 3 (7 removed, 4 of them traded), ask 101 -> 0 (30 removed, 60 traded) */
    ev[k++] = mk(3000, BOT4_EV_UPDATE, BOT4_SIDE_BID, 100, 3, BOT4_EVF_BEGIN, 1);
    ev[k++] = mk(3000, BOT4_EV_UPDATE, BOT4_SIDE_ASK, 101, 0, BOT4_EVF_END, 1);
    ev[k++] = mk(4000, BOT4_EV_TRADE, BOT4_SIDE_BID, 102, 50, BOT4_EVF_BEGIN | BOT4_EVF_END, 3);
    bot4_features_params p = defaults();
    bot4_features f;
    bot4_book b;
    CHECK(bot4_features_init(&f, &p) == BOT4_FEATURES_OK);
    CHECK(bot4_book_init(&b, BOT4_BOOK_WINDOW_MIN, 16) == BOT4_BOOK_OK);
    double out[4][BOT4_F_N];
    int64_t rows[4], n_out = -1;
    CHECK(bot4_features_run(&f, &b, ev, k, 1, 0, &out[0][0], rows, 4, &n_out, NULL, 0, NULL, NULL) ==
          BOT4_FEATURES_EINVAL); /* 5 sample points, room for 4 */
    CHECK(n_out == 4);
    bot4_features_reset(&f);
    bot4_book_reset(&b);
    double o[8][BOT4_F_N];
    int64_t r8[8];
    CHECK(bot4_features_run(&f, &b, ev, k, 1, 0, &o[0][0], r8, 8, &n_out, NULL, 0, NULL, NULL) == BOT4_FEATURES_OK);
    CHECK(n_out == 5);
    CHECK(r8[0] == 3 && r8[1] == 4 && r8[2] == 5 && r8[3] == 7 && r8[4] == 8);
    const double *s0 = o[0], *s3 = o[3], *s4 = o[4];
    CHECK(s0[BOT4_F_SPREAD] == 1.0 && s0[BOT4_F_MID] == 100.5);
    CHECK(s0[BOT4_F_MICRO] == (100.0 * 30 + 101.0 * 10) / 40.0);
    CHECK(s0[BOT4_F_IMB1] == (10.0 - 30.0) / 40.0 && s0[BOT4_F_IMB1 + 1] == (5.0 - 1.0) / 6.0);
    CHECK(s0[BOT4_F_OFI1] == 10.0 - 30.0);
    CHECK(isnan(s0[BOT4_F_MICRO_MOM]) && isnan(s0[BOT4_F_VPIN_BVC]));
    /* after the diff: bid 100x3, ask 102x1; e_1 = (3-10) - 0 + 30 */
    CHECK(s3[BOT4_F_SPREAD] == 2.0 && s3[BOT4_F_OFI1] == (10.0 - 30.0) + (3.0 - 10.0 + 30.0));
    /* level 2: bid 99x5 -> 99x5 (e=0); ask 102x1 -> gone (e = +1) */
    CHECK(s3[BOT4_F_OFI1 + 1] == (5.0 - 1.0) + 1.0);
    CHECK(s3[BOT4_F_BID_AGE] == (3000 - 1000) * 1e-9 && s3[BOT4_F_ASK_AGE] == 0.0);
    /* signed volume -4 + 60; two trades over 3000 - 2000 ns (floored to 1 us) */
    CHECK(s3[BOT4_F_SIGNED_VOL] == 56.0);
    CHECK(s3[BOT4_F_TRADE_RATE] == 2.0 / 1000.0 * 1e9);
    /* cancel: bid removed 7 - 4 traded = 3 unexplained; ask removed 30, 60 traded -> 0;
     * one message with removals in both windows -> equal rates -> burst 1 */
    CHECK(s3[BOT4_F_CANCEL_BURST] == 1.0);
    /* 64 lots traded, then 50 more: one full bucket of 100 -> VPIN defined after the last */
    CHECK(isnan(s3[BOT4_F_VPIN_AGGR]));
    /* bucket: 4 sell + 60 buy + 36 of the last buy = 96 buy, 4 sell -> |96 - 4| / 100 */
    CHECK(fabs(s4[BOT4_F_VPIN_AGGR] - 0.92) < 1e-15);
    CHECK(s4[BOT4_F_QAHEAD_BID] == 3.0 && s4[BOT4_F_QAHEAD_ASK] == 1.0);
    /* the last buy traded at 102 = best ask: ask fill rate 50 lots over 4000-2000 ns */
    CHECK(s4[BOT4_F_ETA_ASK] == 1.0 / (50.0 / 2000.0 * 1e9));
    /* the 4 lots sold at 100 (still the best bid) give the bid fill rate */
    CHECK(s4[BOT4_F_ETA_BID] == 3.0 / (4.0 / 2000.0 * 1e9));
    bot4_book_free(&b);
    bot4_features_free(&f);
}

/* Window sums against brute force over the level trace, with tiny windows. */
static void test_window_sums_wrap(void)
{
    const int64_t n = 20000;
    bot4_event *ev = calloc((size_t)n, sizeof *ev);
    bot4_features_levels *tr = calloc((size_t)n, sizeof *tr);
    double *out = calloc((size_t)n * BOT4_F_N, sizeof *out);
    int64_t *rows = calloc((size_t)n, sizeof *rows);
    CHECK(ev && tr && out && rows);
    if (!ev || !tr || !out || !rows) goto done;
    bot4_synth g;
    CHECK(bot4_synth_init(&g, 3, BOT4_SYNTH_CRISIS) == BOT4_SYNTH_OK);
    CHECK(bot4_synth_generate(&g, ev, n) == BOT4_SYNTH_OK);
    bot4_synth_free(&g);
    bot4_features_params p = defaults();
    p.ofi_window = 3; p.kyle_window = 4; p.rv_window = 5; p.cancel_short = 2; p.cancel_long = 6;
    p.trade_window = 3; p.bvc_window = 4; p.vpin_buckets = 2; p.momentum_lag = 2;
    bot4_features f;
    bot4_book b;
    CHECK(bot4_features_init(&f, &p) == BOT4_FEATURES_OK);
    CHECK(bot4_book_init(&b, BOT4_BOOK_WINDOW_DEFAULT, 16) == BOT4_BOOK_OK);
    int64_t n_out = 0, n_tr = 0;
    CHECK(bot4_features_run(&f, &b, ev, n, 1, 0, out, rows, n, &n_out, tr, n, &n_tr, NULL) == BOT4_FEATURES_OK);
    /* after the last row: OFI level 1 over the last 3 messages, by brute force */
    int64_t want = 0;
    for (int64_t m = n_tr - 3; m < n_tr; m++) {
        const bot4_features_levels *c = &tr[m], *pv = &tr[m - 1];
        const int64_t pa = c->ask_qty[0] ? c->ask_px[0] : INT64_MAX, pa0 = pv->ask_qty[0] ? pv->ask_px[0] : INT64_MAX;
        want += (c->bid_px[0] >= pv->bid_px[0] ? c->bid_qty[0] : 0) -
                (c->bid_px[0] <= pv->bid_px[0] ? pv->bid_qty[0] : 0) -
                (pa <= pa0 ? c->ask_qty[0] : 0) + (pa >= pa0 ? pv->ask_qty[0] : 0);
    }
    CHECK(out[(n_out - 1) * BOT4_F_N + BOT4_F_OFI1] == (double)want);
    /* realized vol over the last 5 messages */
    int64_t yy = 0;
    for (int64_t m = n_tr - 5; m < n_tr; m++) {
        const int64_t y = (tr[m].bid_px[0] + tr[m].ask_px[0]) - (tr[m - 1].bid_px[0] + tr[m - 1].ask_px[0]);
        yy += y * y;
    }
    const double mid = 0.5 * (double)(tr[n_tr - 1].bid_px[0] + tr[n_tr - 1].ask_px[0]);
    CHECK(out[(n_out - 1) * BOT4_F_N + BOT4_F_RV] == 0.5 * sqrt((double)yy) / mid);
    /* momentum: microprice 2 decision points back */
    CHECK(out[(n_out - 1) * BOT4_F_N + BOT4_F_MICRO_MOM] ==
          out[(n_out - 1) * BOT4_F_N + BOT4_F_MICRO] - out[(n_out - 3) * BOT4_F_N + BOT4_F_MICRO]);
    int finite_vpin = 0;
    for (int64_t i = 0; i < n_out; i++) finite_vpin += isfinite(out[i * BOT4_F_N + BOT4_F_VPIN_BVC]);
    CHECK(finite_vpin > n_out / 2);
    bot4_book_free(&b);
    bot4_features_free(&f);
done:
    free(ev); free(tr); free(out); free(rows);
}

/* Random diff messages on a thin, busy top (1-6 rows, mostly inside the top 5, deletes
 * that pull levels up from below, sides emptied and refilled): the trace the batch driver
 * patches from the rows equals the top read from a second book after every message. */
static void test_patched_top_equals_book(void)
{
    enum { N = 40000 };
    bot4_event *ev = calloc(N, sizeof *ev);
    bot4_features_levels *tr = calloc(N, sizeof *tr);
    double out[BOT4_F_N];
    int64_t row;
    CHECK(ev && tr);
    if (!ev || !tr) goto done;
    uint64_t x = 99;
    int64_t n = 0, u = 0, ts = 1;
    const int64_t mid = 100000;
    ev[n++] = mk(ts, BOT4_EV_SNAPSHOT, BOT4_SIDE_BID, mid - 1, 5, BOT4_EVF_BEGIN, 0);
    ev[n++] = mk(ts, BOT4_EV_SNAPSHOT, BOT4_SIDE_ASK, mid + 1, 5, BOT4_EVF_END, 0);
    while (n < N - 8) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        u++; ts++;
        if ((x >> 45) % 150 == 0 && n + 60 < N - 8) { /* wipe one side's 48 nearest prices */
            const int side = (int)((x >> 21) & 1);
            for (int64_t d = 0; d < 48; d++)
                ev[n++] = mk(ts, BOT4_EV_UPDATE, side, side == BOT4_SIDE_BID ? mid - 1 - d : mid + 1 + d, 0,
                             (d == 0 ? BOT4_EVF_BEGIN : 0) | (d == 47 ? BOT4_EVF_END : 0), u);
            for (int64_t d = 0; d < 48; d++) ev[n - 48 + d].seq_first = u;
            continue;
        }
        const int rows_in_msg = 1 + (int)((x >> 33) % 6);
        for (int r = 0; r < rows_in_msg; r++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            const int side = (int)((x >> 20) & 1);
            const int64_t depth = (x >> 40) % 16 == 0 ? 8 + (int64_t)((x >> 24) % 40) : (int64_t)((x >> 24) % 9);
            const int64_t px = side == BOT4_SIDE_BID ? mid - 1 - depth : mid + 1 + depth;
            const int64_t q = (x >> 50) % 5 < 2 ? 0 : 1 + (int64_t)((x >> 8) % 1000);
            const int flags = (r == 0 ? BOT4_EVF_BEGIN : 0) | (r == rows_in_msg - 1 ? BOT4_EVF_END : 0);
            ev[n] = mk(ts, BOT4_EV_UPDATE, side, px, q, flags, u);
            ev[n].seq_first = u;
            n++;
        }
    }
    bot4_book_verr err;
    int64_t diffs = 0;
    CHECK(bot4_book_validate_batch(ev, n, &err, &diffs) == BOT4_BOOK_OK);
    bot4_features_params p = defaults();
    bot4_features f;
    bot4_book b, ref;
    CHECK(bot4_features_init(&f, &p) == BOT4_FEATURES_OK);
    CHECK(bot4_book_init(&b, BOT4_BOOK_WINDOW_MIN, 16) == BOT4_BOOK_OK);
    CHECK(bot4_book_init(&ref, BOT4_BOOK_WINDOW_MIN, 16) == BOT4_BOOK_OK);
    int64_t n_out = 0, n_tr = 0;
    CHECK(bot4_features_run(&f, &b, ev, n, n + 1, 0, out, &row, 1, &n_out, tr, N, &n_tr, NULL) == BOT4_FEATURES_OK);
    CHECK(n_tr == diffs + 1);
    int64_t start = 0, m = 0, bad = 0, thin = 0;
    for (int64_t i = 0; i < n && m < n_tr; i++) {
        if (!(ev[i].flags & BOT4_EVF_END)) continue;
        int64_t nb;
        CHECK(bot4_book_apply_batch(&ref, ev + start, i - start + 1, NULL, &nb) == BOT4_BOOK_OK);
        start = i + 1;
        bot4_features_levels want;
        memset(&want, 0, sizeof want);
        const int64_t kb = bot4_book_top(&ref, BOT4_SIDE_BID, 5, want.bid_px, want.bid_qty);
        bot4_book_top(&ref, BOT4_SIDE_ASK, 5, want.ask_px, want.ask_qty);
        thin += kb < 5;
        bad += memcmp(want.bid_px, tr[m].bid_px, sizeof want - sizeof want.ts) != 0;
        m++;
    }
    CHECK(bad == 0);
    CHECK(thin > 100); /* the walk did exercise sides with fewer than 5 levels */
    bot4_book_free(&b);
    bot4_book_free(&ref);
    bot4_features_free(&f);
done:
    free(ev); free(tr);
}

/* run_levels on a trace gives the vectors of the book-driven run bit for bit; the level
 * checks name each malformation. */
static void test_run_levels(void)
{
    const int64_t n = 30000;
    bot4_event *ev = calloc((size_t)n, sizeof *ev);
    bot4_features_levels *tr = calloc((size_t)n, sizeof *tr);
    double *o1 = calloc((size_t)n * BOT4_F_N, sizeof *o1), *o2 = calloc((size_t)n * BOT4_F_N, sizeof *o2);
    int64_t *r1 = calloc((size_t)n, sizeof *r1), *r2 = calloc((size_t)n, sizeof *r2);
    CHECK(ev && tr && o1 && o2 && r1 && r2);
    if (!ev || !tr || !o1 || !o2 || !r1 || !r2) goto done;
    bot4_synth g;
    CHECK(bot4_synth_init(&g, 8, BOT4_SYNTH_BEAR) == BOT4_SYNTH_OK);
    CHECK(bot4_synth_generate(&g, ev, n) == BOT4_SYNTH_OK);
    bot4_synth_free(&g);
    bot4_features_params p = defaults();
    bot4_features f;
    bot4_book b;
    int64_t n1 = 0, n2 = 0, n_tr = 0;
    CHECK(bot4_features_init(&f, &p) == BOT4_FEATURES_OK);
    CHECK(bot4_book_init(&b, BOT4_BOOK_WINDOW_DEFAULT, 16) == BOT4_BOOK_OK);
    CHECK(bot4_features_run(&f, &b, ev, n, 7, 0, o1, r1, n, &n1, tr, n, &n_tr, NULL) == BOT4_FEATURES_OK);
    bot4_book_free(&b);
    bot4_features_reset(&f);
    int64_t row; int side, level, reason;
    CHECK(bot4_features_levels_check(tr, n_tr, &row, &side, &level, &reason) == BOT4_FEATURES_OK);
    bot4_features_fault fault;
    CHECK(bot4_features_run_levels(&f, ev, n, tr, n_tr, 7, 0, o2, r2, n, &n2, &fault) == BOT4_FEATURES_OK);
    CHECK(fault.source == BOT4_FEATURES_FAULT_NONE);
    CHECK(n1 == n2 && n1 > 1000);
    CHECK(memcmp(r1, r2, (size_t)n1 * sizeof *r1) == 0);
    int differ = 0;
    for (int64_t i = 0; i < n1 * BOT4_F_N; i++)
        differ += !(o1[i] == o2[i] || (isnan(o1[i]) && isnan(o2[i])));
    CHECK(differ == 0);
    /* too few levels for the messages */
    bot4_features_reset(&f);
    CHECK(bot4_features_run_levels(&f, ev, n, tr, n_tr - 1, 7, 0, o2, r2, n, &n2, NULL) == BOT4_FEATURES_EINVAL);
    /* a malformed levels row stops a checking run at that row */
    bot4_features_reset(&f);
    const int64_t keep = tr[500].ask_qty[1];
    tr[500].ask_qty[1] = -3;
    CHECK(bot4_features_run_levels(&f, ev, n, tr, n_tr, 7, 0, o2, r2, n, &n2, &fault) == BOT4_FEATURES_EBADINPUT);
    CHECK(fault.source == BOT4_FEATURES_FAULT_LEVELS && fault.row == 500 && fault.side == BOT4_SIDE_ASK &&
          fault.level == 1 && fault.reason == BOT4_FEATURES_LV_QTY);
    tr[500].ask_qty[1] = keep;
    /* a checking book-driven run: same vectors as the unchecked one; a bad event row (and a
     * message left open at the end) stop it with the batch validator's row and reason */
    bot4_features_reset(&f);
    CHECK(bot4_book_init(&b, BOT4_BOOK_WINDOW_DEFAULT, 16) == BOT4_BOOK_OK);
    CHECK(bot4_features_run(&f, &b, ev, n, 7, 0, o2, r2, n, &n2, NULL, 0, NULL, &fault) == BOT4_FEATURES_OK);
    CHECK(n2 == n1 && memcmp(o1, o2, (size_t)n1 * BOT4_F_N * sizeof *o1) == 0);
    bot4_book_free(&b);
    const int64_t bad_rows[3] = {3, 5000, n - 1};
    for (int t = 0; t < 3; t++) {
        const int64_t r0 = bad_rows[t];
        const int64_t keep_q = ev[r0].qty;
        ev[r0].qty = -1;
        bot4_book_verr want;
        int64_t diffs;
        CHECK(bot4_book_validate_batch(ev, n, &want, &diffs) == BOT4_BOOK_EINVAL);
        bot4_features_reset(&f);
        CHECK(bot4_book_init(&b, BOT4_BOOK_WINDOW_DEFAULT, 16) == BOT4_BOOK_OK);
        CHECK(bot4_features_run(&f, &b, ev, n, 7, 0, o2, r2, n, &n2, NULL, 0, NULL, &fault) == BOT4_FEATURES_EBADINPUT);
        CHECK(fault.source == BOT4_FEATURES_FAULT_EVENTS && fault.row == want.row && want.row == r0 &&
              fault.reason == want.reason && fault.value == -1);
        bot4_book_free(&b);
        ev[r0].qty = keep_q;
    }
    /* the last book message never ends: reported at its first row */
    int64_t last_book = n - 1;
    while (ev[last_book].kind > BOT4_EV_UPDATE) last_book--;
    int64_t last_begin = last_book;
    while (!(ev[last_begin].flags & BOT4_EVF_BEGIN)) last_begin--;
    const uint16_t keep_flags = ev[last_book].flags;
    ev[last_book].flags = (uint16_t)(keep_flags & ~BOT4_EVF_END);
    bot4_features_reset(&f);
    CHECK(bot4_book_init(&b, BOT4_BOOK_WINDOW_DEFAULT, 16) == BOT4_BOOK_OK);
    CHECK(bot4_features_run(&f, &b, ev, last_book + 1, 7, 0, o2, r2, n, &n2, NULL, 0, NULL, &fault) ==
          BOT4_FEATURES_EBADINPUT);
    CHECK(fault.row == last_begin && fault.reason == BOT4_BOOK_V_UNTERMINATED);
    bot4_book_free(&b);
    ev[last_book].flags = keep_flags;
    bot4_features_free(&f);
    /* each malformation, on a copy of one good row */
    bot4_features_levels lv[1];
    const struct { int field; int k; int64_t v; int reason; } cases[] = {
        {0, 2, -1, BOT4_FEATURES_LV_QTY},           /* bid_qty[2] < 0 */
        {1, 0, 0, BOT4_FEATURES_LV_PRICE},          /* bid_px[0] = 0 with quantity */
        {3, 1, tr[5].ask_px[0], BOT4_FEATURES_LV_ORDER}, /* ask_px[1] = ask_px[0] */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lv[0] = tr[5];
        int64_t *fld[4] = {lv[0].bid_qty, lv[0].bid_px, lv[0].ask_qty, lv[0].ask_px};
        fld[cases[c].field][cases[c].k] = cases[c].v;
        CHECK(bot4_features_levels_check(lv, 1, &row, &side, &level, &reason) == BOT4_FEATURES_EINVAL);
        CHECK(reason == cases[c].reason && level == cases[c].k && row == 0);
    }
    lv[0] = tr[5];
    lv[0].bid_qty[1] = 0; /* a missing level with a price, then a gap */
    CHECK(bot4_features_levels_check(lv, 1, &row, &side, &level, &reason) == BOT4_FEATURES_EINVAL);
    CHECK(reason == BOT4_FEATURES_LV_MISSING_PRICE && side == BOT4_SIDE_BID && level == 1);
    lv[0].bid_px[1] = 0;
    CHECK(bot4_features_levels_check(lv, 1, &row, &side, &level, &reason) == BOT4_FEATURES_EINVAL);
    CHECK(reason == BOT4_FEATURES_LV_GAP && level == 2);
done:
    free(ev); free(tr); free(o1); free(o2); free(r1); free(r2);
}

/* Running totals wrap modulo 2^64 long before a window sum could: a new best bid of
 * 2^60 lots every message adds 2^60 to the OFI total (wrapping after 16 messages), while
 * the window of 3 sums to 3 * 2^60 - 2^60 (the level it displaced) exactly. */
static void test_totals_wrap(void)
{
    bot4_features_params p = defaults();
    p.ofi_window = 3;
    bot4_features f;
    CHECK(bot4_features_init(&f, &p) == BOT4_FEATURES_OK);
    const int64_t big = (int64_t)1 << 60;
    bot4_features_levels lv;
    double out[BOT4_F_N];
    for (int m = 0; m < 40; m++) {
        memset(&lv, 0, sizeof lv);
        lv.ts = 1000 * (m + 1);
        lv.bid_px[0] = 1000 + m; lv.bid_qty[0] = big;
        lv.bid_px[1] = m ? 999 + m : 0; lv.bid_qty[1] = m ? big : 0;
        lv.ask_px[0] = 5000; lv.ask_qty[0] = 1;
        bot4_features_on_levels(&f, &lv);
    }
    bot4_features_vector(&f, out);
    /* each message raised the best bid: e_1 = +qb = 2^60 (the ask side did not change) */
    const int64_t want = 3 * big;
    CHECK(out[BOT4_F_OFI1] == (double)want);
    bot4_features_free(&f);
}

/* The levels check under each runnable body (the dispatcher picks its fault test) on rows
 * with one random field set to a random, often boundary, value: all agree, and with the
 * rule-by-rule level_fault reference. */
static void test_levels_check_bodies(void)
{
    bot4_cpu_features cpu;
    bot4_cpu_detect(&cpu);
    bot4_features_levels base;
    memset(&base, 0, sizeof base);
    for (int k = 0; k < 5; k++) {
        base.bid_px[k] = 1000 - 3 * k; base.bid_qty[k] = 10 + k;
        base.ask_px[k] = 1001 + 3 * k; base.ask_qty[k] = 20 + k;
    }
    const int64_t values[] = {0, 1, -1, 999, 1000, 1001, 1002, 1004, 997, 998, BOT4_BOOK_PRICE_MAX,
                              BOT4_BOOK_PRICE_MAX + 1, INT64_MAX, INT64_MIN, 5};
    uint64_t x = 4242;
    int bad_rows = 0;
    for (int t = 0; t < 20000; t++) {
        bot4_features_levels lv = base;
        const int changes = 1 + (int)(t % 3);
        for (int c = 0; c < changes; c++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            int64_t *fields[4] = {lv.bid_px, lv.bid_qty, lv.ask_px, lv.ask_qty};
            fields[(x >> 20) % 4][(x >> 30) % 5] = values[(x >> 40) % (sizeof values / sizeof values[0])];
        }
        /* the reference: every level against the rules, one by one */
        int want = 0;
        for (int k = 0; k < 5; k++) {
            int fault = 0;
            for (int sd = 0; sd < 2 && !fault; sd++) {
                const int64_t *px = sd ? lv.ask_px : lv.bid_px, *q = sd ? lv.ask_qty : lv.bid_qty;
                fault = q[k] < 0 || (q[k] == 0 && px[k] != 0) ||
                        (q[k] > 0 && (px[k] <= 0 || px[k] > BOT4_BOOK_PRICE_MAX)) ||
                        (k > 0 && q[k] > 0 && (q[k - 1] == 0 || (sd ? px[k] <= px[k - 1] : px[k] >= px[k - 1])));
            }
            want |= fault;
        }
        bad_rows += want;
        const int levels[3] = {BOT4_SIMD_SCALAR, BOT4_SIMD_AVX2, BOT4_SIMD_AVX512};
        for (int l = 0; l < 3; l++) {
            if (!bot4_simd_supported(&cpu, levels[l])) continue;
            CHECK(bot4_features_dispatch_init(levels[l]) == BOT4_FEATURES_OK);
            int64_t row; int side, level, reason;
            const int rc = bot4_features_levels_check(&lv, 1, &row, &side, &level, &reason);
            CHECK(rc == (want ? BOT4_FEATURES_EINVAL : BOT4_FEATURES_OK));
        }
    }
    CHECK(bad_rows > 5000 && bad_rows < 19000);
    CHECK(bot4_features_dispatch_init(BOT4_SIMD_SCALAR) == BOT4_FEATURES_OK);
}

/* The OFI bodies against the formula on random pairs of states (missing levels, equal and
 * crossing prices, huge quantities). */
static void test_ofi_bodies(void)
{
    bot4_cpu_features cpu;
    bot4_cpu_detect(&cpu);
    uint64_t x = 777;
    for (int t = 0; t < 20000; t++) {
        bot4_features_levels s[2];
        memset(s, 0, sizeof s);
        for (int i = 0; i < 2; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            const int nb = (int)((x >> 10) % 6), na = (int)((x >> 14) % 6);
            for (int k = 0; k < nb; k++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                s[i].bid_px[k] = 100 - 2 * k - (int64_t)((x >> 30) % 3);
                s[i].bid_qty[k] = 1 + (int64_t)((x >> 3) % ((uint64_t)1 << 61));
            }
            for (int k = 0; k < na; k++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                s[i].ask_px[k] = 101 + 2 * k + (int64_t)((x >> 30) % 3);
                s[i].ask_qty[k] = 1 + (int64_t)((x >> 7) % 1000);
            }
        }
        int64_t want[5], got[5];
        for (int k = 0; k < 5; k++) {
            const bot4_features_levels *c = &s[0], *pv = &s[1];
            const int64_t pa = c->ask_qty[k] ? c->ask_px[k] : INT64_MAX, pa0 = pv->ask_qty[k] ? pv->ask_px[k] : INT64_MAX;
            want[k] = (c->bid_px[k] >= pv->bid_px[k] ? c->bid_qty[k] : 0) -
                      (c->bid_px[k] <= pv->bid_px[k] ? pv->bid_qty[k] : 0) -
                      (pa <= pa0 ? c->ask_qty[k] : 0) + (pa >= pa0 ? pv->ask_qty[k] : 0);
        }
        const int levels[3] = {BOT4_SIMD_SCALAR, BOT4_SIMD_AVX2, BOT4_SIMD_AVX512};
        for (int l = 0; l < 3; l++) {
            if (!bot4_simd_supported(&cpu, levels[l])) continue;
            CHECK(bot4_features_ofi_level(levels[l], &s[0], &s[1], got) == BOT4_FEATURES_OK);
            CHECK(memcmp(got, want, sizeof want) == 0);
        }
    }
    int64_t e[5];
    bot4_features_levels z;
    memset(&z, 0, sizeof z);
    CHECK(bot4_features_ofi_level(9, &z, &z, e) == BOT4_FEATURES_EINVAL);
}

/* The touch_volume bodies against each other (those this CPU runs), every length 0..70. */
static void test_simd_bodies(void)
{
    bot4_cpu_features cpu;
    bot4_cpu_detect(&cpu);
    int64_t px[70], side[70], qty[70];
    uint64_t x = 12345;
    for (int i = 0; i < 70; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        px[i] = (int64_t)(x >> 62);
        side[i] = (int64_t)((x >> 40) % 3);
        qty[i] = (int64_t)(x >> 1) - ((int64_t)1 << 61);
    }
    CHECK(bot4_features_dispatch_init(7) == BOT4_FEATURES_EINVAL);
    for (int n = 0; n <= 70; n++) {
        const int64_t want = bot4_features_touch_volume_level(BOT4_SIMD_SCALAR, px, side, qty, n, 1, 2);
        if (bot4_simd_supported(&cpu, BOT4_SIMD_AVX2))
            CHECK(bot4_features_touch_volume_level(BOT4_SIMD_AVX2, px, side, qty, n, 1, 2) == want);
        if (bot4_simd_supported(&cpu, BOT4_SIMD_AVX512))
            CHECK(bot4_features_touch_volume_level(BOT4_SIMD_AVX512, px, side, qty, n, 1, 2) == want);
        CHECK(bot4_features_dispatch_init(bot4_simd_best(&cpu)) == BOT4_FEATURES_OK);
        CHECK(bot4_features_touch_volume(px, side, qty, n, 1, 2) == want);
    }
    CHECK(bot4_features_dispatch_init(BOT4_SIMD_SCALAR) == BOT4_FEATURES_OK);
}

int main(void)
{
    test_simd_bodies();
    test_params();
    test_hand_worked();
    test_window_sums_wrap();
    test_patched_top_equals_book();
    test_run_levels();
    test_totals_wrap();
    test_ofi_bodies();
    test_levels_check_bodies();
    printf("features: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
