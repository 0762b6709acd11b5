/* synth.c - the synthetic market of synth.h. The design, determinism rules and costs are
 * stated there; here each step picks one action and writes one message. Only +, -, *, /
 * and sqrt touch doubles, and every double -> integer conversion is of a value whose
 * range is bounded by the code around it.
 */
#include "synth.h"

#include <math.h> /* sqrt only: IEEE-754 requires it correctly rounded */
#include <string.h>

/* ---- PRNG: splitmix64 seeding, xoshiro256** ------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void bot4_synth_seed(uint64_t s[4], uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t bot4_synth_next(uint64_t s[4])
{
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* uniform in [0, 1) with 53 random bits: exact in double */
static double unif(bot4_synth *g) { return (double)(bot4_synth_next(g->s) >> 11) * 0x1.0p-53; }

/* uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^64) */
static int64_t below(bot4_synth *g, int64_t n)
{
    return (int64_t)(((unsigned __int128)bot4_synth_next(g->s) * (uint64_t)n) >> 64);
}

static double near_normal(bot4_synth *g)
{
    const double sum = unif(g) + unif(g) + unif(g) + unif(g);
    return (sum - 2.0) * 1.7320508075688772; /* Irwin-Hall(4): variance 1/3 -> 1 */
}

/* ---- regimes ------------------------------------------------------------------------ */

int bot4_synth_regime_params(int regime, bot4_synth_regime *r)
{
    /* Common shape; regimes change drift, volatility and flow. Unconditional news
     * variance omega / (1 - alpha - beta). */
    r->omega = 0.3; r->alpha = 0.18; r->beta = 0.77;
    r->p_news = 0.04; r->p_market = 0.06; r->p_limit = 0.60; r->p_refill = 0.6;
    r->jump_p = 0.01; r->limit_lots = 400; r->market_lots = 150;
    r->dt_ns = 2000000; r->min_levels = 20; r->drift = 0.0;
    switch (regime) {
    case BOT4_SYNTH_BULL: r->drift = 0.08; break;
    case BOT4_SYNTH_BEAR: r->drift = -0.08; break;
    case BOT4_SYNTH_SIDEWAYS: r->omega = 0.15; break;
    case BOT4_SYNTH_CRISIS:
        r->drift = -0.1; r->omega = 0.8; r->alpha = 0.22; r->beta = 0.74;
        r->p_market = 0.12; r->jump_p = 0.03; r->limit_lots = 250; r->market_lots = 300;
        r->dt_ns = 500000;
        break;
    default:
        return BOT4_SYNTH_EINVAL;
    }
    return BOT4_SYNTH_OK;
}

int bot4_synth_init(bot4_synth *g, uint64_t seed, int regime)
{
    memset(g, 0, sizeof *g);
    if (bot4_synth_regime_params(regime, &g->r) != BOT4_SYNTH_OK) return BOT4_SYNTH_EINVAL;
    if (bot4_book_init(&g->book, BOT4_BOOK_WINDOW_DEFAULT, 1) != BOT4_BOOK_OK) return BOT4_SYNTH_ENOMEM;
    bot4_synth_seed(g->s, seed);
    g->fair = (double)BOT4_SYNTH_START_PRICE + 0.5;
    g->h = g->r.omega / (1.0 - g->r.alpha - g->r.beta);
    /* P(d) proportional to 0.6^d, d = 0..15 */
    double w = 1.0, total = 0.0, acc = 0.0;
    for (int d = 0; d < 16; d++) { total += w; w *= 0.6; }
    w = 1.0;
    for (int d = 0; d < 16; d++) { acc += w; g->dist_cdf[d] = acc / total; w *= 0.6; }
    g->dist_cdf[15] = 1.0;
    g->ts = BOT4_SYNTH_START_NS;
    return BOT4_SYNTH_OK;
}

void bot4_synth_free(bot4_synth *g)
{
    bot4_book_free(&g->book);
    memset(g, 0, sizeof *g);
}

/* ---- emitting ----------------------------------------------------------------------- */

static int64_t distance(bot4_synth *g)
{
    const double u = unif(g);
    int64_t d = 0;
    while (d < 15 && u >= g->dist_cdf[d]) d++;
    return d;
}

static void row(bot4_synth *g, bot4_event *e, int kind, int side, int64_t px, int64_t qty)
{
    e->ts_exch = g->ts;
    e->ts_local = g->ts + 1000000; /* a fixed 1 ms feed latency keeps ts_local sorted */
    e->price = px;
    e->qty = qty;
    e->seq_first = BOT4_SEQ_NONE;
    e->seq_last = BOT4_SEQ_NONE;
    e->seq_prev = BOT4_SEQ_NONE;
    e->kind = (uint8_t)kind;
    e->side = (uint8_t)side;
    e->flags = 0;
    e->reserved = 0;
}

/* A diff message of k rows at out (rows already filled): number, flag, apply to the book. */
static int diff_message(bot4_synth *g, bot4_event *out, int64_t k)
{
    g->seq++;
    for (int64_t i = 0; i < k; i++) {
        out[i].seq_first = out[i].seq_last = g->seq;
        if (bot4_book_update(&g->book, out[i].side, out[i].price, out[i].qty) != BOT4_BOOK_OK)
            return BOT4_SYNTH_ENOMEM;
    }
    out[0].flags |= BOT4_EVF_BEGIN;
    out[k - 1].flags |= BOT4_EVF_END;
    return BOT4_SYNTH_OK;
}

static int64_t snapshot(bot4_synth *g, bot4_event *out)
{
    const int64_t nl = BOT4_SYNTH_SNAPSHOT_LEVELS;
    const int64_t bid = BOT4_SYNTH_START_PRICE, ask = bid + 1;
    int64_t k = 0;
    for (int64_t i = 0; i < nl; i++, k++)
        row(g, &out[k], BOT4_EV_SNAPSHOT, BOT4_SIDE_BID, bid - i, 1 + below(g, 2 * g->r.limit_lots));
    for (int64_t i = 0; i < nl; i++, k++)
        row(g, &out[k], BOT4_EV_SNAPSHOT, BOT4_SIDE_ASK, ask + i, 1 + below(g, 2 * g->r.limit_lots));
    for (int64_t i = 0; i < k; i++) {
        out[i].seq_last = 0;
        bot4_book_update(&g->book, out[i].side, out[i].price, out[i].qty);
    }
    out[0].flags |= BOT4_EVF_BEGIN;
    out[k - 1].flags |= BOT4_EVF_END;
    return k;
}

/* One limit order (one row) at a geometric distance from the fair value on its side,
 * never crossing the opposite touch: liquidity follows the fair value, so a spread opened
 * by a sweep closes within a few steps. */
static int limit_order(bot4_synth *g, bot4_event *out, int side, int64_t bb, int64_t ba)
{
    const int64_t d = distance(g);
    const int64_t fl = (int64_t)g->fair; /* fair >= 1000: the cast is the floor */
    int64_t px;
    if (side == BOT4_SIDE_BID) {
        px = fl - d;
        if (px >= ba) px = ba - 1;
    } else {
        px = fl + 1 + d;
        if (px <= bb) px = bb + 1;
    }
    if (px <= 0) px = 1;
    const int64_t q = bot4_book_depth_at(&g->book, side, px) + 1 + below(g, 2 * g->r.limit_lots);
    row(g, out, BOT4_EV_UPDATE, side, px, q);
    return diff_message(g, out, 1);
}

/* One cancel (one row); falls back to a limit order when it would thin the side. */
static int cancel_order(bot4_synth *g, bot4_event *out, int side, int64_t bb, int64_t ba)
{
    const int64_t d = distance(g);
    int64_t px = side == BOT4_SIDE_BID ? bb - d : ba + d;
    int64_t q = px > 0 ? bot4_book_depth_at(&g->book, side, px) : 0;
    if (q == 0) {
        px = side == BOT4_SIDE_BID ? bb : ba;
        q = bot4_book_depth_at(&g->book, side, px);
    }
    const int thin = bot4_book_level_count(&g->book, side) <= g->r.min_levels;
    int64_t left;
    if (unif(g) < 0.35 && !thin) left = 0;
    else if (q > 1) left = 1 + below(g, q - 1);
    else return limit_order(g, out, side, bb, ba);
    row(g, out, BOT4_EV_UPDATE, side, px, left);
    return diff_message(g, out, 1);
}

/* A market order of qty lots taking `taker` side's opposite levels: trade rows, then a
 * diff of the levels changed. Never takes the last level of a side. Returns rows written
 * (>= 1) or a negative status. */
static int64_t market_order(bot4_synth *g, bot4_event *out, int aggressor, int64_t qty)
{
    const int book_side = aggressor == BOT4_SIDE_BID ? BOT4_SIDE_ASK : BOT4_SIDE_BID;
    int64_t px[BOT4_SYNTH_SWEEP_MAX], lv[BOT4_SYNTH_SWEEP_MAX];
    int64_t n = bot4_book_top(&g->book, book_side, BOT4_SYNTH_SWEEP_MAX, px, lv);
    if (n > bot4_book_level_count(&g->book, book_side) - 1) n = bot4_book_level_count(&g->book, book_side) - 1;
    if (n <= 0) return 0;
    int64_t k = 0, taken[BOT4_SYNTH_SWEEP_MAX];
    for (int64_t i = 0; i < n && qty > 0; i++, k++) {
        taken[i] = qty < lv[i] ? qty : lv[i];
        qty -= taken[i];
        row(g, &out[k], BOT4_EV_TRADE, aggressor, px[i], taken[i]);
        out[k].seq_last = ++g->trade_id;
        out[k].flags = BOT4_EVF_BEGIN | BOT4_EVF_END;
    }
    for (int64_t i = 0; i < k; i++) row(g, &out[k + i], BOT4_EV_UPDATE, book_side, px[i], lv[i] - taken[i]);
    const int rc = diff_message(g, out + k, k);
    return rc == BOT4_SYNTH_OK ? 2 * k : rc;
}

/* Sum of depth on `side` from the touch through price `limit` (inclusive), at most
 * SWEEP_MAX levels. */
static int64_t depth_through(bot4_synth *g, int side, int64_t limit)
{
    int64_t px[BOT4_SYNTH_SWEEP_MAX], lv[BOT4_SYNTH_SWEEP_MAX], s = 0;
    const int64_t n = bot4_book_top(&g->book, side, BOT4_SYNTH_SWEEP_MAX, px, lv);
    for (int64_t i = 0; i < n; i++) {
        if (side == BOT4_SIDE_ASK ? px[i] > limit : px[i] < limit) break;
        s += lv[i];
    }
    return s;
}

static void news(bot4_synth *g)
{
    double z = near_normal(g);
    if (unif(g) < g->r.jump_p) z *= 3.0;
    const double eps = sqrt(g->h) * z;
    g->fair += g->r.drift + eps;
    if (g->fair < 1000.0) g->fair = 1000.0;
    g->h = g->r.omega + g->r.alpha * eps * eps + g->r.beta * g->h;
}

/* One step: returns rows written (> 0) or a negative status. */
static int64_t step(bot4_synth *g, bot4_event *out, int single_row_only)
{
    int64_t bb, ba, qb, qa;
    bot4_book_best(&g->book, BOT4_SIDE_BID, &bb, &qb);
    bot4_book_best(&g->book, BOT4_SIDE_ASK, &ba, &qa);
    g->ts += 1 + below(g, 2 * g->r.dt_ns);
    g->steps++;
    if (unif(g) < g->r.p_news) news(g);
    /* Keep depth: refill a thin side far from the touch. */
    for (int side = 0; side < 2; side++) {
        if (bot4_book_level_count(&g->book, side) < g->r.min_levels) {
            const int64_t d = g->r.min_levels + distance(g);
            int64_t px = side == BOT4_SIDE_BID ? bb - d : ba + d;
            if (px <= 0) px = 1;
            const int64_t q = bot4_book_depth_at(&g->book, side, px) + 1 + below(g, 2 * g->r.limit_lots);
            row(g, out, BOT4_EV_UPDATE, side, px, q);
            const int rc = diff_message(g, out, 1);
            return rc == BOT4_SYNTH_OK ? 1 : rc;
        }
    }
    /* A spread wider than one tick draws liquidity providers: the touch farther from the
     * fair value improves by one tick (this keeps the spread mostly one tick). */
    if (ba - bb > 1 && unif(g) < g->r.p_refill) {
        const int side = g->fair - (double)bb > (double)ba - g->fair ? BOT4_SIDE_BID : BOT4_SIDE_ASK;
        const int64_t px = side == BOT4_SIDE_BID ? bb + 1 : ba - 1;
        const int64_t q = 1 + below(g, 2 * g->r.limit_lots);
        row(g, out, BOT4_EV_UPDATE, side, px, q);
        const int rc = diff_message(g, out, 1);
        return rc == BOT4_SYNTH_OK ? 1 : rc;
    }
    const double u = unif(g);
    if (!single_row_only) {
        /* Fair value outside the touch: informed flow takes the book toward it. */
        if (g->fair >= (double)ba + 1.0 && u < 0.5) {
            const int64_t lim = (int64_t)g->fair; /* fair >= 1000, so the cast is exact floor */
            const int64_t q = depth_through(g, BOT4_SIDE_ASK, lim);
            const int64_t rows = market_order(g, out, BOT4_SIDE_BID, q > 0 ? q : 1);
            if (rows != 0) return rows;
        } else if (g->fair < (double)bb && u < 0.5) {
            const int64_t lim = (int64_t)g->fair + 1;
            const int64_t q = depth_through(g, BOT4_SIDE_BID, lim);
            const int64_t rows = market_order(g, out, BOT4_SIDE_ASK, q > 0 ? q : 1);
            if (rows != 0) return rows;
        } else if (u < g->r.p_market) {
            /* Pareto-like size: base / U, U in (1/40, 1]. */
            double v = unif(g);
            if (v < 0.025) v = 0.025;
            const int64_t q = 1 + (int64_t)((double)g->r.market_lots / v);
            const int aggr = unif(g) < 0.5 + (g->r.drift > 0 ? 0.05 : g->r.drift < 0 ? -0.05 : 0.0)
                                 ? BOT4_SIDE_BID : BOT4_SIDE_ASK;
            const int64_t rows = market_order(g, out, aggr, q);
            if (rows != 0) return rows;
        }
    }
    /* Limit orders lean toward the fair value's side of the mid. */
    const double mid = 0.5 * (double)(bb + ba);
    const double lean = g->fair > mid ? 0.6 : g->fair < mid ? 0.4 : 0.5;
    const int side = unif(g) < lean ? BOT4_SIDE_BID : BOT4_SIDE_ASK;
    const double pl = g->r.p_limit / (1.0 - g->r.p_market);
    const int rc = unif(g) < pl ? limit_order(g, out, side, bb, ba) : cancel_order(g, out, side, bb, ba);
    return rc == BOT4_SYNTH_OK ? 1 : rc;
}

int bot4_synth_generate(bot4_synth *g, bot4_event *out, int64_t n)
{
    int64_t k = 0;
    if (!g->started) {
        if (n < 2 * BOT4_SYNTH_SNAPSHOT_LEVELS) return BOT4_SYNTH_EINVAL;
        k = snapshot(g, out);
        g->started = 1;
    }
    while (k < n) {
        const int64_t r = step(g, out + k, n - k < BOT4_SYNTH_MAX_MSG_ROWS);
        if (r < 0) return (int)r;
        k += r;
    }
    return BOT4_SYNTH_OK;
}
