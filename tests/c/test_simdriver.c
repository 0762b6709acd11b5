/* test_simdriver.c - unit tests of the simulated venue driver (csrc/simdriver.c over
 * simvenue.c and book.c) under ASan/UBSan: the report heap's (visible_ts, seq) order with
 * equal times, every filter and the core's reasons, fee tiers and rebates, impact, per-order
 * visible ordering under random latencies, the accounting identities, status codes for bad
 * arguments and overflow (and the failed state after an overflow inside advance), and a
 * random stream of requests (no crash, no leak, books balance).
 * Exits non-zero on failure; last line "simdriver: N passed, M failed". */
#include "simdriver.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "event_rows.h"

static bot4_event ev[100000];
static int64_t nev, last_u;
static bot4_sd_report out[65536];
static int64_t n_out;

static void row(int64_t ts, int kind, int side, int64_t px, int64_t qty, int flags,
                int64_t first, int64_t last)
{
    event_row(&ev[nev++], ts, kind, side, px, qty, flags, first, last);
}

static void snapshot2(int64_t ts, int64_t bid, int64_t bq, int64_t ask, int64_t aq)
{
    last_u = 10;
    row(ts, BOT4_EV_SNAPSHOT, BOT4_SIDE_BID, bid, bq, BOT4_EVF_BEGIN, BOT4_SEQ_NONE, last_u);
    row(ts, BOT4_EV_SNAPSHOT, BOT4_SIDE_BID, bid - 1, bq, 0, BOT4_SEQ_NONE, last_u);
    row(ts, BOT4_EV_SNAPSHOT, BOT4_SIDE_ASK, ask, aq, 0, BOT4_SEQ_NONE, last_u);
    row(ts, BOT4_EV_SNAPSHOT, BOT4_SIDE_ASK, ask + 1, aq, BOT4_EVF_END, BOT4_SEQ_NONE, last_u);
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

/* bid 10000 x10, 9999 x10; ask 10001 x10, 10002 x10; then alternating trades that refill */
static void market(void)
{
    nev = 0;
    snapshot2(1000, 10000, 10, 10001, 10);
    int64_t ts = 1000;
    for (int i = 0; i < 200; i++) {
        ts += 1000000;
        if (i % 2)
            trade(ts, BOT4_SIDE_ASK, 10000, 3);
        else
            trade(ts, BOT4_SIDE_BID, 10001, 3);
        diff(ts, BOT4_SIDE_BID, 10000, 10);
        diff(ts, BOT4_SIDE_ASK, 10001, 10);
    }
}

static bot4_sd_fee_tier tiers1[1] = {{0, 0, 0}};

static bot4_sd_config config(void)
{
    bot4_sd_config c;
    memset(&c, 0, sizeof c);
    c.tiers = tiers1;
    c.n_tiers = 1;
    c.impact_adv_lots = 1;
    c.pct_num = 1;
    c.pct_den = 5;
    c.rate_limit_orders = 50;
    c.rate_limit_window_ns = 10000000000LL;
    c.queue_model = BOT4_SV_QUEUE_RISK_AVERSE;
    c.queue_power = 2.0;
    c.max_orders = 16;
    c.book_window = BOT4_BOOK_WINDOW_MIN;
    c.seed = 7;
    return c;
}

static int64_t submit(bot4_simdriver *d, int64_t t, int side, int64_t qty, int64_t px, int tif)
{
    int64_t id = -1;
    int rc = bot4_sd_submit(d, t, side, qty, px, tif, 0, 0, BOT4_SD_LIMIT, &id);
    CHECK(rc == BOT4_SD_OK);
    return id;
}

static void test_heap_equal_times(void)
{
    market();
    bot4_sd_config c = config();
    bot4_simdriver d;
    CHECK(bot4_sd_init(&d, &c, ev, nev) == BOT4_SD_OK);
    CHECK(bot4_sd_advance(&d, 2000, out, 65536, &n_out) == BOT4_SD_OK && n_out == 0);
    CHECK(d.bid_px == 10000 && d.ask_px == 10001 && d.bid_qty == 10 && d.ask_qty == 10);
    int64_t a = submit(&d, 2000, BOT4_SIDE_BID, 2, 9999, BOT4_SV_GTC);
    int64_t b = submit(&d, 2000, BOT4_SIDE_ASK, 2, 10002, BOT4_SV_GTC);
    int64_t e = submit(&d, 2000, BOT4_SIDE_BID, 3, 10001, BOT4_SV_IOC);
    CHECK(a == 1 && b == 2 && e == 3 && d.n_pend == 3);
    /* small output buffer: MORE, then the rest */
    CHECK(bot4_sd_advance(&d, 2000, out, 2, &n_out) == BOT4_SD_MORE && n_out == 2);
    CHECK(bot4_sd_pop(&d, 2000, out, 65536, &n_out) == BOT4_SD_OK && n_out == 4);
    CHECK(out[0].kind == BOT4_SD_ACK && out[0].id == 1 && out[0].ahead == 10);
    CHECK(out[1].kind == BOT4_SD_ACK && out[1].id == 2 && out[1].ahead == 10);
    CHECK(out[2].kind == BOT4_SD_ACK && out[2].id == 3);
    CHECK(out[3].kind == BOT4_SD_FILL && out[3].id == 3 && out[3].liquidity == BOT4_SD_LIQ_TAKER &&
          out[3].qty == 3 && out[3].price == 10001 && out[3].leaves == 0);
    for (int k = 1; k < 4; k++)
        CHECK(out[k].seq > out[k - 1].seq && out[k].visible_ts == 2000);
    const bot4_sd_order *o = bot4_sd_order_get(&d, 3);
    CHECK(o && o->state == BOT4_SD_FILLED && o->oms_filled == 3);
    CHECK(bot4_sd_order_get(&d, 4) == NULL && bot4_sd_order_get(&d, 0) == NULL);
    bot4_sd_free(&d);
}

static int reasons_of(bot4_simdriver *d, int64_t t, int *kinds, int *reasons)
{
    CHECK(bot4_sd_advance(d, t, out, 65536, &n_out) == BOT4_SD_OK);
    for (int64_t k = 0; k < n_out; k++) {
        kinds[k] = out[k].kind;
        reasons[k] = out[k].reason;
    }
    return (int)n_out;
}

static void test_filters(void)
{
    market();
    bot4_sd_config c = config();
    c.min_notional = 20000; /* tick-lots */
    c.pct_num = 1;
    c.pct_den = 100;
    c.rate_limit_orders = 7;
    c.rate_limit_window_ns = 100000000;
    c.max_orders = 3;
    bot4_simdriver d;
    CHECK(bot4_sd_init(&d, &c, ev, nev) == BOT4_SD_OK);
    CHECK(bot4_sd_advance(&d, 2000, out, 65536, &n_out) == BOT4_SD_OK);
    int64_t id;
    submit(&d, 2000, BOT4_SIDE_BID, 1, 10000, BOT4_SV_GTC);   /* min notional */
    submit(&d, 2000, BOT4_SIDE_BID, 100, 9899, BOT4_SV_GTC);  /* below the 1% band */
    submit(&d, 2000, BOT4_SIDE_BID, 100, 9901, BOT4_SV_GTC);  /* inside: ack */
    CHECK(bot4_sd_submit(&d, 2000, BOT4_SIDE_ASK, 100, 10002, BOT4_SV_GTC, 1, 0, BOT4_SD_LIMIT,
                         &id) == 0); /* post-only, does not cross: ack */
    CHECK(bot4_sd_submit(&d, 2000, BOT4_SIDE_BID, 100, 10001, BOT4_SV_GTC, 1, 0, BOT4_SD_LIMIT,
                         &id) == 0); /* post-only crossing */
    submit(&d, 2000, BOT4_SIDE_BID, 1000, 10002, BOT4_SV_FOK); /* fok unfillable */
    submit(&d, 2000, BOT4_SIDE_BID, 100, 9990, BOT4_SV_GTC); /* 7th in the window: ok */
    submit(&d, 2000, BOT4_SIDE_BID, 100, 9990, BOT4_SV_GTC); /* 8th: rate limited */
    int kinds[64], reasons[64];
    int n = reasons_of(&d, 2000, kinds, reasons);
    CHECK(n == 8);
    CHECK(kinds[0] == BOT4_SD_REJECT && reasons[0] == BOT4_SD_R_MIN_NOTIONAL);
    CHECK(kinds[1] == BOT4_SD_REJECT && reasons[1] == BOT4_SD_R_PERCENT_PRICE);
    CHECK(kinds[2] == BOT4_SD_ACK && kinds[3] == BOT4_SD_ACK);
    CHECK(kinds[4] == BOT4_SD_REJECT && reasons[4] == BOT4_SD_R_POST_ONLY_WOULD_TAKE);
    CHECK(kinds[5] == BOT4_SD_REJECT && reasons[5] == BOT4_SD_R_FOK_UNFILLABLE);
    CHECK(kinds[6] == BOT4_SD_ACK); /* the third resting order: the core is full */
    CHECK(kinds[7] == BOT4_SD_REJECT && reasons[7] == BOT4_SD_R_RATE_LIMITED);
    /* later the window has room. Sent in the past (before the venue's now), a
     * GTD whose expiry passed is rejected on arrival (the filters use the venue's time) */
    CHECK(bot4_sd_advance(&d, 1500000000, out, 65536, &n_out) == 0 && n_out == 0);
    CHECK(bot4_sd_submit(&d, 1000, BOT4_SIDE_BID, 100, 9990, BOT4_SV_GTD, 0, 1500,
                         BOT4_SD_LIMIT, &id) == 0);
    CHECK(bot4_sd_advance(&d, 1500000001, out, 65536, &n_out) == 0);
    CHECK(n_out == 1 && out[0].reason == BOT4_SD_R_EXPIRED_ON_ARRIVAL && out[0].ts == d.v.now);
    submit(&d, 1600000000, BOT4_SIDE_BID, 100, 9990, BOT4_SV_GTC); /* too many orders */
    CHECK(bot4_sd_cancel(&d, 1600000000, 1) == 0);  /* rejected order: not working */
    CHECK(bot4_sd_amend(&d, 1600000000, 3, 9901, 60) == 0); /* smaller: amended, kept */
    n = reasons_of(&d, 1600000000 + 2000000, kinds, reasons);
    CHECK(n == 3);
    CHECK(kinds[0] == BOT4_SD_REJECT && reasons[0] == BOT4_SD_R_TOO_MANY_ORDERS);
    CHECK(kinds[1] == BOT4_SD_CANCEL_REJECT && reasons[1] == BOT4_SD_R_NOT_WORKING);
    CHECK(kinds[2] == BOT4_SD_AMENDED && out[2].qty == 60 && out[2].leaves == 60);
    CHECK(bot4_sd_order_get(&d, 3)->oms_qty == 60);
    CHECK(bot4_sd_order_get(&d, 1)->state == BOT4_SD_REJECTED);
    bot4_sd_free(&d);

    /* a market order facing an empty side */
    nev = 0;
    last_u = 10;
    row(1000, BOT4_EV_SNAPSHOT, BOT4_SIDE_BID, 100, 5, BOT4_EVF_BEGIN | BOT4_EVF_END,
        BOT4_SEQ_NONE, last_u);
    trade(5000, BOT4_SIDE_ASK, 100, 1);
    c = config();
    CHECK(bot4_sd_init(&d, &c, ev, nev) == BOT4_SD_OK);
    CHECK(bot4_sd_advance(&d, 2000, out, 65536, &n_out) == 0);
    CHECK(d.ask_px == 0 && d.ask_qty == 0 && d.bid_px == 100);
    submit(&d, 2000, BOT4_SIDE_BID, 1, 0, BOT4_SV_IOC);
    n = reasons_of(&d, 2000, kinds, reasons);
    CHECK(n == 1 && kinds[0] == BOT4_SD_REJECT && reasons[0] == BOT4_SD_R_NO_LIQUIDITY);
    submit(&d, 2000, BOT4_SIDE_ASK, 8, 0, BOT4_SV_IOC); /* takes 5, 3 dropped (ioc) */
    n = reasons_of(&d, 2000, kinds, reasons);
    CHECK(n == 3 && kinds[1] == BOT4_SD_FILL && kinds[2] == BOT4_SD_CANCELLED &&
          reasons[2] == BOT4_SD_R_IOC);
    bot4_sd_free(&d);
}

static void test_fees_and_impact(void)
{
    market();
    /* tier 0: maker 10, taker 20 units per tick-lot; from 150000 tick-lots: maker -1 */
    bot4_sd_fee_tier tiers[2] = {{0, 10, 20}, {150000, -1, 5}};
    bot4_sd_config c = config();
    c.tiers = tiers;
    c.n_tiers = 2;
    c.impact_gamma = 1.0;
    c.impact_sigma = 0.02;
    c.impact_adv_lots = 100;
    bot4_simdriver d;
    CHECK(bot4_sd_init(&d, &c, ev, nev) == BOT4_SD_OK);
    CHECK(bot4_sd_advance(&d, 2000, out, 65536, &n_out) == 0);
    submit(&d, 2000, BOT4_SIDE_BID, 15, 10002, BOT4_SV_IOC);
    CHECK(bot4_sd_advance(&d, 2000, out, 65536, &n_out) == 0 && n_out == 3);
    int64_t bump1 = (int64_t)ceil(10001.0 * (0.02 * sqrt(15.0 / 100.0)));
    int64_t bump2 = (int64_t)ceil(10002.0 * (0.02 * sqrt(15.0 / 100.0)));
    CHECK(bump1 == 78 && bump2 == 78);
    CHECK(out[1].price == 10001 + bump1 && out[1].qty == 10);
    CHECK(out[1].fee_units == (10001 + bump1) * 10 * 20); /* volume before: 0 */
    CHECK(out[2].price == 10002 + bump2 && out[2].qty == 5);
    CHECK(out[2].fee_units == (10002 + bump2) * 5 * 20);  /* 100790 < 150000: still tier 0 */
    /* now 151190 tick-lots: a maker fill earns the rebate */
    submit(&d, 3000, BOT4_SIDE_ASK, 2, 10001, BOT4_SV_GTC);
    CHECK(bot4_sd_advance(&d, INT64_MAX, out, 65536, &n_out) == 0);
    int found = 0;
    for (int64_t k = 0; k < n_out; k++)
        if (out[k].kind == BOT4_SD_FILL && out[k].id == 2) {
            CHECK(out[k].liquidity == BOT4_SD_LIQ_MAKER && out[k].fee_units == -out[k].price * out[k].qty);
            found = 1;
        }
    CHECK(found);
    /* sells move down, never below 1 */
    bot4_sd_free(&d);
    market();
    c.impact_sigma = 50.0;
    CHECK(bot4_sd_init(&d, &c, ev, nev) == BOT4_SD_OK);
    CHECK(bot4_sd_advance(&d, 2000, out, 65536, &n_out) == 0);
    submit(&d, 2000, BOT4_SIDE_ASK, 4, 0, BOT4_SV_IOC);
    CHECK(bot4_sd_advance(&d, 2000, out, 65536, &n_out) == 0 && n_out == 2);
    CHECK(out[1].kind == BOT4_SD_FILL && out[1].price == 1);
    bot4_sd_free(&d);
}

static void test_random_latency_order_and_accounting(void)
{
    market();
    bot4_sd_config c = config();
    c.entry.median_ns = 2000000;
    c.entry.sigma = 0.8;
    c.ack.median_ns = 1000000;
    c.ack.sigma = 1.5;
    c.rate_limit_orders = 1000;
    c.max_orders = 64;
    bot4_sd_fee_tier tiers[2] = {{0, 3, 7}, {1000000, -2, 4}};
    c.tiers = tiers;
    c.n_tiers = 2;
    bot4_simdriver d, d2;
    CHECK(bot4_sd_init(&d, &c, ev, nev) == BOT4_SD_OK);
    CHECK(bot4_sd_init(&d2, &c, ev, nev) == BOT4_SD_OK);
    check_rng = 12345;
    int64_t last_vis[4096];
    for (int k = 0; k < 4096; k++)
        last_vis[k] = INT64_MIN;
    int64_t t = 2000, pos = 0, cash = 0, fees = 0, vol = 0, fills = 0, total = 0, prev_vis = INT64_MIN;
    int ordered = 1, per_order = 1, same = 1;
    for (int step = 0; step < 400; step++) {
        t += (int64_t)(check_rand() % 1000000);
        for (int j = 0; j < 2; j++) {
            uint64_t r = check_rand();
            int side = (int)(r & 1);
            int64_t px = (side ? 10001 : 10000) + (int64_t)((r >> 8) % 5) - 2;
            int op = (int)((r >> 16) % 6);
            int64_t id1 = 0, id2 = 0;
            if (op < 3) {
                int tif = op == 2 ? BOT4_SV_IOC : BOT4_SV_GTC;
                int64_t q = 1 + (int64_t)((r >> 24) % 12);
                CHECK(bot4_sd_submit(&d, t, side, q, px, tif, 0, 0, BOT4_SD_LIMIT, &id1) == 0);
                CHECK(bot4_sd_submit(&d2, t, side, q, px, tif, 0, 0, BOT4_SD_LIMIT, &id2) == 0);
                CHECK(id1 == id2);
            } else if (d.n_ids) {
                int64_t id = 1 + (int64_t)((r >> 24) % (uint64_t)d.n_ids);
                if (op == 3) {
                    CHECK(bot4_sd_cancel(&d, t, id) == 0 && bot4_sd_cancel(&d2, t, id) == 0);
                } else {
                    int64_t q = 1 + (int64_t)((r >> 32) % 20);
                    CHECK(bot4_sd_amend(&d, t, id, px, q) == 0 && bot4_sd_amend(&d2, t, id, px, q) == 0);
                }
            }
        }
        int64_t n2 = 0;
        /* d pops through a tiny buffer, d2 through a big one: same stream */
        static bot4_sd_report small[3], big[65536];
        int64_t got = 0;
        int rc = bot4_sd_advance(&d, t, small, 3, &n_out);
        for (;;) {
            for (int64_t k = 0; k < n_out; k++)
                out[got + k] = small[k];
            got += n_out;
            if (rc != BOT4_SD_MORE)
                break;
            n_out = 0;
            rc = bot4_sd_pop(&d, t, small, 3, &n_out);
        }
        CHECK(rc == BOT4_SD_OK);
        CHECK(bot4_sd_advance(&d2, t, big, 65536, &n2) == 0);
        if (n2 != got || memcmp(big, out, (size_t)got * sizeof out[0]))
            same = 0;
        for (int64_t k = 0; k < got; k++) {
            const bot4_sd_report *x = &out[k];
            if (x->visible_ts < prev_vis || x->visible_ts > t || x->visible_ts < x->ts)
                ordered = 0;
            prev_vis = x->visible_ts;
            if (x->visible_ts < last_vis[x->id])
                per_order = 0;
            last_vis[x->id] = x->visible_ts;
            total++;
            if (x->kind == BOT4_SD_FILL) {
                int64_t s = x->side == BOT4_SIDE_BID ? 1 : -1;
                pos += s * x->qty;
                cash -= s * x->price * x->qty;
                vol += x->price * x->qty;
                fees += x->fee_units;
                fills++;
            }
        }
    }
    CHECK(same && ordered && per_order && total > 500 && fills > 20);
    CHECK(d.acct.position == pos && d.acct.cash == cash && d.acct.volume == vol &&
          d.acct.fee_units == fees && d.acct.fills == fills);
    CHECK(d.acct.maker_fills + d.acct.taker_fills == fills && d.acct.state_errors == 0);
    /* the books balance: every lot bought or sold moved cash by its price */
    int64_t filled_sum = 0;
    for (int64_t id = 1; id <= d.n_ids; id++) {
        const bot4_sd_order *o = bot4_sd_order_get(&d, id);
        int64_t s = o->side == BOT4_SIDE_BID ? 1 : -1;
        filled_sum += s * o->oms_filled;
        CHECK(o->oms_filled <= o->oms_qty || o->state == BOT4_SD_ST_CANCELLED);
    }
    CHECK(filled_sum == d.acct.position);
    bot4_sd_free(&d);
    bot4_sd_free(&d2);
}

static void test_status_codes(void)
{
    market();
    bot4_sd_config c = config();
    bot4_simdriver d;
    int64_t id = 0;
    /* bad configurations */
    bot4_sd_config b = c;
    b.n_tiers = 0;
    CHECK(bot4_sd_init(&d, &b, ev, nev) == BOT4_SD_EINVAL);
    bot4_sd_fee_tier bad_tiers[2] = {{0, 1, 1}, {0, 2, 2}};
    b = c;
    b.tiers = bad_tiers;
    b.n_tiers = 2;
    CHECK(bot4_sd_init(&d, &b, ev, nev) == BOT4_SD_EINVAL);
    b = c;
    b.pct_den = 0;
    CHECK(bot4_sd_init(&d, &b, ev, nev) == BOT4_SD_EINVAL);
    b = c;
    b.ack.sigma = NAN;
    CHECK(bot4_sd_init(&d, &b, ev, nev) == BOT4_SD_EINVAL);
    b = c;
    b.rate_limit_orders = 0;
    CHECK(bot4_sd_init(&d, &b, ev, nev) == BOT4_SD_EINVAL);
    b = c;
    b.book_window = 12345; /* not a power of two */
    CHECK(bot4_sd_init(&d, &b, ev, nev) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_init(&d, &c, NULL, 5) == BOT4_SD_EINVAL);

    c.entry.median_ns = 1000;
    CHECK(bot4_sd_init(&d, &c, ev, nev) == BOT4_SD_OK);
    /* bad requests change nothing */
    CHECK(bot4_sd_submit(&d, 0, 2, 1, 100, BOT4_SV_GTC, 0, 0, BOT4_SD_LIMIT, &id) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_submit(&d, 0, 0, 0, 100, BOT4_SV_GTC, 0, 0, BOT4_SD_LIMIT, &id) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_submit(&d, 0, 0, 1, -1, BOT4_SV_GTC, 0, 0, BOT4_SD_LIMIT, &id) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_submit(&d, 0, 0, 1, 0, BOT4_SV_GTC, 0, 0, BOT4_SD_LIMIT, &id) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_submit(&d, 0, 0, 1, 100, BOT4_SV_GTD, 0, 0, BOT4_SD_LIMIT, &id) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_submit(&d, 0, 0, 1, 100, 9, 0, 0, BOT4_SD_LIMIT, &id) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_submit(&d, 0, 0, 1, 0, BOT4_SV_IOC, 1, 0, BOT4_SD_LIMIT, &id) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_submit(&d, 0, 0, 1, 100, BOT4_SV_GTC, 2, 0, BOT4_SD_LIMIT, &id) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_submit(&d, 0, 0, 1, 100, BOT4_SV_IOC, 0, 0, BOT4_SD_STOP, &id) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_submit(&d, 0, 0, 1, 100, BOT4_SV_GTC, 0, 0, 7, &id) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_submit(&d, INT64_MAX - 10, 0, 1, 100, BOT4_SV_GTC, 0, 0, BOT4_SD_LIMIT, &id) ==
          BOT4_SD_OVERFLOW);
    CHECK(bot4_sd_cancel(&d, 0, 1) == BOT4_SD_UNKNOWN);
    CHECK(bot4_sd_amend(&d, 0, 0, 1, 1) == BOT4_SD_UNKNOWN);
    CHECK(d.n_ids == 0 && d.n_pend == 0 && d.seq == 0);
    CHECK(bot4_sd_submit(&d, 1500, 0, 1, 10000, BOT4_SV_GTC, 0, 0, BOT4_SD_LIMIT, &id) == 0 &&
          id == 1);
    CHECK(bot4_sd_amend(&d, 0, 1, 0, 1) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_amend(&d, 0, 1, 1, 0) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_cancel(&d, INT64_MAX, 1) == BOT4_SD_OVERFLOW);
    CHECK(d.n_pend == 1);
    CHECK(bot4_sd_advance(&d, 2000, NULL, 5, &n_out) == BOT4_SD_EINVAL);
    CHECK(bot4_sd_advance(&d, 3000, out, 65536, &n_out) == 0 && n_out == 1);
    bot4_sd_free(&d);

    /* overflow inside advance: the driver fails and stays failed */
    c = config();
    c.ack.median_ns = INT64_MAX - 100;
    CHECK(bot4_sd_init(&d, &c, ev, nev) == BOT4_SD_OK);
    CHECK(bot4_sd_submit(&d, 1500, 0, 1, 10000, BOT4_SV_GTC, 0, 0, BOT4_SD_LIMIT, &id) == 0);
    CHECK(bot4_sd_advance(&d, 3000, out, 65536, &n_out) == BOT4_SD_OVERFLOW);
    CHECK(bot4_sd_advance(&d, 4000, out, 65536, &n_out) == BOT4_SD_OVERFLOW);
    CHECK(bot4_sd_submit(&d, 1500, 0, 1, 10000, BOT4_SV_GTC, 0, 0, BOT4_SD_LIMIT, &id) ==
          BOT4_SD_OVERFLOW);
    bot4_sd_free(&d);

    /* a fee that would wrap */
    bot4_sd_fee_tier huge[1] = {{0, INT64_MAX, INT64_MAX}};
    c = config();
    c.tiers = huge;
    CHECK(bot4_sd_init(&d, &c, ev, nev) == BOT4_SD_OK);
    CHECK(bot4_sd_advance(&d, 2000, out, 65536, &n_out) == 0);
    CHECK(bot4_sd_submit(&d, 2000, 0, 1, 10001, BOT4_SV_IOC, 0, 0, BOT4_SD_LIMIT, &id) == 0);
    CHECK(bot4_sd_advance(&d, 2000, out, 65536, &n_out) == BOT4_SD_OVERFLOW);
    CHECK(d.acct.fills == 0 && d.acct.cash == 0);
    bot4_sd_free(&d);
}

static void test_stop_and_expiry(void)
{
    nev = 0;
    snapshot2(1000, 100, 5, 101, 2);
    trade(5000, BOT4_SIDE_BID, 101, 1); /* triggers a buy stop at 101 */
    diff(6000, BOT4_SIDE_BID, 97, 4);
    diff(9000, BOT4_SIDE_BID, 96, 4);
    bot4_sd_config c = config();
    bot4_simdriver d;
    CHECK(bot4_sd_init(&d, &c, ev, nev) == BOT4_SD_OK);
    int64_t id;
    CHECK(bot4_sd_submit(&d, 1500, BOT4_SIDE_BID, 9, 101, BOT4_SV_GTC, 0, 0, BOT4_SD_STOP, &id) == 0);
    CHECK(bot4_sd_submit(&d, 1500, BOT4_SIDE_BID, 2, 97, BOT4_SV_GTD, 0, 8000, BOT4_SD_LIMIT, &id) == 0);
    CHECK(bot4_sd_advance(&d, INT64_MAX, out, 65536, &n_out) == 0);
    int kinds[16];
    for (int64_t k = 0; k < n_out && k < 16; k++)
        kinds[k] = out[k].kind;
    /* acks; the trade triggers the stop: it takes 101 x2 and 102 x2 (trades leave the book
     * as it is), 5 are dropped; the GTD expires at the first event at or after 8000 */
    CHECK(n_out == 6);
    CHECK(kinds[0] == BOT4_SD_ACK && kinds[1] == BOT4_SD_ACK);
    CHECK(kinds[2] == BOT4_SD_FILL && out[2].price == 101 && out[2].qty == 2);
    CHECK(kinds[3] == BOT4_SD_FILL && out[3].price == 102 && out[3].qty == 2);
    CHECK(kinds[4] == BOT4_SD_CANCELLED && out[4].reason == BOT4_SD_R_STOP_UNFILLED && out[4].qty == 5);
    CHECK(kinds[5] == BOT4_SD_EXPIRED && out[5].id == 2 && out[5].ts == 9000 && out[5].qty == 2);
    CHECK(bot4_sd_order_get(&d, 1)->state == BOT4_SD_ST_CANCELLED);
    CHECK(bot4_sd_order_get(&d, 2)->state == BOT4_SD_ST_EXPIRED);
    CHECK(d.acct.position == 4 && d.acct.cash == -(101 * 2 + 102 * 2));
    bot4_sd_free(&d);
}

int main(void)
{
    test_heap_equal_times();
    test_filters();
    test_fees_and_impact();
    test_random_latency_order_and_accounting();
    test_status_codes();
    test_stop_and_expiry();
    printf("simdriver: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
