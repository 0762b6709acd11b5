/* test_simvenue.c - unit tests of the simulated venue core (csrc/simvenue.c over book.c)
 * under ASan/UBSan: queue position behind the displayed qty, fills only after the volume
 * ahead traded, trade-through, taking with book removal, FOK, GTD expiry, stops, amend, and a long random
 * stream with orders placed and cancelled throughout (no crash, leaves never negative).
 * Exits non-zero on failure; last line "simvenue: N passed, M failed". */
#include "simvenue.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "event_rows.h"

static bot4_event ev[200000];
static int64_t nev, last_u;
static bot4_sv_report out[8192];

static void row(int64_t ts, int kind, int side, int64_t px, int64_t qty, int flags,
                int64_t first, int64_t last)
{
    event_row(&ev[nev++], ts, kind, side, px, qty, flags, first, last);
}

static void snapshot(int64_t ts, int64_t bid, int64_t bq, int64_t ask, int64_t aq)
{
    last_u = 10;
    row(ts, BOT4_EV_SNAPSHOT, BOT4_SIDE_BID, bid, bq, BOT4_EVF_BEGIN, BOT4_SEQ_NONE, last_u);
    row(ts, BOT4_EV_SNAPSHOT, BOT4_SIDE_ASK, ask, aq, BOT4_EVF_END, BOT4_SEQ_NONE, last_u);
}

static void diff(int64_t ts, int side, int64_t px, int64_t qty)
{
    last_u++;
    row(ts, BOT4_EV_UPDATE, side, px, qty, BOT4_EVF_BEGIN | BOT4_EVF_END, last_u, last_u);
}

static void trade(int64_t ts, int aggressor, int64_t px, int64_t qty)
{
    row(ts, BOT4_EV_TRADE, aggressor, px, qty, BOT4_EVF_BEGIN | BOT4_EVF_END, BOT4_SEQ_NONE, 1);
}

static void test_queue(void)
{
    bot4_simvenue v;
    nev = 0;
    snapshot(1000, 100, 10, 105, 10);
    trade(2000, BOT4_SIDE_ASK, 100, 6);
    trade(3000, BOT4_SIDE_ASK, 100, 5);
    trade(4000, BOT4_SIDE_ASK, 99, 1); /* through our price */
    CHECK(bot4_sv_init(&v, 8, BOT4_SV_QUEUE_RISK_AVERSE, 2.0, BOT4_BOOK_WINDOW_MIN) == 0);
    int64_t n_out = 0, resting, ahead;
    CHECK(bot4_sv_run(&v, ev, nev, 1500, out, 8192, &n_out) == 0 && n_out == 0);
    CHECK(bot4_sv_place(&v, 1500, 1, BOT4_SIDE_BID, 100, 3, BOT4_SV_GTC, 0, 0, out, 8192,
                        &n_out, &resting, &ahead) == 0);
    CHECK(resting == 3 && ahead == 10);
    CHECK(bot4_sv_run(&v, ev, nev, 2500, out, 8192, &n_out) == 0 && n_out == 0);
    CHECK(bot4_sv_run(&v, ev, nev, 3500, out, 8192, &n_out) == 0 && n_out == 1);
    CHECK(out[0].kind == BOT4_SV_MAKER_TRADE && out[0].qty == 1 && out[0].leaves == 2);
    CHECK(bot4_sv_run(&v, ev, nev, INT64_MAX, out, 8192, &n_out) == 0 && n_out == 2);
    CHECK(out[1].kind == BOT4_SV_MAKER_THROUGH && out[1].qty == 2 && v.n == 0);
    bot4_sv_free(&v);
}

static void test_take_fok_gtd(void)
{
    bot4_simvenue v;
    nev = 0;
    snapshot(1000, 100, 10, 101, 10);
    diff(1100, BOT4_SIDE_ASK, 102, 10);
    diff(5000, BOT4_SIDE_BID, 98, 1);
    CHECK(bot4_sv_init(&v, 8, BOT4_SV_QUEUE_PROB_POWER, 2.0, BOT4_BOOK_WINDOW_MIN) == 0);
    int64_t n_out = 0, resting, ahead, px, q;
    bot4_sv_run(&v, ev, nev, 2000, out, 8192, &n_out);
    CHECK(bot4_sv_place(&v, 2000, 1, BOT4_SIDE_BID, 102, 25, BOT4_SV_FOK, 0, 0, out, 8192,
                        &n_out, &resting, &ahead) == BOT4_SV_FOK_UNFILLED && n_out == 0);
    CHECK(bot4_sv_place(&v, 2000, 2, BOT4_SIDE_BID, 102, 15, BOT4_SV_IOC, 0, 0, out, 8192,
                        &n_out, &resting, &ahead) == 0 && n_out == 2 && resting == 0);
    CHECK(out[0].price == 101 && out[0].qty == 10 && out[1].price == 102 && out[1].qty == 5);
    CHECK(bot4_book_best(&v.book, BOT4_SIDE_ASK, &px, &q) && px == 102 && q == 5);
    n_out = 0;
    CHECK(bot4_sv_place(&v, 2000, 3, BOT4_SIDE_BID, 99, 1, BOT4_SV_GTD, 0, 3000, out, 8192,
                        &n_out, &resting, &ahead) == 0 && resting == 1 && ahead == 0);
    CHECK(bot4_sv_place(&v, 2000, 4, BOT4_SIDE_ASK, 100, 1, BOT4_SV_GTC, 1, 0, out, 8192,
                        &n_out, &resting, &ahead) == BOT4_SV_WOULD_TAKE);
    CHECK(bot4_sv_run(&v, ev, nev, INT64_MAX, out, 8192, &n_out) == 0);
    CHECK(n_out == 1 && out[0].kind == BOT4_SV_EXPIRED && out[0].ts == 5000 && v.n == 0);
    bot4_sv_free(&v);
}

static void test_stop_and_amend(void)
{
    bot4_simvenue v;
    nev = 0;
    snapshot(1000, 100, 10, 105, 10);
    diff(1100, BOT4_SIDE_ASK, 106, 10);
    trade(2000, BOT4_SIDE_BID, 106, 1);
    CHECK(bot4_sv_init(&v, 8, BOT4_SV_QUEUE_RISK_AVERSE, 2.0, BOT4_BOOK_WINDOW_MIN) == 0);
    int64_t n_out = 0, resting, ahead, px, leaves;
    bot4_sv_run(&v, ev, nev, 1500, out, 8192, &n_out);
    CHECK(bot4_sv_place(&v, 1500, 1, BOT4_SIDE_BID, 100, 5, BOT4_SV_GTC, 0, 0, out, 8192,
                        &n_out, &resting, &ahead) == 0 && ahead == 10);
    CHECK(bot4_sv_amend(&v, 1500, 1, 100, 3, out, 8192, &n_out, &resting, &ahead) == 0);
    CHECK(bot4_sv_get(&v, 1, &px, &leaves, &ahead) == 0 && leaves == 3 && ahead == 10);
    CHECK(bot4_sv_amend(&v, 1500, 1, 101, 3, out, 8192, &n_out, &resting, &ahead) == 0);
    CHECK(bot4_sv_get(&v, 1, &px, &leaves, &ahead) == 0 && px == 101 && ahead == 0);
    CHECK(bot4_sv_amend(&v, 1500, 7, 101, 3, out, 8192, &n_out, &resting, &ahead) ==
          BOT4_SV_UNKNOWN);
    CHECK(bot4_sv_place_stop(&v, 2, BOT4_SIDE_BID, 106, 25, 0) == 0 && v.n_stops == 1);
    CHECK(bot4_sv_place_stop(&v, 2, BOT4_SIDE_BID, 106, 25, 0) == BOT4_SV_DUPLICATE);
    n_out = 0;
    CHECK(bot4_sv_run(&v, ev, nev, INT64_MAX, out, 8192, &n_out) == 0 && n_out == 4);
    CHECK(out[0].kind == BOT4_SV_TRIGGERED && out[0].qty == 25);
    CHECK(out[1].kind == BOT4_SV_TAKER && out[1].price == 105 && out[1].qty == 10);
    CHECK(out[2].kind == BOT4_SV_TAKER && out[2].price == 106 && out[2].qty == 10);
    CHECK(out[3].kind == BOT4_SV_DROPPED && out[3].qty == 5 && v.n_stops == 0 && v.n == 1);
    bot4_sv_free(&v);
}


static void test_random(void)
{
    nev = 0;
    snapshot(1000, 1000, 50, 1001, 50);
    int64_t ts = 1000;
    while (nev < 150000) {
        uint64_t r = check_rand();
        ts += 10;
        int side = (int)(r & 1);
        int64_t px = side == BOT4_SIDE_BID ? 1000 - (int64_t)((r >> 8) % 10)
                                           : 1001 + (int64_t)((r >> 8) % 10);
        if ((r >> 20) % 4 == 0)
            trade(ts, side ^ 1, px, 1 + (int64_t)((r >> 24) % 20));
        else
            diff(ts, side, px, (int64_t)((r >> 24) % 60));
    }
    for (int model = 0; model < 3; model++) {
        bot4_simvenue v;
        CHECK(bot4_sv_init(&v, 16, model, 1.5, BOT4_BOOK_WINDOW_MIN) == 0);
        int64_t t = 1000, id = 1, n_out, resting, ahead, leaves;
        int bad = 0;
        while (v.pos < nev) {
            t += 5000;
            n_out = 0;
            int rc = bot4_sv_run(&v, ev, nev, t, out, 8192, &n_out);
            if (rc != 0)
                bad = 1;
            for (int64_t k = 0; k < n_out; k++)
                if (out[k].leaves < 0 || out[k].qty <= 0)
                    bad = 1;
            uint64_t r = check_rand();
            int side = (int)(r & 1);
            int64_t px = side == BOT4_SIDE_BID ? 995 + (int64_t)((r >> 8) % 6)
                                               : 1001 + (int64_t)((r >> 8) % 6);
            n_out = 0;
            bot4_sv_place(&v, v.now > t ? v.now : t, id++, side, px, 1 + (int64_t)((r >> 16) % 5),
                          BOT4_SV_GTC, 0, 0, out, 8192, &n_out, &resting, &ahead);
            if ((r >> 30) % 3 == 0)
                bot4_sv_cancel(&v, id - 1 - (int64_t)((r >> 32) % 8), &leaves);
            if ((r >> 34) % 5 == 0) /* a stop a few ticks beyond the touch */
                bot4_sv_place_stop(&v, id++, side, side == BOT4_SIDE_BID ? 1003 : 998,
                                   1 + (int64_t)((r >> 40) % 30), 0);
            if ((r >> 36) % 4 == 0) {
                n_out = 0;
                bot4_sv_amend(&v, v.now > t ? v.now : t, id - 1 - (int64_t)((r >> 44) % 6),
                              px + (int64_t)((r >> 48) % 3) - 1, 1 + (int64_t)((r >> 52) % 6),
                              out, 8192, &n_out, &resting, &ahead);
            }
            for (int32_t k = 0; k < v.n; k++)
                if (v.orders[k].ahead < 0 || v.orders[k].leaves <= 0)
                    bad = 1;
        }
        CHECK(!bad && v.stats.events == nev);
        bot4_sv_free(&v);
    }
}

int main(void)
{
    check_rng = 0x9E3779B97F4A7C15ULL;
    test_queue();
    test_take_fok_gtd();
    test_stop_and_amend();
    test_random();
    printf("simvenue: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
