/* simvenue.h - simulated venue core: our orders against a recorded L2 market (book.h).
 *
 * Structure
 *   - The market is a bot4_book fed message by message from an event array (EVENT_DTYPE);
 *     our orders never enter it, so the recorded market is not moved by them, except that
 *     liquidity we take is removed from the visible levels (until the feed next rewrites
 *     those levels).
 *   - Our resting orders are a small array kept in arrival order, each with its queue
 *     position `ahead`: market lots displayed before it at its price. An order joins
 *     behind the displayed quantity at its price; our own earlier orders at the same
 *     price are also ahead of it (a trade reaches it only after their leaves).
 *   - Queue updates:
 *       trade at our price on our side: ahead -= qty; volume beyond ahead fills us;
 *       trade through our price (aggressor went past it): we fill completely;
 *       book message changing the depth at our level: the decrease not explained by
 *       trades since the last depth change is a cancel; RISK_AVERSE never advances us
 *       for it; PROB_POWER / PROB_LOG advance us by (1 - p) of it with
 *       p = f(back) / (f(back) + f(front)), f(x) = x^n or ln(1 + x) (hftbacktest's
 *       ProbQueueModel), the advance rounded down to whole lots; always
 *       ahead <= the depth shown;
 *       opposite best crossing our price: we fill completely at our price (the market
 *       traded through us between messages).
 *   - GTD orders expire at the first event with ts_local >= their expiry.
 *   - Stop orders wait for a trade at or through their trigger, then take visible
 *     liquidity as market orders (at most BOT4_SV_STOP_LEVELS_MAX levels).
 *   - Liquidity we take is removed from the book; our own resting orders at those levels
 *     then see a depth drop, which the cancel model treats like any other decrease.
 * Invariants: 0 <= ahead; 0 < leaves for every order in the array; the array holds at most
 * max_orders; reports are written only while out has room (the run stops before a
 * message that could overflow it; see bot4_sv_run for the bound).
 * Cost: per event O(1) for the book (see book.h) + O(k) over our k resting orders for book
 * and trade messages; place O(levels taken + k); cancel O(k) (k is small: a strategy's
 * working orders, at most max_orders).
 * Time is ts_local (receive time) for the market and for our orders: the Python layer adds
 * order-entry latency before calling place/cancel and feed/ack latency to reports.
 * Nothing allocates after init, prints or aborts; functions return BOT4_SV_* codes.
 */
#ifndef BOT4_SIMVENUE_H
#define BOT4_SIMVENUE_H

#include <stdint.h>

#include "book.h"
#include "events.h"

enum {
    BOT4_SV_OK = 0,
    BOT4_SV_ENOMEM = -1,
    BOT4_SV_EINVAL = -2,
    BOT4_SV_FULL = -3,        /* max_orders resting already */
    BOT4_SV_UNKNOWN = -4,     /* no resting order with that id */
    BOT4_SV_WOULD_TAKE = -5,  /* post-only order would cross */
    BOT4_SV_FOK_UNFILLED = -6,
    BOT4_SV_NO_LIQUIDITY = -7,
    BOT4_SV_DUPLICATE = -8,
    BOT4_SV_OUT_FULL = -9,    /* output buffer too small */
};

enum { BOT4_SV_QUEUE_RISK_AVERSE = 0, BOT4_SV_QUEUE_PROB_POWER = 1, BOT4_SV_QUEUE_PROB_LOG = 2 };

enum { BOT4_SV_GTC = 0, BOT4_SV_IOC = 1, BOT4_SV_FOK = 2, BOT4_SV_GTD = 3 };

/* record kinds */
enum {
    BOT4_SV_MAKER_TRADE = 0,   /* filled by trades at our price after the queue ahead */
    BOT4_SV_MAKER_THROUGH = 1, /* a trade went through our price */
    BOT4_SV_MAKER_CROSS = 2,   /* the opposite touch crossed our price */
    BOT4_SV_TAKER = 3,         /* our order took a visible level on arrival */
    BOT4_SV_EXPIRED = 4,       /* GTD expiry: qty = leaves dropped */
    BOT4_SV_TRIGGERED = 5,     /* a stop's trigger traded: qty = leaves, price = trigger;
                                * TAKER reports follow, then DROPPED for any remainder */
    BOT4_SV_DROPPED = 6,       /* a triggered stop's remainder no visible level filled */
};

/* One report, 64 bytes, mirrored by engine.simvenue.REPORT_DTYPE. */
typedef struct bot4_sv_report {
    int64_t ts;        /* ts_local of the event (or the placement time for TAKER) */
    int64_t id;
    int64_t price;
    int64_t qty;
    int64_t leaves;    /* after this report */
    int64_t ahead;     /* queue ahead when it happened (maker kinds) */
    int64_t event_row; /* row of the event that caused it; -1 for TAKER */
    uint8_t kind;
    uint8_t side;
    uint16_t pad;
    uint32_t reserved;
} bot4_sv_report;

_Static_assert(sizeof(bot4_sv_report) == 64, "bot4_sv_report layout");

typedef struct bot4_sv_order {
    int64_t id, price, leaves, ahead, traded, depth, expire_ts;
    int side;
    int is_stop; /* price is the trigger; no queue position */
} bot4_sv_order;

typedef struct bot4_sv_stats {
    int64_t events;          /* rows consumed */
    int64_t book_msgs;
    int64_t trades;
    int64_t trade_lots_at_our_levels; /* traded volume at prices where we rested */
    int64_t queue_advance_trades;     /* lots of queue ahead removed by trades */
    int64_t queue_advance_cancels;    /* lots of queue ahead removed by the cancel model */
    int64_t maker_fills, maker_lots, taker_fills, taker_lots, expired;
} bot4_sv_stats;

#define BOT4_SV_TAKE_LEVELS_MAX 1024 /* levels one placement can take */
#define BOT4_SV_STOP_LEVELS_MAX 64   /* levels a triggered stop can take (rest dropped) */

typedef struct bot4_simvenue {
    bot4_book book;
    int64_t *take_px, *take_qty; /* scratch for walking the opposite side */
    bot4_sv_order *orders;
    int32_t n, cap;
    int32_t n_stops;
    int queue_model;
    double queue_power;
    int64_t pos;        /* next row of the event array to consume */
    int64_t now;        /* ts_local of the last consumed row */
    bot4_sv_stats stats;
} bot4_simvenue;

int bot4_sv_init(bot4_simvenue *v, int32_t max_orders, int queue_model, double queue_power,
                 int64_t window);
void bot4_sv_free(bot4_simvenue *v);
void bot4_sv_reset(bot4_simvenue *v);

/* Consume whole messages of ev[v->pos .. n) whose first row has ts_local < t_stop,
 * appending reports to out[*n_out .. cap). Stops (returns BOT4_SV_OUT_FULL) before a
 * message when fewer than 2 * resting + 1 + stops * (STOP_LEVELS_MAX + 2) slots remain, so
 * a message never overflows.
 * The batch must have passed bot4_book_validate_batch. */
int bot4_sv_run(bot4_simvenue *v, const bot4_event *ev, int64_t n, int64_t t_stop,
                bot4_sv_report *out, int64_t cap, int64_t *n_out);

/* Our order arrives at time `now` (>= the last event consumed). price <= 0 means market.
 * Crossing quantity takes visible levels (reports TAKER into out, at most `cap` levels:
 * BOT4_SV_OUT_FULL if more would be needed, nothing changed); the rest rests (GTC/GTD,
 * joining behind the displayed qty) or is dropped (IOC, market). FOK takes all or nothing
 * (BOT4_SV_FOK_UNFILLED). post_only refuses a crossing order (BOT4_SV_WOULD_TAKE).
 * *resting = qty left resting, *ahead = its queue position. */
int bot4_sv_place(bot4_simvenue *v, int64_t now, int64_t id, int side, int64_t price,
                  int64_t qty, int tif, int post_only, int64_t expire_ts, bot4_sv_report *out,
                  int64_t cap, int64_t *n_out, int64_t *resting, int64_t *ahead);

/* A stop-market order: when a trade prints at or through `trigger` (buy: price >= trigger,
 * sell: price <= trigger) it takes up to BOT4_SV_STOP_LEVELS_MAX visible levels as a market
 * order (reports TRIGGERED, TAKER..., and DROPPED for what is left). expire_ts 0 = GTC. */
int bot4_sv_place_stop(bot4_simvenue *v, int64_t id, int side, int64_t trigger, int64_t qty,
                       int64_t expire_ts);

/* Change a working order to `price` with `leaves` left. A limit order at the same price
 * with leaves not above its current leaves keeps its queue position; anything else leaves
 * and re-enters (place rules: may take liquidity, reports into out). Stops just change. */
int bot4_sv_amend(bot4_simvenue *v, int64_t now, int64_t id, int64_t price, int64_t leaves,
                  bot4_sv_report *out, int64_t cap, int64_t *n_out, int64_t *resting,
                  int64_t *ahead);

/* Remove a resting order; *leaves = what it had left. */
int bot4_sv_cancel(bot4_simvenue *v, int64_t id, int64_t *leaves);

/* Resting order state by id: 0 or BOT4_SV_UNKNOWN. */
int bot4_sv_get(const bot4_simvenue *v, int64_t id, int64_t *price, int64_t *leaves,
                int64_t *ahead);

#endif
