/* simdriver.c - the simulated venue's scheduler, filters, fees, impact and accounting over
 * the venue core (see simdriver.h for the model, invariants and costs).
 *
 * The order of operations follows bot/sim/venue.py so that the reports (and the latency
 * draws, when sigma > 0, in kind though not in value) come in the same order: an action is
 * checked by the filters, handed to the core, its ack emitted, then the core's reports
 * converted (taker fills with impact, maker fills, expiries, stop remainders), then an
 * IOC remainder or queue statistics. Every time comparison that subtracts a window is
 * done in 128 bits, so no timestamp can wrap it.
 */
#include "simdriver.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OP_PLACE = 0, OP_CANCEL = 1, OP_AMEND = 2 };

typedef __int128 i128;
typedef unsigned __int128 u128;

/* ---- latencies: splitmix64 (Steele, Lea & Flood 2014) + Box-Muller ------------------- */

static inline uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double std_normal(uint64_t *s)
{
    double u1 = (double)((splitmix64(s) >> 11) + 1) * 0x1p-53; /* (0, 1] */
    double u2 = (double)(splitmix64(s) >> 11) * 0x1p-53;       /* [0, 1) */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int64_t draw(const bot4_sd_latency *l, uint64_t *s)
{
    if (l->sigma == 0.0 || l->median_ns == 0)
        return l->median_ns;
    double x = (double)l->median_ns * exp(l->sigma * std_normal(s));
    if (!(x < 9.0e18))
        x = 9.0e18;
    return (int64_t)x; /* truncation, as Python's int() */
}

int64_t bot4_sd_md_latency(bot4_simdriver *d)
{
    return draw(&d->cfg.md, &d->md_rng);
}

/* ---- growable arrays and heaps ------------------------------------------------------- */

/* p grown to hold `need` elements (doubling); NULL (p untouched) when out of memory. */
static void *grow(void *p, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    int64_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > INT64_MAX / 2)
            return NULL;
        nc *= 2;
    }
    if ((uint64_t)nc > SIZE_MAX / elem)
        return NULL;
    void *q = realloc(p, (size_t)nc * elem);
    if (q)
        *cap = nc;
    return q;
}

static inline int act_before(const bot4_sd_action *a, const bot4_sd_action *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

static inline int vis_before(const bot4_sd_report *a, const bot4_sd_report *b)
{
    return a->visible_ts < b->visible_ts || (a->visible_ts == b->visible_ts && a->seq < b->seq);
}

static void pend_push(bot4_simdriver *d, const bot4_sd_action *a) /* room ensured */
{
    int64_t i = d->n_pend++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!act_before(a, &d->pend[p]))
            break;
        d->pend[i] = d->pend[p];
        i = p;
    }
    d->pend[i] = *a;
}

static void pend_pop(bot4_simdriver *d)
{
    int64_t n = --d->n_pend, i = 0;
    if (n == 0)
        return;
    bot4_sd_action last = d->pend[n];
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && act_before(&d->pend[c + 1], &d->pend[c]))
            c++;
        if (!act_before(&d->pend[c], &last))
            break;
        d->pend[i] = d->pend[c];
        i = c;
    }
    d->pend[i] = last;
}

static void vis_push(bot4_simdriver *d, const bot4_sd_report *r) /* room ensured */
{
    int64_t i = d->n_vis++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!vis_before(r, &d->vis[p]))
            break;
        d->vis[i] = d->vis[p];
        i = p;
    }
    d->vis[i] = *r;
}

static void vis_pop(bot4_simdriver *d)
{
    int64_t n = --d->n_vis, i = 0;
    if (n == 0)
        return;
    bot4_sd_report last = d->vis[n];
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && vis_before(&d->vis[c + 1], &d->vis[c]))
            c++;
        if (!vis_before(&d->vis[c], &last))
            break;
        d->vis[i] = d->vis[c];
        i = c;
    }
    d->vis[i] = last;
}

/* ---- init / free --------------------------------------------------------------------- */

static int latency_ok(const bot4_sd_latency *l)
{
    return l->median_ns >= 0 && l->sigma >= 0.0 && isfinite(l->sigma);
}

static int config_ok(const bot4_sd_config *c)
{
    if (!latency_ok(&c->entry) || !latency_ok(&c->ack) || !latency_ok(&c->md))
        return 0;
    if (!c->tiers || c->n_tiers < 1 || c->n_tiers > BOT4_SD_TIERS_MAX ||
        c->tiers[0].min_volume != 0)
        return 0;
    for (int32_t k = 1; k < c->n_tiers; k++)
        if (c->tiers[k].min_volume <= c->tiers[k - 1].min_volume)
            return 0;
    if (!(c->impact_gamma >= 0.0) || !isfinite(c->impact_gamma) || !(c->impact_sigma >= 0.0) ||
        !isfinite(c->impact_sigma) || c->impact_adv_lots <= 0)
        return 0;
    if (c->pct_num <= 0 || c->pct_den <= 0 || c->min_notional < 0)
        return 0;
    if (c->rate_limit_orders < 1 || c->rate_limit_orders > BOT4_SD_RATE_ORDERS_MAX ||
        c->rate_limit_window_ns < 1)
        return 0;
    return c->max_orders >= 1 && c->max_orders <= BOT4_SD_MAX_ORDERS_MAX;
}

void bot4_sd_free(bot4_simdriver *d)
{
    if (d->ready)
        bot4_sv_free(&d->v);
    free(d->core_out);
    free(d->pend);
    free(d->vis);
    free(d->orders);
    free(d->rate);
    free(d->vol_ts);
    free(d->vol_amt);
    free(d->queue.delays);
    memset(d, 0, sizeof *d);
}

int bot4_sd_init(bot4_simdriver *d, const bot4_sd_config *cfg, const bot4_event *ev,
                 int64_t n_ev)
{
    memset(d, 0, sizeof *d);
    if (!cfg || !config_ok(cfg) || n_ev < 0 || (n_ev > 0 && !ev))
        return BOT4_SD_EINVAL;
    int rc = bot4_sv_init(&d->v, cfg->max_orders, cfg->queue_model, cfg->queue_power,
                          cfg->book_window);
    if (rc != BOT4_SV_OK)
        return rc == BOT4_SV_ENOMEM ? BOT4_SD_ENOMEM : BOT4_SD_EINVAL;
    d->ready = 1;
    d->cfg = *cfg;
    memcpy(d->tiers, cfg->tiers, (size_t)cfg->n_tiers * sizeof d->tiers[0]);
    d->cfg.tiers = d->tiers;
    d->ev = ev;
    d->n_ev = n_ev;
    d->impact_gs = cfg->impact_gamma * cfg->impact_sigma;
    d->rng = cfg->seed;
    uint64_t s = cfg->seed ^ 0x6A09E667F3BCC909ULL;
    d->md_rng = splitmix64(&s);
    /* a message reports each resting order twice and each stop its trigger, its levels
     * and a remainder (bot4_sv_run); a placement takes at most TAKE_LEVELS_MAX levels and
     * re-checks every resting order (bot4_sv_place) */
    int64_t run_need = (int64_t)(BOT4_SV_STOP_LEVELS_MAX + 4) * cfg->max_orders + 8;
    d->core_cap = (run_need > 4096 ? run_need : 4096) + BOT4_SV_TAKE_LEVELS_MAX +
                  cfg->max_orders;
    d->core_out = malloc((size_t)d->core_cap * sizeof *d->core_out);
    d->rate = malloc((size_t)cfg->rate_limit_orders * sizeof *d->rate);
    d->vol_cap = 64;
    d->vol_ts = malloc((size_t)d->vol_cap * sizeof *d->vol_ts);
    d->vol_amt = malloc((size_t)d->vol_cap * sizeof *d->vol_amt);
    if (!d->core_out || !d->rate || !d->vol_ts || !d->vol_amt) {
        bot4_sd_free(d);
        return BOT4_SD_ENOMEM;
    }
    return BOT4_SD_OK;
}

const bot4_sd_order *bot4_sd_order_get(const bot4_simdriver *d, int64_t id)
{
    return id >= 1 && id <= d->n_ids ? &d->orders[id - 1] : NULL;
}

/* ---- requests ------------------------------------------------------------------------ */

/* Queue an action at t + entry latency; the draw is undone if the arrival would wrap. */
static int schedule(bot4_simdriver *d, int64_t t, bot4_sd_action *a)
{
    bot4_sd_action *q = grow(d->pend, &d->cap_pend, d->n_pend + 1, sizeof *d->pend);
    if (!q)
        return BOT4_SD_ENOMEM;
    d->pend = q;
    uint64_t saved = d->rng;
    int64_t lat = draw(&d->cfg.entry, &d->rng);
    if (__builtin_add_overflow(t, lat, &a->ts)) {
        d->rng = saved;
        return BOT4_SD_OVERFLOW;
    }
    a->seq = ++d->seq;
    pend_push(d, a);
    return BOT4_SD_OK;
}

int bot4_sd_submit(bot4_simdriver *d, int64_t t, int side, int64_t qty, int64_t price, int tif,
                   int post_only, int64_t expire_ts, int kind, int64_t *id)
{
    if (d->failed)
        return d->failed;
    if (kind != BOT4_SD_LIMIT && kind != BOT4_SD_STOP)
        return BOT4_SD_EINVAL;
    if (kind == BOT4_SD_STOP &&
        (price < 1 || (tif != BOT4_SV_GTC && tif != BOT4_SV_GTD) || post_only))
        return BOT4_SD_EINVAL;
    if ((side != BOT4_SIDE_BID && side != BOT4_SIDE_ASK) || qty < 1 || price < 0 ||
        expire_ts < 0 || tif < BOT4_SV_GTC || tif > BOT4_SV_GTD)
        return BOT4_SD_EINVAL;
    if (price == 0 && tif != BOT4_SV_IOC && tif != BOT4_SV_FOK)
        return BOT4_SD_EINVAL;
    if (tif == BOT4_SV_GTD && expire_ts <= t)
        return BOT4_SD_EINVAL;
    if (post_only != 0 && post_only != 1)
        return BOT4_SD_EINVAL;
    if (post_only && (price == 0 || (tif != BOT4_SV_GTC && tif != BOT4_SV_GTD)))
        return BOT4_SD_EINVAL;
    bot4_sd_order *o = grow(d->orders, &d->cap_ids, d->n_ids + 1, sizeof *d->orders);
    if (!o)
        return BOT4_SD_ENOMEM;
    d->orders = o;
    bot4_sd_action a = {.id = d->n_ids + 1, .op = OP_PLACE};
    int rc = schedule(d, t, &a);
    if (rc != BOT4_SD_OK)
        return rc;
    o = &d->orders[d->n_ids++];
    memset(o, 0, sizeof *o);
    o->price = o->oms_price = price;
    o->qty = o->oms_qty = qty;
    o->expire_ts = expire_ts;
    o->last_visible = INT64_MIN;
    o->side = (uint8_t)side;
    o->kind = (uint8_t)kind;
    o->tif = (uint8_t)tif;
    o->post_only = (uint8_t)post_only;
    o->state = BOT4_SD_NEW;
    *id = a.id;
    return BOT4_SD_OK;
}

int bot4_sd_cancel(bot4_simdriver *d, int64_t t, int64_t id)
{
    if (d->failed)
        return d->failed;
    if (id < 1 || id > d->n_ids)
        return BOT4_SD_UNKNOWN;
    bot4_sd_action a = {.id = id, .op = OP_CANCEL};
    return schedule(d, t, &a);
}

int bot4_sd_amend(bot4_simdriver *d, int64_t t, int64_t id, int64_t price, int64_t qty)
{
    if (d->failed)
        return d->failed;
    if (id < 1 || id > d->n_ids)
        return BOT4_SD_UNKNOWN;
    if (price < 1 || qty < 1)
        return BOT4_SD_EINVAL;
    bot4_sd_action a = {.id = id, .price = price, .qty = qty, .op = OP_AMEND};
    return schedule(d, t, &a);
}

/* ---- reports ------------------------------------------------------------------------- */

/* SimVenue._emit: visible ack latency later, never before the order's previous report. */
static int emit(bot4_simdriver *d, int kind, int64_t id, int64_t ts, int64_t price, int64_t qty,
                int64_t leaves, int liq, int64_t fee, int reason, int64_t ahead)
{
    bot4_sd_report *q = grow(d->vis, &d->cap_vis, d->n_vis + 1, sizeof *d->vis);
    if (!q)
        return BOT4_SD_ENOMEM;
    d->vis = q;
    bot4_sd_order *o = &d->orders[id - 1];
    int64_t visible;
    if (__builtin_add_overflow(ts, draw(&d->cfg.ack, &d->rng), &visible))
        return BOT4_SD_OVERFLOW;
    if (visible < o->last_visible)
        visible = o->last_visible;
    o->last_visible = visible;
    bot4_sd_report r = {.ts = ts, .visible_ts = visible, .seq = ++d->seq, .id = id,
                        .price = price, .qty = qty, .leaves = leaves, .ahead = ahead,
                        .fee_units = fee, .kind = (uint8_t)kind, .side = o->side,
                        .liquidity = (uint8_t)liq, .reason = (uint8_t)reason};
    vis_push(d, &r);
    return BOT4_SD_OK;
}

/* Append (ts, notional) to the 30-day fee window ring. */
static int vol_push(bot4_simdriver *d, int64_t ts, int64_t amt)
{
    if (d->vol_n == d->vol_cap) {
        if (d->vol_cap > INT64_MAX / 2 / (int64_t)sizeof(int64_t))
            return BOT4_SD_ENOMEM;
        int64_t nc = d->vol_cap * 2;
        int64_t *nt = malloc((size_t)nc * sizeof *nt);
        int64_t *na = malloc((size_t)nc * sizeof *na);
        if (!nt || !na) {
            free(nt);
            free(na);
            return BOT4_SD_ENOMEM;
        }
        for (int64_t k = 0; k < d->vol_n; k++) {
            int64_t j = (d->vol_head + k) & (d->vol_cap - 1);
            nt[k] = d->vol_ts[j];
            na[k] = d->vol_amt[j];
        }
        free(d->vol_ts);
        free(d->vol_amt);
        d->vol_ts = nt;
        d->vol_amt = na;
        d->vol_head = 0;
        d->vol_cap = nc;
    }
    int64_t j = (d->vol_head + d->vol_n) & (d->vol_cap - 1);
    d->vol_ts[j] = ts;
    d->vol_amt[j] = amt;
    d->vol_n++;
    return BOT4_SD_OK;
}

/* SimVenue._fill: fee on the 30-day volume before this fill, then the report. */
static int fill(bot4_simdriver *d, int64_t ts, int64_t id, int64_t price, int64_t qty,
                int64_t leaves, int liq, int64_t ahead)
{
    bot4_sd_order *o = &d->orders[id - 1];
    while (d->vol_n && (i128)d->vol_ts[d->vol_head] <= (i128)ts - BOT4_SD_FEE_WINDOW_NS) {
        d->vol_sum -= d->vol_amt[d->vol_head];
        d->vol_head = (d->vol_head + 1) & (d->vol_cap - 1);
        d->vol_n--;
    }
    const bot4_sd_fee_tier *tier = &d->tiers[0];
    for (int32_t k = 1; k < d->cfg.n_tiers; k++)
        if (d->vol_sum >= d->tiers[k].min_volume)
            tier = &d->tiers[k];
    int64_t notional, fee, sum, delay = 0, maker_lots = d->queue.maker_lots;
    int64_t rate = liq == BOT4_SD_LIQ_MAKER ? tier->maker_rate : tier->taker_rate;
    if (__builtin_mul_overflow(price, qty, &notional) ||
        __builtin_mul_overflow(notional, rate, &fee) ||
        __builtin_add_overflow(d->vol_sum, notional, &sum))
        return BOT4_SD_OVERFLOW;
    int first_maker = liq == BOT4_SD_LIQ_MAKER && !o->maker_filled;
    if (first_maker && __builtin_sub_overflow(ts, o->placed_ts, &delay))
        return BOT4_SD_OVERFLOW;
    if (liq == BOT4_SD_LIQ_MAKER && __builtin_add_overflow(maker_lots, qty, &maker_lots))
        return BOT4_SD_OVERFLOW;
    if (first_maker) {
        int64_t *q = grow(d->queue.delays, &d->queue.cap_delays, d->queue.n_delays + 1,
                          sizeof *d->queue.delays);
        if (!q)
            return BOT4_SD_ENOMEM;
        d->queue.delays = q;
    }
    int rc = vol_push(d, ts, notional);
    if (rc != BOT4_SD_OK)
        return rc;
    d->vol_sum = sum;
    o->filled += qty;
    if (first_maker) {
        o->maker_filled = 1;
        d->queue.delays[d->queue.n_delays++] = delay;
    }
    d->queue.maker_lots = maker_lots;
    return emit(d, BOT4_SD_FILL, id, ts, price, qty, leaves, liq, fee, BOT4_SD_R_NONE, ahead);
}

/* Impact.ticks: ceil(price * gamma * sigma * sqrt(q / adv)), the same double expression. */
static int impact_ticks(const bot4_simdriver *d, int64_t price, int64_t q, int64_t *ticks)
{
    double frac = d->impact_gs * sqrt((double)q / (double)d->cfg.impact_adv_lots);
    *ticks = 0;
    if (!(frac > 0.0))
        return BOT4_SD_OK;
    double x = ceil((double)price * frac);
    if (!(x < 9.2e18))
        return BOT4_SD_OVERFLOW;
    *ticks = (int64_t)x;
    return BOT4_SD_OK;
}

/* SimVenue._absorb: core reports to strategy reports. */
static int absorb(bot4_simdriver *d, const bot4_sv_report *r, int64_t n)
{
    int64_t cur = -1, taken = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t id = r[i].id;
        const bot4_sd_order *o = &d->orders[id - 1];
        int rc;
        switch (r[i].kind) {
        case BOT4_SV_EXPIRED:
            rc = emit(d, BOT4_SD_EXPIRED, id, r[i].ts, o->price, r[i].qty, 0, BOT4_SD_LIQ_NONE,
                      0, BOT4_SD_R_NONE, 0);
            break;
        case BOT4_SV_TRIGGERED: /* the fills that follow carry the news */
            rc = BOT4_SD_OK;
            break;
        case BOT4_SV_DROPPED:
            rc = emit(d, BOT4_SD_CANCELLED, id, r[i].ts, o->price, r[i].qty, 0,
                      BOT4_SD_LIQ_NONE, 0, BOT4_SD_R_STOP_UNFILLED, 0);
            break;
        case BOT4_SV_TAKER: {
            if (id != cur) { /* the order's whole taken quantity in this batch */
                cur = id;
                taken = 0;
                for (int64_t j = 0; j < n; j++)
                    if (r[j].kind == BOT4_SV_TAKER && r[j].id == id)
                        taken += r[j].qty;
            }
            int64_t bump, px = r[i].price;
            rc = impact_ticks(d, px, taken, &bump);
            if (rc != BOT4_SD_OK)
                return rc;
            if (o->side == BOT4_SIDE_BID) {
                if (__builtin_add_overflow(px, bump, &px))
                    return BOT4_SD_OVERFLOW;
            } else {
                px = bump >= px ? 1 : (px - bump > 1 ? px - bump : 1);
            }
            rc = fill(d, r[i].ts, id, px, r[i].qty, r[i].leaves, BOT4_SD_LIQ_TAKER, 0);
            break;
        }
        default:
            rc = fill(d, r[i].ts, id, r[i].price, r[i].qty, r[i].leaves, BOT4_SD_LIQ_MAKER,
                      o->ahead_at_place);
            break;
        }
        if (rc != BOT4_SD_OK)
            return rc;
    }
    return BOT4_SD_OK;
}

/* Replay the market up to (not including) t_stop, converting the core's reports. */
static int run_core(bot4_simdriver *d, int64_t t_stop)
{
    for (;;) {
        int64_t n_out = 0;
        int rc = bot4_sv_run(&d->v, d->ev, d->n_ev, t_stop, d->core_out, d->core_cap, &n_out);
        if (n_out) {
            int r2 = absorb(d, d->core_out, n_out);
            if (r2 != BOT4_SD_OK)
                return r2;
        }
        if (rc == BOT4_SV_OK)
            return BOT4_SD_OK;
        if (rc != BOT4_SV_OUT_FULL || n_out == 0)
            return BOT4_SD_ECORE;
    }
}

/* The core's status as a reject reason; a negative BOT4_SD_* code for a core failure. */
static int core_reason(int rc)
{
    switch (rc) {
    case BOT4_SV_FULL:
        return BOT4_SD_R_TOO_MANY_ORDERS;
    case BOT4_SV_UNKNOWN:
        return BOT4_SD_R_UNKNOWN_ID;
    case BOT4_SV_WOULD_TAKE:
        return BOT4_SD_R_POST_ONLY_WOULD_TAKE;
    case BOT4_SV_FOK_UNFILLED:
        return BOT4_SD_R_FOK_UNFILLABLE;
    case BOT4_SV_NO_LIQUIDITY:
        return BOT4_SD_R_NO_LIQUIDITY;
    case BOT4_SV_DUPLICATE:
        return BOT4_SD_R_DUPLICATE_ID;
    default:
        return BOT4_SD_ECORE;
    }
}

/* SimVenue._check_filters: a reject reason, or 0. */
static int check_filters(bot4_simdriver *d, int64_t ts, const bot4_sd_order *o)
{
    int64_t cap = d->cfg.rate_limit_orders;
    while (d->rate_n && (i128)d->rate[d->rate_head] <= (i128)ts - d->cfg.rate_limit_window_ns) {
        d->rate_head = d->rate_head + 1 == cap ? 0 : d->rate_head + 1;
        d->rate_n--;
    }
    if (d->rate_n >= cap)
        return BOT4_SD_R_RATE_LIMITED;
    int64_t j = d->rate_head + d->rate_n;
    d->rate[j >= cap ? j - cap : j] = ts;
    d->rate_n++;
    int64_t ref = o->price, q;
    if (ref == 0 && !bot4_book_best(&d->v.book, o->side ^ 1, &ref, &q))
        return BOT4_SD_R_NO_LIQUIDITY;
    if ((u128)ref * (u128)o->qty < (u128)d->cfg.min_notional)
        return BOT4_SD_R_MIN_NOTIONAL;
    int64_t bid, ask;
    if (o->price && o->kind == BOT4_SD_LIMIT && bot4_book_best(&d->v.book, BOT4_SIDE_BID, &bid, &q) &&
        bot4_book_best(&d->v.book, BOT4_SIDE_ASK, &ask, &q)) {
        /* mid (1 - num/den) <= price <= mid (1 + num/den), mid = (bid + ask) / 2 */
        u128 two_mid = (u128)bid + (u128)ask;
        u128 num = (u128)d->cfg.pct_num, den = (u128)d->cfg.pct_den;
        u128 p2 = 2 * den * (u128)o->price;
        u128 lo = den > num ? two_mid * (den - num) : 0;
        if (p2 < lo || p2 > two_mid * (den + num))
            return BOT4_SD_R_PERCENT_PRICE;
    }
    return BOT4_SD_R_NONE;
}

static int rested(bot4_simdriver *d, bot4_sd_order *o, int64_t resting, int64_t ahead)
{
    bot4_sd_queue *q = &d->queue;
    int64_t a, l;
    if (__builtin_add_overflow(q->ahead_at_place_total, ahead, &a) ||
        __builtin_add_overflow(q->rested_lots, resting, &l))
        return BOT4_SD_OVERFLOW;
    o->ahead_at_place = ahead;
    q->orders_rested++;
    q->ahead_at_place_total = a;
    q->rested_lots = l;
    return BOT4_SD_OK;
}

static int reject(bot4_simdriver *d, int64_t ts, int64_t id, int reason)
{
    const bot4_sd_order *o = &d->orders[id - 1];
    return emit(d, BOT4_SD_REJECT, id, ts, o->price, o->qty, 0, BOT4_SD_LIQ_NONE, 0, reason, 0);
}

static int place(bot4_simdriver *d, int64_t ts, int64_t id)
{
    bot4_sd_order *o = &d->orders[id - 1];
    int reason = check_filters(d, ts, o);
    if (!reason && o->tif == BOT4_SV_GTD && o->expire_ts <= ts)
        reason = BOT4_SD_R_EXPIRED_ON_ARRIVAL;
    if (reason)
        return reject(d, ts, id, reason);
    int rc;
    if (o->kind == BOT4_SD_STOP) {
        rc = bot4_sv_place_stop(&d->v, id, o->side, o->price, o->qty,
                                o->tif == BOT4_SV_GTD ? o->expire_ts : 0);
        if (rc != BOT4_SV_OK) {
            reason = core_reason(rc);
            return reason < 0 ? reason : reject(d, ts, id, reason);
        }
        o->placed_ts = ts;
        return emit(d, BOT4_SD_ACK, id, ts, o->price, o->qty, o->qty, BOT4_SD_LIQ_NONE, 0,
                    BOT4_SD_R_NONE, 0);
    }
    int64_t n = 0, resting = 0, ahead = 0;
    rc = bot4_sv_place(&d->v, ts, id, o->side, o->price, o->qty, o->tif, o->post_only,
                       o->expire_ts, d->core_out, d->core_cap, &n, &resting, &ahead);
    if (rc != BOT4_SV_OK) {
        reason = core_reason(rc);
        return reason < 0 ? reason : reject(d, ts, id, reason);
    }
    rc = emit(d, BOT4_SD_ACK, id, ts, o->price, o->qty, o->qty, BOT4_SD_LIQ_NONE, 0,
              BOT4_SD_R_NONE, ahead);
    if (rc != BOT4_SD_OK)
        return rc;
    o->placed_ts = ts;
    if ((rc = absorb(d, d->core_out, n)) != BOT4_SD_OK)
        return rc;
    if (resting)
        return rested(d, o, resting, ahead);
    if (o->qty - o->filled > 0) /* IOC / FOK / market remainder is dropped */
        return emit(d, BOT4_SD_CANCELLED, id, ts, o->price, o->qty - o->filled, 0,
                    BOT4_SD_LIQ_NONE, 0, BOT4_SD_R_GTC + o->tif, 0);
    return BOT4_SD_OK;
}

static int amend(bot4_simdriver *d, int64_t ts, int64_t id, int64_t price, int64_t qty)
{
    bot4_sd_order *o = &d->orders[id - 1];
    int64_t leaves = qty - o->filled;
    if (leaves <= 0)
        return emit(d, BOT4_SD_AMEND_REJECT, id, ts, price, qty, 0, BOT4_SD_LIQ_NONE, 0,
                    BOT4_SD_R_BELOW_FILLED, 0);
    /* the core keeps a limit's queue place exactly when the price stays and leaves do not
     * grow */
    int kept = o->kind == BOT4_SD_LIMIT && price == o->price && leaves <= o->qty - o->filled;
    int64_t n = 0, resting = 0, ahead = 0;
    int rc = bot4_sv_amend(&d->v, ts, id, price, leaves, d->core_out, d->core_cap, &n,
                           &resting, &ahead);
    if (rc != BOT4_SV_OK) {
        int reason = rc == BOT4_SV_UNKNOWN ? BOT4_SD_R_NOT_WORKING : core_reason(rc);
        if (reason < 0)
            return reason;
        return emit(d, BOT4_SD_AMEND_REJECT, id, ts, price, qty, 0, BOT4_SD_LIQ_NONE, 0, reason,
                    0);
    }
    o->price = price;
    o->qty = qty;
    rc = emit(d, BOT4_SD_AMENDED, id, ts, price, qty, leaves, BOT4_SD_LIQ_NONE, 0,
              BOT4_SD_R_NONE, ahead);
    if (rc == BOT4_SD_OK)
        rc = absorb(d, d->core_out, n);
    if (rc == BOT4_SD_OK && o->kind == BOT4_SD_LIMIT && resting && !kept)
        rc = rested(d, o, resting, ahead);
    return rc;
}

static int act(bot4_simdriver *d, int64_t ts, const bot4_sd_action *a)
{
    if (a->op == OP_PLACE)
        return place(d, ts, a->id);
    if (a->op == OP_AMEND)
        return amend(d, ts, a->id, a->price, a->qty);
    const bot4_sd_order *o = &d->orders[a->id - 1];
    int64_t leaves = 0;
    if (bot4_sv_cancel(&d->v, a->id, &leaves) != BOT4_SV_OK)
        return emit(d, BOT4_SD_CANCEL_REJECT, a->id, ts, 0, 0, 0, BOT4_SD_LIQ_NONE, 0,
                    BOT4_SD_R_NOT_WORKING, 0);
    return emit(d, BOT4_SD_CANCELLED, a->id, ts, o->price, leaves, 0, BOT4_SD_LIQ_NONE, 0,
                BOT4_SD_R_NONE, 0);
}

/* ---- what the strategy is told: the OMS rules of bot.oms.state ------------------------ */

static const uint8_t TRANSITIONS[7] = {
    [BOT4_SD_NEW] = 1u << BOT4_SD_ACKNOWLEDGED | 1u << BOT4_SD_REJECTED | 1u << BOT4_SD_ST_CANCELLED,
    [BOT4_SD_ACKNOWLEDGED] = 1u << BOT4_SD_PARTIALLY_FILLED | 1u << BOT4_SD_FILLED |
                             1u << BOT4_SD_ST_CANCELLED | 1u << BOT4_SD_ST_EXPIRED,
    [BOT4_SD_PARTIALLY_FILLED] = 1u << BOT4_SD_PARTIALLY_FILLED | 1u << BOT4_SD_FILLED |
                                 1u << BOT4_SD_ST_CANCELLED | 1u << BOT4_SD_ST_EXPIRED,
};

static void to_state(bot4_simdriver *d, bot4_sd_order *o, int s)
{
    if (TRANSITIONS[o->state] & (1u << s))
        o->state = (uint8_t)s;
    else
        d->acct.state_errors++;
}

static int apply(bot4_simdriver *d, const bot4_sd_report *r)
{
    bot4_sd_order *o = &d->orders[r->id - 1];
    switch (r->kind) {
    case BOT4_SD_ACK:
        to_state(d, o, BOT4_SD_ACKNOWLEDGED);
        break;
    case BOT4_SD_REJECT:
        to_state(d, o, BOT4_SD_REJECTED);
        break;
    case BOT4_SD_CANCELLED:
        to_state(d, o, BOT4_SD_ST_CANCELLED);
        break;
    case BOT4_SD_EXPIRED:
        to_state(d, o, BOT4_SD_ST_EXPIRED);
        break;
    case BOT4_SD_AMENDED:
        if (TRANSITIONS[o->state] == 0 || r->qty < o->oms_filled) {
            d->acct.state_errors++;
            break;
        }
        o->oms_qty = r->qty;
        o->oms_price = r->price;
        if (o->oms_qty == o->oms_filled)
            to_state(d, o, BOT4_SD_FILLED);
        break;
    case BOT4_SD_FILL: {
        bot4_sd_account a = d->acct;
        int64_t notional;
        if (__builtin_mul_overflow(r->price, r->qty, &notional) ||
            __builtin_add_overflow(a.volume, notional, &a.volume) ||
            __builtin_add_overflow(a.fee_units, r->fee_units, &a.fee_units))
            return BOT4_SD_OVERFLOW;
        if (o->side == BOT4_SIDE_BID) {
            if (__builtin_sub_overflow(a.cash, notional, &a.cash) ||
                __builtin_add_overflow(a.position, r->qty, &a.position))
                return BOT4_SD_OVERFLOW;
        } else if (__builtin_add_overflow(a.cash, notional, &a.cash) ||
                   __builtin_sub_overflow(a.position, r->qty, &a.position)) {
            return BOT4_SD_OVERFLOW;
        }
        a.fills++;
        if (r->liquidity == BOT4_SD_LIQ_MAKER)
            a.maker_fills++;
        else
            a.taker_fills++;
        int target = o->oms_filled + r->qty == o->oms_qty ? BOT4_SD_FILLED
                                                          : BOT4_SD_PARTIALLY_FILLED;
        if (r->qty > o->oms_qty - o->oms_filled || !(TRANSITIONS[o->state] & (1u << target))) {
            a.state_errors++;
        } else {
            o->oms_filled += r->qty;
            o->state = (uint8_t)target;
        }
        d->acct = a;
        break;
    }
    default: /* cancel_reject, amend_reject: the order stays as it was */
        break;
    }
    return BOT4_SD_OK;
}

/* ---- advance ------------------------------------------------------------------------- */

int bot4_sd_pop(bot4_simdriver *d, int64_t t, bot4_sd_report *out, int64_t cap,
                int64_t *n_out)
{
    if (d->failed)
        return d->failed;
    if (*n_out < 0 || (cap > 0 && !out))
        return BOT4_SD_EINVAL;
    while (d->n_vis && d->vis[0].visible_ts <= t) {
        if (*n_out >= cap)
            return BOT4_SD_MORE;
        int rc = apply(d, &d->vis[0]);
        if (rc != BOT4_SD_OK) {
            d->failed = rc;
            return rc;
        }
        out[(*n_out)++] = d->vis[0];
        vis_pop(d);
    }
    return BOT4_SD_OK;
}

int bot4_sd_advance(bot4_simdriver *d, int64_t t, bot4_sd_report *out, int64_t cap,
                    int64_t *n_out)
{
    *n_out = 0;
    if (d->failed)
        return d->failed;
    if (cap < 0 || (cap > 0 && !out))
        return BOT4_SD_EINVAL;
    int rc = BOT4_SD_OK;
    while (d->n_pend && d->pend[0].ts <= t) {
        bot4_sd_action a = d->pend[0];
        pend_pop(d);
        if ((rc = run_core(d, a.ts)) != BOT4_SD_OK)
            break;
        int64_t now = d->v.now;
        if ((rc = act(d, now == INT64_MIN || a.ts > now ? a.ts : now, &a)) != BOT4_SD_OK)
            break;
    }
    if (rc == BOT4_SD_OK)
        rc = run_core(d, t);
    if (rc != BOT4_SD_OK) {
        d->failed = rc;
        return rc;
    }
    if (!bot4_book_best(&d->v.book, BOT4_SIDE_BID, &d->bid_px, &d->bid_qty))
        d->bid_px = d->bid_qty = 0;
    if (!bot4_book_best(&d->v.book, BOT4_SIDE_ASK, &d->ask_px, &d->ask_qty))
        d->ask_px = d->ask_qty = 0;
    return bot4_sd_pop(d, t, out, cap, n_out);
}
