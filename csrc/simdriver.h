/* simdriver.h - the simulated venue's scheduler, filters, fees, impact, report ordering,
 * order-state tracking and accounting over the venue core (simvenue.h): the C form of
 * bot.sim.venue.SimVenue plus the per-step work of the strategy driver.
 *
 * Structure
 *   - `v`: the bot4_simvenue core (market replay + our resting orders and their queues),
 *     fed from the caller's event array (kept by pointer; the caller keeps it alive).
 *   - Pending actions: a binary min-heap keyed (arrival_ts, seq) of place / cancel / amend
 *     requests; a request made at strategy time t arrives t + entry latency later.
 *   - Visible reports: a binary min-heap keyed (visible_ts, seq) of what the strategy
 *     learns: a report made at venue time ts becomes visible at ts + ack latency, and never
 *     before the previous visible report of the same order (a private stream is ordered
 *     per order).
 *   - Orders: a table indexed by id - 1 (ids 1, 2, 3 ... handed out by submit; it grows by
 *     doubling), holding the venue's facts (price, qty, filled, placement time, queue ahead
 *     at placement) and the strategy's facts (state, price, qty, filled as told so far).
 *   - Rate limit: a ring of the last rate_limit_orders arrival times (sliding window).
 *   - Fee volume: a growable ring of (ts, notional tick-lots) of our fills in the last 30
 *     days and their sum; the tier is chosen on the volume BEFORE a fill.
 *   - Accounting over exact integers, applied when a report is popped (made visible):
 *     position lots, cash tick-lots, fee units, volume, fill counts.
 * Semantics are SimVenue's, line for line (see bot/sim/venue.py): advance(t) acts every
 * pending action with arrival <= t (the core first replays the market up to the arrival,
 * the action then happens at max(arrival, core now)), replays to t, then pops every
 * report with visible_ts <= t. Filters at arrival, in order: rate limit, no liquidity (a
 * market order facing an empty side), min notional (price * qty < min_notional tick-lots;
 * a market order uses the opposite touch), percent-price band around the mid (limits:
 * (bid+ask)(den-num) <= 2 den price <= (bid+ask)(den+num)), then expiry on arrival for
 * GTD, then the core's statuses. Fees: fee_units = price * qty * rate (rate in fee units
 * per tick-lot, negative = rebate). Impact: each taker fill's price moves against us by
 * ceil(price * gamma * sigma * sqrt(Q / ADV)) ticks, Q the order's lots taken in the batch.
 * Latencies: median * exp(sigma * z), z standard normal from a seeded splitmix64 stream
 * (Box-Muller); sigma 0 draws nothing and gives the median exactly.
 * Invariants: heaps ordered by (time, seq), seq strictly increasing over both; every
 * report's id is an issued id; the order table's strategy state only moves along the OMS
 * transitions (new -> acknowledged -> partially_filled -> filled; cancelled, rejected,
 * expired terminal) - a report the OMS would refuse leaves the state and is counted in
 * state_errors (its money is still booked: the venue says it happened); accounting never
 * holds a wrapped number (every sum is overflow-checked before it is committed).
 * Cost: submit / cancel / amend O(log p) (p pending); per acted action the core's place
 * cost plus O(log r) per report (r visible in flight); per market event the core's cost;
 * per popped report O(log r); touch O(1) (kept after each advance).
 * Errors: functions return BOT4_SD_* codes. A bad argument (EINVAL, UNKNOWN, OVERFLOW on
 * submit / cancel / amend) or ENOMEM while queueing changes nothing. An ENOMEM or
 * OVERFLOW inside advance leaves the driver failed: every later call returns that code.
 * Nothing prints or aborts.
 */
#ifndef BOT4_SIMDRIVER_H
#define BOT4_SIMDRIVER_H

#include <stdint.h>

#include "events.h"
#include "simvenue.h"

enum {
    BOT4_SD_OK = 0,
    BOT4_SD_MORE = 1,       /* the output buffer is full and visible reports remain */
    BOT4_SD_ENOMEM = -1,
    BOT4_SD_EINVAL = -2,
    BOT4_SD_OVERFLOW = -3,  /* an int64 sum or product would wrap */
    BOT4_SD_UNKNOWN = -4,   /* no order with that id */
    BOT4_SD_ECORE = -5,     /* the core failed (book ENOMEM, or a sizing bug) */
};

/* report kinds (engine.simdriver.KINDS) */
enum {
    BOT4_SD_ACK = 0,
    BOT4_SD_REJECT = 1,
    BOT4_SD_FILL = 2,
    BOT4_SD_CANCELLED = 3,
    BOT4_SD_CANCEL_REJECT = 4,
    BOT4_SD_EXPIRED = 5,
    BOT4_SD_AMENDED = 6,
    BOT4_SD_AMEND_REJECT = 7,
};

enum { BOT4_SD_LIQ_NONE = 0, BOT4_SD_LIQ_MAKER = 1, BOT4_SD_LIQ_TAKER = 2 };

/* reasons (engine.simdriver.REASONS); the core's statuses keep engine.simvenue's names */
enum {
    BOT4_SD_R_NONE = 0,
    BOT4_SD_R_RATE_LIMITED = 1,
    BOT4_SD_R_NO_LIQUIDITY = 2,
    BOT4_SD_R_MIN_NOTIONAL = 3,
    BOT4_SD_R_PERCENT_PRICE = 4,
    BOT4_SD_R_EXPIRED_ON_ARRIVAL = 5,
    BOT4_SD_R_TOO_MANY_ORDERS = 6,
    BOT4_SD_R_UNKNOWN_ID = 7,
    BOT4_SD_R_POST_ONLY_WOULD_TAKE = 8,
    BOT4_SD_R_FOK_UNFILLABLE = 9,
    BOT4_SD_R_DUPLICATE_ID = 10,
    BOT4_SD_R_NOT_WORKING = 11,
    BOT4_SD_R_BELOW_FILLED = 12,
    BOT4_SD_R_GTC = 13, /* an order's remainder dropped by its time in force */
    BOT4_SD_R_IOC = 14,
    BOT4_SD_R_FOK = 15,
    BOT4_SD_R_GTD = 16,
    BOT4_SD_R_STOP_UNFILLED = 17,
    BOT4_SD_N_REASONS = 18,
};

/* order states as the strategy knows them (bot.oms.state.OrderState) */
enum {
    BOT4_SD_NEW = 0,
    BOT4_SD_ACKNOWLEDGED = 1,
    BOT4_SD_PARTIALLY_FILLED = 2,
    BOT4_SD_FILLED = 3,
    BOT4_SD_ST_CANCELLED = 4,
    BOT4_SD_REJECTED = 5,
    BOT4_SD_ST_EXPIRED = 6,
};

enum { BOT4_SD_LIMIT = 0, BOT4_SD_STOP = 1 };

#define BOT4_SD_FEE_WINDOW_NS (30LL * 86400LL * 1000000000LL)
#define BOT4_SD_TIERS_MAX 64
#define BOT4_SD_MAX_ORDERS_MAX (1 << 20)
#define BOT4_SD_RATE_ORDERS_MAX (1 << 24)

/* One report, 80 bytes, mirrored by engine.simdriver.REPORT_DTYPE. */
typedef struct bot4_sd_report {
    int64_t ts;         /* when it happened at the venue */
    int64_t visible_ts; /* when the strategy sees it */
    int64_t seq;        /* emission order (tie-break of equal visible_ts) */
    int64_t id;
    int64_t price;
    int64_t qty;
    int64_t leaves;
    int64_t ahead;      /* ack: queue ahead on joining; maker fill: ahead when it joined */
    int64_t fee_units;  /* fills: price * qty * rate */
    uint8_t kind;
    uint8_t side;
    uint8_t liquidity;
    uint8_t reason;
    uint32_t pad;
} bot4_sd_report;

_Static_assert(sizeof(bot4_sd_report) == 80, "bot4_sd_report layout");

typedef struct bot4_sd_fee_tier {
    int64_t min_volume; /* 30-day volume (tick-lots) at which the tier starts */
    int64_t maker_rate; /* fee units per tick-lot; negative = rebate */
    int64_t taker_rate;
} bot4_sd_fee_tier;

typedef struct bot4_sd_latency {
    int64_t median_ns;
    double sigma;
} bot4_sd_latency;

typedef struct bot4_sd_config {
    bot4_sd_latency entry, ack, md;
    const bot4_sd_fee_tier *tiers; /* copied; first min_volume 0, strictly increasing */
    int32_t n_tiers;
    double impact_gamma, impact_sigma;
    int64_t impact_adv_lots;       /* > 0 */
    int64_t pct_num, pct_den;      /* percent-price band num/den, both > 0 */
    int64_t min_notional;          /* tick-lots: ceil(min_notional / (tick * lot)) */
    int32_t rate_limit_orders;     /* >= 1 */
    int64_t rate_limit_window_ns;  /* >= 1 */
    int queue_model;
    double queue_power;
    int32_t max_orders;
    int64_t book_window;
    uint64_t seed;
} bot4_sd_config;

typedef struct bot4_sd_order {
    /* the venue's facts */
    int64_t price, qty, filled, placed_ts, ahead_at_place, expire_ts, last_visible;
    uint8_t side, kind, tif, post_only, maker_filled;
    /* what the strategy has been told */
    uint8_t state;
    int64_t oms_price, oms_qty, oms_filled;
} bot4_sd_order;

typedef struct bot4_sd_action {
    int64_t ts, seq, id, price, qty;
    int32_t op; /* place, cancel, amend */
    int32_t pad;
} bot4_sd_action;

typedef struct bot4_sd_account {
    int64_t position;   /* lots, signed */
    int64_t cash;       /* tick-lots: buys pay price * qty, sells receive it */
    int64_t fee_units;  /* paid (negative: rebates received) */
    int64_t volume;     /* tick-lots traded */
    int64_t fills, maker_fills, taker_fills;
    int64_t state_errors; /* reports the OMS rules would refuse */
} bot4_sd_account;

typedef struct bot4_sd_queue {
    int64_t orders_rested, ahead_at_place_total, maker_lots, rested_lots;
    int64_t *delays;    /* ns from placement to the first maker fill, per order */
    int64_t n_delays, cap_delays;
} bot4_sd_queue;

typedef struct bot4_simdriver {
    bot4_simvenue v;
    const bot4_event *ev;
    int64_t n_ev;
    bot4_sd_config cfg;
    bot4_sd_fee_tier tiers[BOT4_SD_TIERS_MAX];
    double impact_gs;          /* gamma * sigma */
    uint64_t rng, md_rng;      /* splitmix64 states */
    int64_t seq;
    bot4_sv_report *core_out;  /* the core's reports, reused */
    int64_t core_cap;
    bot4_sd_action *pend;
    int64_t n_pend, cap_pend;
    bot4_sd_report *vis;
    int64_t n_vis, cap_vis;
    bot4_sd_order *orders;
    int64_t n_ids, cap_ids;
    int64_t *rate;             /* ring of rate_limit_orders arrival times */
    int64_t rate_head, rate_n;
    int64_t *vol_ts, *vol_amt; /* fee window ring */
    int64_t vol_head, vol_n, vol_cap, vol_sum;
    bot4_sd_account acct;
    bot4_sd_queue queue;
    int64_t bid_px, bid_qty, ask_px, ask_qty; /* touch after the last advance; 0 = empty */
    int failed;
    int ready;
} bot4_simdriver;

/* Validate cfg and allocate. The event array must have passed bot4_book_validate_batch
 * and outlive the driver. EINVAL for a bad setting, ENOMEM. */
int bot4_sd_init(bot4_simdriver *d, const bot4_sd_config *cfg, const bot4_event *ev,
                 int64_t n_ev);
void bot4_sd_free(bot4_simdriver *d);

/* Send an order at strategy time t: kind LIMIT (price 0 = market, tif IOC/FOK) or STOP
 * (price = trigger >= 1, tif GTC/GTD). *id = its id. EINVAL on SimVenue.submit's argument
 * rules, OVERFLOW if the arrival time wraps; nothing changes then. */
int bot4_sd_submit(bot4_simdriver *d, int64_t t, int side, int64_t qty, int64_t price, int tif,
                   int post_only, int64_t expire_ts, int kind, int64_t *id);
int bot4_sd_cancel(bot4_simdriver *d, int64_t t, int64_t id);
/* New price (>= 1) and total quantity (>= 1, filled included). */
int bot4_sd_amend(bot4_simdriver *d, int64_t t, int64_t id, int64_t price, int64_t qty);

/* Run the venue to t (module comment), then pop visible reports with visible_ts <= t into
 * out[0 .. cap), applying each to the strategy's order states and the accounting.
 * *n_out = written. MORE: out is full and more are due: call bot4_sd_pop with a larger
 * buffer. t = INT64_MAX acts everything pending, replays to the end and pops all: finish. */
int bot4_sd_advance(bot4_simdriver *d, int64_t t, bot4_sd_report *out, int64_t cap,
                    int64_t *n_out);
/* Continue popping reports visible by t into out[*n_out .. cap). OK or MORE. */
int bot4_sd_pop(bot4_simdriver *d, int64_t t, bot4_sd_report *out, int64_t cap,
                int64_t *n_out);

/* One market-data latency draw (the strategy acts at t + this). */
int64_t bot4_sd_md_latency(bot4_simdriver *d);

/* Order by id: NULL when not issued. */
const bot4_sd_order *bot4_sd_order_get(const bot4_simdriver *d, int64_t id);

#endif
