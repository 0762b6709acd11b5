/* micro_features.h - streaming microstructure features over an L2 book (book.h) and the tape.
 *
 * Design: one bot4_features holds fixed-capacity rings sized from its params at init; it
 * never allocates afterwards. Feed it every event row in order after the book has applied
 * it (bot4_features_on_event); book-derived state refreshes at the END row of each book
 * message (a message is a consistent book state, its inner rows are not), trade rows
 * update the tape state. bot4_features_vector() writes the BOT4_F_N features of the
 * current state; bot4_features_sample() does the same and marks a decision point.
 * Time is ts_local (always present and monotone in a recording), in ns.
 *
 * Notation: after book message m the top levels are bid (Pb_k, qb_k) and ask (Pa_k, qa_k),
 * k = 1..5, prices in ticks, quantities in lots; a missing bid level is (0, 0), a missing
 * ask level is (+inf, 0). Primes denote the state after message m-1. y_m = 2*mid_m -
 * 2*mid_{m-1} in half ticks (0 when either mid is undefined); x_m = signed trade volume
 * (buyer-initiated +, seller-initiated -) between messages m-1 and m.
 *
 * Features (index = enum below; units: ticks, lots, seconds):
 *   spread = Pa_1 - Pb_1; mid = (Pa_1 + Pb_1)/2 (NaN while a side is empty).
 *   microprice = (Pb_1*qa_1 + Pa_1*qb_1)/(qb_1 + qa_1) (the imbalance-weighted
 *     mid; Stoikov 2018, "The micro-price", first-order form). microprice_mom = microprice now - microprice at the
 *     decision point momentum_lag samples back (NaN until there is one).
 *   imbalance_k = (qb_k - qa_k)/(qb_k + qa_k) (0 when both are 0); imbalance_cum is the
 *     same over sums of levels 1..5 (Cao, Hansch & Wang 2009, "depth imbalance").
 *   ofi_k = sum over the last ofi_window book messages of
 *     e_k = 1{Pb_k>=Pb_k'}qb_k - 1{Pb_k<=Pb_k'}qb_k' - 1{Pa_k<=Pa_k'}qa_k + 1{Pa_k>=Pa_k'}qa_k'
 *     (Cont, Kukanov & Stoikov 2014, "The price impact of order book events", multi-level
 *     form as in Xu, Gould & Howison 2019). Exact int64.
 *   vpin_bvc, vpin_aggressor (Easley, Lopez de Prado & O'Hara 2012, "Flow toxicity and
 *     liquidity in a high-frequency world"): trade volume fills equal-volume buckets of
 *     vpin_bucket lots (a trade spanning a boundary is split); in a bucket V_buy =
 *     sum(v_j * Phi(dp_j / sigma_j)) with dp_j the trade-to-trade price change and sigma_j
 *     the population std of the last bvc_window changes including dp_j (Phi(0) when
 *     sigma_j = 0), V_sell = V - V_buy; VPIN = mean |V_buy - V_sell| / V over the last
 *     vpin_buckets full buckets (NaN before the first). The aggressor variant counts a
 *     buyer-initiated trade as buy, seller-initiated as sell, unknown as half each.
 *   kyle_lambda = OLS slope of y_m/2 on x_m over the last kyle_window book messages
 *     (Kyle 1985; Hasbrouck 2007 ch. 5): (n*Sxy - Sx*Sy)/(n*Sxx - Sx^2)/2, sums exact
 *     in 128-bit; NaN when the denominator is 0.
 *   realized_vol = sqrt(sum of (y_m/2)^2 over the last rv_window messages) / mid
 *     (Andersen & Bollerslev 1998, realized variance on event time).
 *   trade_intensity = c / max(now - t_oldest, 1 us) * 1e9 over the last c <= trade_window
 *     trades (0 with no trades); signed_volume = sum of their signed lots.
 *   cancel_burst: per message, touch depth removed unexplained by trades,
 *     c_m = sum over sides of max(removed - traded, 0), removed = qb_1' if the best bid
 *     price fell or vanished, max(qb_1' - qb_1, 0) if it stayed, 0 if it rose (asks
 *     mirrored), traded = volume that hit that touch price since message m-1. rate_W =
 *     (sum of c over the last W messages) / max(t_m - t_(m-W+1), 1 us); cancel_burst =
 *     rate_short / rate_long (0 when rate_long = 0).
 *   bid_age, ask_age = now - time the current best price first appeared (NaN if empty).
 *   queue_ahead_bid = qb_1, queue_ahead_ask = qa_1: a new order joins behind them (FIFO).
 *   fill_eta_bid = qb_1 / r_b with r_b = (lots of seller-initiated trades at price Pb_1
 *     among the last trade_window trades) / max(now - t_oldest, 1 us); +inf when r_b = 0
 *     (NaN if the side is empty); fill_eta_ask mirrored with buyer-initiated trades.
 *
 * Invariants: ring heads and counts stay within their capacities; lv[cur_i] is the book's
 * exact top L per side after the last message; a window sum is the difference of two
 * running totals (bot4_features_totals), exact for integers. Cost per event: a trade row
 * is O(1) (a boundary-crossing trade O(buckets it closes)); the END row of a book message
 * costs O(L) per row inside the top L plus one record of totals: when the batch driver
 * knows the book applied the message row for row, the top L is patched from the rows
 * (inserts shift, deletes shift and refill the tail from the book with
 * bot4_book_top_below), else it is read (bot4_book_top). The vector is O(trade_window +
 * vpin_buckets) (queue fill rates, bucket mean). No allocation after init.
 *
 * SIMD: two kernels have scalar, AVX2 and AVX-512 bodies chosen once by
 * bot4_features_dispatch_init: the OFI terms of a message (the L levels of both sides
 * compared at once, branch-free) and the queue fill-rate scan of the trade ring
 * (bot4_features_touch_volume: a masked sum of int64 lots); the check of given levels has
 * scalar and AVX2 bodies (AVX-512 machines run the AVX2 one: ten lanes of compares gain
 * nothing from a zmm). Integer arithmetic, so every body returns the same value bit for bit.
 */
#ifndef BOT4_MICRO_FEATURES_H
#define BOT4_MICRO_FEATURES_H

#include <stdint.h>

#include "book.h"
#include "events.h"

#define BOT4_FEATURES_LEVELS 5

enum {
    BOT4_F_SPREAD = 0,
    BOT4_F_MID,
    BOT4_F_MICRO,
    BOT4_F_MICRO_MOM,
    BOT4_F_IMB1,          /* .. BOT4_F_IMB1 + 4 */
    BOT4_F_IMB_CUM = BOT4_F_IMB1 + BOT4_FEATURES_LEVELS,
    BOT4_F_OFI1,          /* .. BOT4_F_OFI1 + 4 */
    BOT4_F_VPIN_BVC = BOT4_F_OFI1 + BOT4_FEATURES_LEVELS,
    BOT4_F_VPIN_AGGR,
    BOT4_F_KYLE,
    BOT4_F_RV,
    BOT4_F_TRADE_RATE,
    BOT4_F_SIGNED_VOL,
    BOT4_F_CANCEL_BURST,
    BOT4_F_BID_AGE,
    BOT4_F_ASK_AGE,
    BOT4_F_QAHEAD_BID,
    BOT4_F_QAHEAD_ASK,
    BOT4_F_ETA_BID,
    BOT4_F_ETA_ASK,
    BOT4_F_N
};

enum { BOT4_FEATURES_OK = 0, BOT4_FEATURES_ENOMEM = -1, BOT4_FEATURES_EINVAL = -2,
       BOT4_FEATURES_EBADINPUT = -3 };

typedef struct bot4_features_params {
    int64_t ofi_window, kyle_window, rv_window, cancel_short, cancel_long; /* book messages */
    int64_t trade_window, bvc_window;                                       /* trades */
    int64_t vpin_bucket;   /* lots per bucket */
    int64_t vpin_buckets;  /* buckets averaged */
    int64_t momentum_lag;  /* decision points */
} bot4_features_params;

/* Top levels of the book after one message (also the trace the tests check). */
typedef struct bot4_features_levels {
    int64_t ts;
    int64_t bid_px[BOT4_FEATURES_LEVELS], bid_qty[BOT4_FEATURES_LEVELS];
    int64_t ask_px[BOT4_FEATURES_LEVELS], ask_qty[BOT4_FEATURES_LEVELS]; /* missing: 0, 0 */
} bot4_features_levels;

/* Running totals of the per-message series after one message. Window sums over book
 * messages are differences of two of these (now minus W messages back), so a message
 * costs one record write and no per-window subtraction. Unsigned: the totals wrap
 * modulo 2^64 / 2^128, and a difference is exact whenever the window sum itself fits in
 * int64 / __int128 (two's complement), however long the session. */
typedef struct bot4_features_totals {
    uint64_t ofi[BOT4_FEATURES_LEVELS];  /* e_k */
    uint64_t x, y, c;                    /* signed volume, 2*mid change, unexplained removal */
    int64_t ts;                          /* time of the message (not a total) */
    unsigned __int128 xx, xy, yy;
} bot4_features_totals;

typedef struct bot4_features {
    bot4_features_params p;
    int64_t now;
    /* book state after the last message and the one before: lv[cur_i], lv[1 - cur_i]
     * (double-buffered: a message writes the new state into the other buffer and flips,
     * so the previous one stays for the per-message terms; a message that leaves the top
     * as it was does not flip) */
    bot4_features_levels lv[2];
    int cur_i;
    int has_book;
    int64_t msgs;                 /* book messages seen */
    /* totals after each of the last msg_cap messages (ring; msg_cap = max window + 1) */
    int64_t msg_cap, msg_head;    /* head = slot of the next message */
    bot4_features_totals *tot;
    int64_t x_acc;                /* signed volume since the last message */
    int64_t hit_bid, hit_ask;     /* volume traded at the current touch since the last message */
    int64_t bid_since, ask_since;
    /* trade ring, capacity trade_window */
    int64_t *t_ts, *t_px, *t_qty, *t_side; /* side widened to int64 for the SIMD scan */
    int64_t t_head, t_n, trades;
    int64_t sv_sum;
    /* bulk volume classification */
    int64_t *b_dp; int64_t b_head, b_n; int64_t b_s; __int128 b_ss;
    int64_t last_trade_px; int has_last_trade;
    /* vpin buckets */
    int64_t bucket_fill;
    double bucket_buy_bvc;
    int64_t bucket_buy2_aggr;     /* twice the aggressor buy volume (unknown counts 1 of 2) */
    double *v_bvc, *v_aggr; int64_t v_head, v_n;
    /* decision points */
    double *mom; int64_t mom_head, mom_n, samples;
} bot4_features;

/* Select the touch_volume body: level is a bot4_simd_level (simd.h). Returns OK, or EINVAL
 * for an unknown level (the caller checks the CPU supports it). Default: scalar. */
int bot4_features_dispatch_init(int level);
/* sum of qty[i] for i < n with px[i] == price and side[i] == side, by the selected body;
 * the _level form runs the named body (tests). */
int64_t bot4_features_touch_volume(const int64_t *px, const int64_t *side, const int64_t *qty,
                                   int64_t n, int64_t price, int64_t side_value);
int64_t bot4_features_touch_volume_level(int level, const int64_t *px, const int64_t *side,
                                         const int64_t *qty, int64_t n, int64_t price,
                                         int64_t side_value);

/* The OFI terms e[0..L) of a message (c after, pv before; formula above) by the named body
 * (tests compare them); EINVAL for an unknown level. The update uses the selected body. */
int bot4_features_ofi_level(int level, const bot4_features_levels *c, const bot4_features_levels *pv,
                            int64_t *e);

int bot4_features_params_check(const bot4_features_params *p);
int bot4_features_init(bot4_features *f, const bot4_features_params *p);
void bot4_features_free(bot4_features *f);
void bot4_features_reset(bot4_features *f);

/* One event row, after the book has applied it. Book rows act at their END flag. */
void bot4_features_on_event(bot4_features *f, const bot4_book *b, const bot4_event *ev);
/* The current state, without marking a decision point: out[BOT4_F_N]. */
void bot4_features_vector(const bot4_features *f, double *out);
/* A book message ended and left these top levels (exact: bids best first, asks best first,
 * missing levels (0, 0) at the end): the entry point for a feed that delivers the top L
 * itself (partial-depth streams), with no book. Same update as a book message's END row. */
void bot4_features_on_levels(bot4_features *f, const bot4_features_levels *lv);
/* Check n rows of top levels for bot4_features_on_levels/run_levels: per side a prefix of
 * levels with qty > 0 and price in (0, BOT4_BOOK_PRICE_MAX], strictly worse level by level
 * (bids descending, asks ascending), then (0, 0). Returns OK, or EINVAL with the first bad
 * row, side (BOT4_SIDE_BID/ASK), level index and reason (BOT4_FEATURES_LV_*). */
enum {
    BOT4_FEATURES_LV_QTY = 1,       /* negative quantity */
    BOT4_FEATURES_LV_PRICE,         /* price out of range at a level with quantity */
    BOT4_FEATURES_LV_MISSING_PRICE, /* a missing level's price is not 0 */
    BOT4_FEATURES_LV_GAP,           /* a level after a missing one */
    BOT4_FEATURES_LV_ORDER,         /* not strictly worse than the level before it */
};
int bot4_features_levels_check(const bot4_features_levels *lv, int64_t n, int64_t *row,
                               int *side, int *level, int *reason);
/* A decision point: out[BOT4_F_N] as above, then the microprice joins the momentum ring. */
void bot4_features_sample(bot4_features *f, double *out);

/* Malformed input found by a checking batch driver (BOT4_FEATURES_EBADINPUT). */
enum { BOT4_FEATURES_FAULT_NONE = 0, BOT4_FEATURES_FAULT_EVENTS, BOT4_FEATURES_FAULT_LEVELS };
typedef struct bot4_features_fault {
    int source;      /* BOT4_FEATURES_FAULT_* */
    int64_t row;     /* the event row, or the levels row */
    int reason;      /* events: a BOT4_BOOK_V_* reason; levels: a BOT4_FEATURES_LV_* one */
    int64_t value;   /* events: the offending value */
    int side, level; /* levels: where (else -1) */
} bot4_features_fault;

/* Batch driver over an event array: applies each book message to b, updates f, and samples
 * after the row closing a message or a trade when `every` rows (>0) have passed since the
 * last sample, or when interval_ns (>0) has elapsed since it. Writes up to cap samples:
 * out[cap][BOT4_F_N], out_row[cap] (index of the row sampled after). trace (may be NULL,
 * capacity trace_cap) gets the top levels after every book message. *n_out / *n_trace =
 * rows written. fault NULL: the rows were validated (bot4_book_validate_batch); else they
 * are checked by the same rules piece by piece just before use (one pass over memory), and
 * a malformed row stops the run with BOT4_FEATURES_EBADINPUT and *fault filled: f and b
 * then hold the state of the rows before it, for the caller to discard. Returns OK,
 * ENOMEM (book), EBADINPUT, or EINVAL when out or trace would overflow (what was written
 * stays valid). */
int bot4_features_run(bot4_features *f, bot4_book *b, const bot4_event *ev, int64_t n,
                      int64_t every, int64_t interval_ns, double *out, int64_t *out_row,
                      int64_t cap, int64_t *n_out, bot4_features_levels *trace,
                      int64_t trace_cap, int64_t *n_trace, bot4_features_fault *fault);
/* The same driver with the top levels given instead of a book: levels[j] is the state after
 * the j-th book message of ev (n_levels of them; e.g. a trace of bot4_features_run), its
 * ts taken from the message's END row; with a fault record each levels row is checked
 * (bot4_features_levels_check) as it is used. EINVAL when the levels run out. */
int bot4_features_run_levels(bot4_features *f, const bot4_event *ev, int64_t n,
                             const bot4_features_levels *levels, int64_t n_levels,
                             int64_t every, int64_t interval_ns, double *out, int64_t *out_row,
                             int64_t cap, int64_t *n_out, bot4_features_fault *fault);

#endif
