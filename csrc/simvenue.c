/* simvenue.c - simulated venue core (see simvenue.h for the model, invariants and costs).
 *
 * The event loop works message by message (BEGIN..END rows share one exchange message):
 * book messages go to bot4_book_apply_batch, then every resting order of ours compares
 * the depth at its price with the depth it saw last; trade rows move queues directly.
 * Taking liquidity walks bot4_book_top into a fixed scratch buffer (TAKE_LEVELS_MAX
 * levels per placement) and writes the reduced levels back with bot4_book_update.
 */
#include "simvenue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


int bot4_sv_init(bot4_simvenue *v, int32_t max_orders, int queue_model, double queue_power,
                 int64_t window)
{
    memset(v, 0, sizeof *v);
    if (max_orders < 1 || queue_model < 0 || queue_model > BOT4_SV_QUEUE_PROB_LOG ||
        !(queue_power > 0.0) || !isfinite(queue_power))
        return BOT4_SV_EINVAL;
    v->orders = calloc((size_t)max_orders, sizeof *v->orders);
    v->take_px = malloc(BOT4_SV_TAKE_LEVELS_MAX * sizeof(int64_t));
    v->take_qty = malloc(BOT4_SV_TAKE_LEVELS_MAX * sizeof(int64_t));
    int rc = BOT4_BOOK_ENOMEM;
    if (v->orders && v->take_px && v->take_qty)
        rc = bot4_book_init(&v->book, window, BOT4_BOOK_PENDING_DEFAULT);
    if (rc != BOT4_BOOK_OK) {
        free(v->orders);
        free(v->take_px);
        free(v->take_qty);
        v->orders = NULL;
        v->take_px = v->take_qty = NULL;
        return rc == BOT4_BOOK_ENOMEM ? BOT4_SV_ENOMEM : BOT4_SV_EINVAL;
    }
    v->cap = max_orders;
    v->queue_model = queue_model;
    v->queue_power = queue_power;
    v->now = INT64_MIN;
    return BOT4_SV_OK;
}

void bot4_sv_free(bot4_simvenue *v)
{
    if (v->orders)
        bot4_book_free(&v->book);
    free(v->orders);
    free(v->take_px);
    free(v->take_qty);
    v->orders = NULL;
    v->take_px = v->take_qty = NULL;
    v->n = 0;
}

void bot4_sv_reset(bot4_simvenue *v)
{
    bot4_book_reset(&v->book);
    v->n = 0;
    v->n_stops = 0;
    v->pos = 0;
    v->now = INT64_MIN;
    memset(&v->stats, 0, sizeof v->stats);
}

static inline void report(bot4_sv_report *r, int64_t ts, const bot4_sv_order *o, int64_t qty,
                          int64_t price, int kind, int64_t row)
{
    r->ts = ts;
    r->id = o->id;
    r->price = price;
    r->qty = qty;
    r->leaves = o->leaves;
    r->ahead = o->ahead;
    r->event_row = row;
    r->kind = (uint8_t)kind;
    r->side = (uint8_t)o->side;
    r->pad = 0;
    r->reserved = 0;
}

static inline void remove_at(bot4_simvenue *v, int32_t k)
{
    v->n_stops -= v->orders[k].is_stop;
    /* keep arrival order: later orders at a price must stay behind earlier ones */
    memmove(&v->orders[k], &v->orders[k + 1], (size_t)(v->n - k - 1) * sizeof v->orders[0]);
    v->n--;
}

static inline double queue_f(const bot4_simvenue *v, double x)
{
    return v->queue_model == BOT4_SV_QUEUE_PROB_LOG ? log1p(x) : pow(x, v->queue_power);
}

/* The depth at our level moved from o->depth to depth_now. */
static void depth_changed(bot4_simvenue *v, bot4_sv_order *o, int64_t depth_now)
{
    int64_t prev = o->depth;
    int64_t cancelled = prev - depth_now - o->traded;
    o->traded = 0;
    o->depth = depth_now;
    if (cancelled > 0 && v->queue_model != BOT4_SV_QUEUE_RISK_AVERSE && o->ahead > 0) {
        double front = (double)o->ahead;
        double back = (double)(prev - o->ahead);
        if (back < 0)
            back = 0;
        double fb = queue_f(v, back), ff = queue_f(v, front);
        double p = fb / (fb + ff); /* probability a cancel came from behind us */
        if (!isfinite(p))
            p = 1.0;
        double c = (double)cancelled;
        double est = front - (1.0 - p) * c + fmin(back - p * c, 0.0);
        int64_t next = (int64_t)ceil(est); /* whole lots, never advancing past the model */
        if (next < 0)
            next = 0;
        if (next < o->ahead) {
            v->stats.queue_advance_cancels += o->ahead - next;
            o->ahead = next;
        }
    }
    if (o->ahead > depth_now) {
        v->stats.queue_advance_cancels += o->ahead - depth_now;
        o->ahead = depth_now;
    }
}

static int64_t maker_fill(bot4_simvenue *v, int32_t k, int64_t qty, int kind, int64_t ts,
                          int64_t row, bot4_sv_report *out, int64_t *n_out)
{
    bot4_sv_order *o = &v->orders[k];
    if (qty > o->leaves)
        qty = o->leaves;
    o->leaves -= qty;
    report(&out[(*n_out)++], ts, o, qty, o->price, kind, row);
    v->stats.maker_fills++;
    v->stats.maker_lots += qty;
    return qty;
}

/* Take up to max_levels visible levels of the side opposite `t->side` at prices no worse
 * than t->price (market when t->price <= 0), reporting TAKER into out; returns lots taken. */
static int64_t take_levels(bot4_simvenue *v, bot4_sv_order *t, int64_t max_levels, int64_t ts,
                           int64_t row, bot4_sv_report *out, int64_t *n_out)
{
    int opp = t->side ^ 1;
    int64_t n_lv = bot4_book_top(&v->book, opp, max_levels, v->take_px, v->take_qty);
    int64_t taken = 0;
    for (int64_t l = 0; l < n_lv && t->leaves > 0; l++) {
        int64_t p = v->take_px[l];
        if (t->price > 0 && (t->side == BOT4_SIDE_BID ? p > t->price : p < t->price))
            break;
        int64_t take = v->take_qty[l] < t->leaves ? v->take_qty[l] : t->leaves;
        t->leaves -= take;
        taken += take;
        bot4_book_update(&v->book, opp, p, v->take_qty[l] - take);
        report(&out[(*n_out)++], ts, t, take, p, BOT4_SV_TAKER, row);
        v->stats.taker_fills++;
        v->stats.taker_lots += take;
    }
    return taken;
}

static void trigger_stop(bot4_simvenue *v, int32_t k, int64_t ts, int64_t row,
                         bot4_sv_report *out, int64_t *n_out)
{
    bot4_sv_order t = v->orders[k];
    report(&out[(*n_out)++], ts, &t, t.leaves, t.price, BOT4_SV_TRIGGERED, row);
    t.price = 0; /* market */
    take_levels(v, &t, BOT4_SV_STOP_LEVELS_MAX, ts, row, out, n_out);
    if (t.leaves > 0) {
        int64_t left = t.leaves;
        t.leaves = 0;
        report(&out[(*n_out)++], ts, &t, left, 0, BOT4_SV_DROPPED, row);
    }
    v->orders[k].leaves = 0;
}

static void on_trade(bot4_simvenue *v, const bot4_event *e, int64_t row, bot4_sv_report *out,
                     int64_t *n_out)
{
    int maker_side = e->side ^ 1; /* BID aggressor (buyer took) consumes asks */
    int counted = 0;
    int64_t own_before = 0; /* leaves of our earlier orders at the trade price: ahead of us */
    v->stats.trades++;
    for (int32_t k = 0; k < v->n;) {
        bot4_sv_order *o = &v->orders[k];
        if (o->is_stop) {
            int hit = o->side == BOT4_SIDE_BID ? e->price >= o->price : e->price <= o->price;
            if (hit) {
                trigger_stop(v, k, e->ts_local, row, out, n_out);
                remove_at(v, k);
            } else {
                k++;
            }
            continue;
        }
        if (o->side != maker_side) {
            k++;
            continue;
        }
        int through = maker_side == BOT4_SIDE_ASK ? e->price > o->price : e->price < o->price;
        if (through) {
            maker_fill(v, k, o->leaves, BOT4_SV_MAKER_THROUGH, e->ts_local, row, out, n_out);
        } else if (e->price == o->price) {
            if (!counted) {
                v->stats.trade_lots_at_our_levels += e->qty;
                counted = 1;
            }
            int64_t leaves_before = o->leaves;
            o->traded += e->qty;
            int64_t adv = e->qty < o->ahead ? e->qty : o->ahead;
            o->ahead -= adv;
            v->stats.queue_advance_trades += adv;
            int64_t reach = e->qty - adv - own_before;
            if (reach > 0)
                maker_fill(v, k, reach, BOT4_SV_MAKER_TRADE, e->ts_local, row, out, n_out);
            own_before += leaves_before;
        }
        if (o->leaves == 0)
            remove_at(v, k);
        else
            k++;
    }
}

static void after_book(bot4_simvenue *v, int64_t ts, int64_t row, bot4_sv_report *out,
                       int64_t *n_out)
{
    int64_t bid_px = 0, ask_px = 0, q;
    int has_bid = bot4_book_best(&v->book, BOT4_SIDE_BID, &bid_px, &q);
    int has_ask = bot4_book_best(&v->book, BOT4_SIDE_ASK, &ask_px, &q);
    for (int32_t k = 0; k < v->n;) {
        bot4_sv_order *o = &v->orders[k];
        if (o->is_stop) {
            k++;
            continue;
        }
        int64_t d = bot4_book_depth_at(&v->book, o->side, o->price);
        if (d != o->depth)
            depth_changed(v, o, d);
        int crossed = o->side == BOT4_SIDE_BID ? (has_ask && ask_px <= o->price)
                                               : (has_bid && bid_px >= o->price);
        if (crossed) {
            maker_fill(v, k, o->leaves, BOT4_SV_MAKER_CROSS, ts, row, out, n_out);
            remove_at(v, k);
        } else {
            k++;
        }
    }
}

static void expire_due(bot4_simvenue *v, int64_t ts, int64_t row, bot4_sv_report *out,
                       int64_t *n_out)
{
    for (int32_t k = 0; k < v->n;) {
        bot4_sv_order *o = &v->orders[k];
        if (o->expire_ts > 0 && o->expire_ts <= ts) {
            int64_t left = o->leaves;
            o->leaves = 0;
            report(&out[(*n_out)++], ts, o, left, o->price, BOT4_SV_EXPIRED, row);
            v->stats.expired++;
            remove_at(v, k);
        } else {
            k++;
        }
    }
}

int bot4_sv_run(bot4_simvenue *v, const bot4_event *ev, int64_t n, int64_t t_stop,
                bot4_sv_report *out, int64_t cap, int64_t *n_out)
{
    while (v->pos < n) {
        int64_t i = v->pos;
        const bot4_event *e = &ev[i];
        if (e->ts_local >= t_stop)
            return BOT4_SV_OK;
        /* a message reports each resting order at most twice (expiry or fill, and the
         * expiry check runs first and removes), so 2n+1 free slots always suffice */
        if (cap - *n_out <
            2 * (int64_t)v->n + 1 + (int64_t)v->n_stops * (BOT4_SV_STOP_LEVELS_MAX + 2))
            return BOT4_SV_OUT_FULL;
        int64_t end = i + 1;
        if (e->flags & BOT4_EVF_BEGIN)
            while (end - 1 < n && !(ev[end - 1].flags & BOT4_EVF_END))
                end++;
        if (end > n)
            end = n;
        v->now = e->ts_local;
        if (v->n)
            expire_due(v, e->ts_local, i, out, n_out);
        if (e->kind == BOT4_EV_TRADE) {
            for (int64_t r = i; r < end; r++)
                if (v->n)
                    on_trade(v, &ev[r], r, out, n_out);
                else
                    v->stats.trades++;
        } else if (e->kind == BOT4_EV_SNAPSHOT || e->kind == BOT4_EV_UPDATE) {
            int64_t n_bbo = 0;
            int rc = bot4_book_apply_batch(&v->book, e, end - i, NULL, &n_bbo);
            if (rc != BOT4_BOOK_OK)
                return BOT4_SV_ENOMEM;
            v->stats.book_msgs++;
            if (v->n)
                after_book(v, e->ts_local, i, out, n_out);
        }
        v->stats.events += end - i;
        v->pos = end;
    }
    return BOT4_SV_OK;
}

static int32_t find(const bot4_simvenue *v, int64_t id)
{
    for (int32_t k = 0; k < v->n; k++)
        if (v->orders[k].id == id)
            return k;
    return -1;
}

int bot4_sv_place(bot4_simvenue *v, int64_t now, int64_t id, int side, int64_t price,
                  int64_t qty, int tif, int post_only, int64_t expire_ts, bot4_sv_report *out,
                  int64_t cap, int64_t *n_out, int64_t *resting, int64_t *ahead)
{
    *resting = 0;
    *ahead = 0;
    if ((side != BOT4_SIDE_BID && side != BOT4_SIDE_ASK) || qty <= 0 || tif < BOT4_SV_GTC ||
        tif > BOT4_SV_GTD)
        return BOT4_SV_EINVAL;
    if (find(v, id) >= 0)
        return BOT4_SV_DUPLICATE;
    int is_market = price <= 0;
    if (is_market && (tif == BOT4_SV_GTC || tif == BOT4_SV_GTD || post_only))
        return BOT4_SV_EINVAL;
    int rests = tif == BOT4_SV_GTC || tif == BOT4_SV_GTD;
    if (rests && v->n == v->cap)
        return BOT4_SV_FULL;
    int opp = side ^ 1;
    int64_t *take_px = v->take_px, *take_qty = v->take_qty;
    int64_t n_lv = bot4_book_top(&v->book, opp, BOT4_SV_TAKE_LEVELS_MAX, take_px, take_qty);
    int64_t levels = 0, avail = 0;
    for (; levels < n_lv && avail < qty; levels++) {
        int64_t p = take_px[levels];
        if (!is_market && (side == BOT4_SIDE_BID ? p > price : p < price))
            break;
        avail += take_qty[levels];
    }
    if (levels > 0 && post_only)
        return BOT4_SV_WOULD_TAKE;
    if (is_market && n_lv == 0)
        return BOT4_SV_NO_LIQUIDITY;
    if (tif == BOT4_SV_FOK && avail < qty)
        return BOT4_SV_FOK_UNFILLED;
    if (levels + v->n > cap - *n_out)
        return BOT4_SV_OUT_FULL;
    bot4_sv_order t = {.id = id, .price = price, .leaves = qty, .side = side};
    if (levels)
        take_levels(v, &t, levels, now, -1, out, n_out);
    if (levels && v->n) /* levels we removed may sit at prices where we rest */
        after_book(v, now, -1, out, n_out);
    if (t.leaves == 0 || !rests)
        return BOT4_SV_OK;
    bot4_sv_order *o = &v->orders[v->n++];
    *o = t;
    /* behind everything displayed; our earlier orders at this price are accounted for in
     * on_trade, so ahead counts market lots only and never exceeds the displayed depth */
    o->depth = bot4_book_depth_at(&v->book, side, price);
    o->ahead = o->depth;
    o->traded = 0;
    o->expire_ts = tif == BOT4_SV_GTD ? expire_ts : 0;
    *resting = o->leaves;
    *ahead = o->ahead;
    return BOT4_SV_OK;
}

int bot4_sv_cancel(bot4_simvenue *v, int64_t id, int64_t *leaves)
{
    int32_t k = find(v, id);
    if (k < 0)
        return BOT4_SV_UNKNOWN;
    *leaves = v->orders[k].leaves;
    remove_at(v, k);
    return BOT4_SV_OK;
}

int bot4_sv_get(const bot4_simvenue *v, int64_t id, int64_t *price, int64_t *leaves,
                int64_t *ahead)
{
    int32_t k = find(v, id);
    if (k < 0)
        return BOT4_SV_UNKNOWN;
    *price = v->orders[k].price;
    *leaves = v->orders[k].leaves;
    *ahead = v->orders[k].ahead;
    return BOT4_SV_OK;
}

int bot4_sv_place_stop(bot4_simvenue *v, int64_t id, int side, int64_t trigger, int64_t qty,
                       int64_t expire_ts)
{
    if ((side != BOT4_SIDE_BID && side != BOT4_SIDE_ASK) || qty <= 0 || trigger <= 0 ||
        expire_ts < 0)
        return BOT4_SV_EINVAL;
    if (find(v, id) >= 0)
        return BOT4_SV_DUPLICATE;
    if (v->n == v->cap)
        return BOT4_SV_FULL;
    bot4_sv_order *o = &v->orders[v->n++];
    memset(o, 0, sizeof *o);
    o->id = id;
    o->side = side;
    o->price = trigger;
    o->leaves = qty;
    o->expire_ts = expire_ts;
    o->is_stop = 1;
    v->n_stops++;
    return BOT4_SV_OK;
}

int bot4_sv_amend(bot4_simvenue *v, int64_t now, int64_t id, int64_t price, int64_t leaves,
                  bot4_sv_report *out, int64_t cap, int64_t *n_out, int64_t *resting,
                  int64_t *ahead)
{
    *resting = 0;
    *ahead = 0;
    if (price <= 0 || leaves <= 0)
        return BOT4_SV_EINVAL;
    int32_t k = find(v, id);
    if (k < 0)
        return BOT4_SV_UNKNOWN;
    bot4_sv_order *o = &v->orders[k];
    if (o->is_stop || (price == o->price && leaves <= o->leaves)) {
        o->price = price;
        o->leaves = leaves;
        *resting = leaves;
        *ahead = o->ahead;
        return BOT4_SV_OK;
    }
    /* loses its place: leave and re-enter, keeping the expiry; re-entry needs the slot we
     * free, so it cannot fail for capacity */
    bot4_sv_order keep = *o;
    remove_at(v, k);
    int tif = keep.expire_ts > 0 ? BOT4_SV_GTD : BOT4_SV_GTC;
    int rc = bot4_sv_place(v, now, id, keep.side, price, leaves, tif, 0, keep.expire_ts, out,
                           cap, n_out, resting, ahead);
    if (rc != BOT4_SV_OK) { /* put it back as it was: nothing changed */
        memmove(&v->orders[k + 1], &v->orders[k], (size_t)(v->n - k) * sizeof v->orders[0]);
        v->orders[k] = keep;
        v->n++;
    }
    return rc;
}
