/* book.h - L2 order book on int64 ticks and lots, with Binance sequence tracking.
 *
 * Representation (per side), chosen for the measured shape of Binance BTCUSDT diffs
 * (spot, tick 0.01: ~80% of level updates within 2^15 ticks of the touch, a long tail to
 * 2^24; USD-M, tick 0.1: ~97% within 2^13) and a side carrying 1,000-5,000 levels:
 *   - A dense window of W slots (W a power of two, default 2^17) indexed by key - base,
 *     holding the quantity of every level whose key is in [base, base + W). Updating a
 *     level there is one store plus one bit flip: no search, no memmove. The batch loop
 *     prefetches the slot of the row 8 ahead, so cache misses overlap.
 *   - An occupancy bitmap over the window (one bit per tick, 64 per word) and a summary
 *     bitmap (one bit per non-empty word), so the next level below any slot is found
 *     with two __builtin_clzll in O(W / 4096) worst case, O(1) typically.
 *   - An overflow array, sorted by key ascending (best at the END), for levels worse than
 *     the window. The levels just below the window, where overflow traffic concentrates,
 *     sit at its end, so updating them moves few bytes, and re-centring moves levels
 *     between window and overflow at that end; an absent far-away delete is a binary
 *     search and a no-op (a present one a memmove of the overflow, ~1% of updates).
 * Why not a sorted array per side: spot updates land ~10^4 ticks deep, so each would
 * move kilobytes; why not a tree/hash: pointer chasing and hashing cost more than one
 * indexed store, and the bitmap gives ordered walks (best, top-N, fill) for free.
 * Keys make both sides one code path: key = price for bids, key = -price for asks, so
 * "better" is always "larger key" and the best level is the largest key.
 *
 * Invariants (per side):
 *   - qty[i] != 0 exactly when bit i is set; summary bit w set exactly when bits[w] != 0.
 *   - every overflow key < base, overflow keys strictly ascending, overflow qty > 0.
 *   - no level has key >= base + W; best is the highest set window index, -1 if none.
 *   - the window is empty only if the overflow is empty (so the best is in the window).
 * Re-centring: a level better than the window, an emptied window, or a best that drifts
 * into the bottom eighth of the window moves the window so the best sits at 3W/4:
 * O(W/64 + levels moved), rare (needs a move of W/4 up or 5W/8 down between them).
 *
 * Cost per operation: update in the window O(1) (+O(W/4096) when the best is deleted);
 * update below the window O(log n_overflow + levels between it and the window's end);
 * best O(1); depth_at O(1) in the window, O(log n) below; top-N and fill walk
 * O(levels walked + empty bitmap words). Memory: 8W + W/8 bytes per side (2.1 MB a book
 * at the default W) plus 16 bytes per overflow level.
 *
 * Sequence tracking (Binance): see bot4_book_apply_batch below. Prices must be in
 * (0, BOT4_BOOK_PRICE_MAX]; quantities >= 0. The Cython layer checks both, so the C
 * trusts them. Functions return BOT4_BOOK_OK or a negative status; nothing aborts/prints.
 *
 * Diff buffer (diffs that arrive while no snapshot is usable): a ring of at most
 * pending_max event rows, whole messages in arrival order starting at row pending_head.
 * Invariants: 0 <= pending_n <= pending_cap <= pending_max; the rows of one message are
 * consecutive modulo pending_cap (a message may wrap past the array's end); the book
 * holds buffered rows only while it waits for a snapshot (state WAIT_SNAPSHOT).
 * Costs: buffering a message of n rows copies its n rows in, O(n), whatever the ring
 * holds; when full, the oldest messages are dropped (each counted in diffs_buffer_dropped)
 * by finding their END rows, O(rows dropped) - every row is dropped at most once, so the
 * amortized cost is O(1) per row. The ring grows by doubling up to pending_max, moving
 * its rows once per doubling (O(1) amortized per row). Draining after a snapshot hands
 * each message to the sequence rules in place; a message that wraps is first copied into
 * a scratch buffer, O(its rows), at most one message per trip round the ring. Every row
 * written or moved inside the buffer is counted in stats.diffs_buffer_rows_copied.
 */
#ifndef BOT4_BOOK_H
#define BOT4_BOOK_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"

enum {
    BOT4_BOOK_OK = 0,
    BOT4_BOOK_ENOMEM = -1,
    BOT4_BOOK_EINVAL = -2,
};

#define BOT4_BOOK_PRICE_MAX (((int64_t)1) << 62)
#define BOT4_BOOK_WINDOW_MIN (((int64_t)1) << 12)
#define BOT4_BOOK_WINDOW_MAX (((int64_t)1) << 24)
#define BOT4_BOOK_WINDOW_DEFAULT (((int64_t)1) << 17)
#define BOT4_BOOK_PENDING_DEFAULT (((int64_t)1) << 18)

typedef struct bot4_book_side {
    int64_t base;       /* key of window slot 0 */
    int64_t best;       /* window index of the best level, -1 when the window is empty */
    int64_t count;      /* levels in the window */
    int64_t *qty;       /* [W] lots per slot, 0 = no level */
    uint64_t *bits;     /* [W/64] occupancy */
    uint64_t *summary;  /* [W/4096] bit w set when bits[w] != 0 */
    int64_t *ovf_key;   /* [ovf_cap] keys < base, strictly ascending (best at the end) */
    int64_t *ovf_qty;
    int64_t ovf_n, ovf_cap;
    int64_t sign;       /* +1 bids, -1 asks: key = sign * price */
} bot4_book_side;

/* Cumulative counters since init/reset (batch calls report their own deltas). */
typedef struct bot4_book_stats {
    int64_t rows;             /* event rows seen by apply_batch */
    int64_t level_updates;    /* level updates applied (diff rows, snapshot rows, update()) */
    int64_t snapshots;        /* snapshots applied */
    int64_t diffs_applied;    /* diff messages applied */
    int64_t diffs_stale;      /* diff messages dropped as older than the book (see rules) */
    int64_t diffs_buffered;   /* diff messages received while waiting for a snapshot */
    int64_t diffs_buffer_dropped; /* buffered diffs discarded because the buffer was full */
    int64_t diffs_no_snapshot; /* unsequenced diffs dropped: no snapshot applied yet */
    int64_t gaps;             /* sequence breaks: the book then needs a resync */
    int64_t resyncs;          /* snapshots applied while a resync was needed after a gap */
    int64_t crossed;          /* messages after which best bid >= best ask */
    int64_t rows_skipped;     /* trade and quote rows (not book events) */
    int64_t bbo_written;      /* rows written to the BBO output */
    int64_t diffs_buffer_rows_copied; /* rows written or moved inside the diff buffer */
} bot4_book_stats;

/* One row per applied diff message: the top of book after it. Empty side: price 0, qty 0. */
typedef struct bot4_book_bbo {
    int64_t u;         /* seq_last of the diff (Binance u) */
    int64_t ts_local;  /* ts_local of the diff's first row */
    int64_t bid_price, bid_qty, ask_price, ask_qty;
} bot4_book_bbo;

enum { /* sequence state */
    BOT4_BOOK_WAIT_SNAPSHOT = 0, /* no usable snapshot: diffs are buffered, not applied */
    BOT4_BOOK_SYNCING = 1,       /* snapshot applied, waiting for the diff straddling it */
    BOT4_BOOK_LIVE = 2,          /* in sequence */
};

enum { /* which Binance sequencing rule a sequenced diff is checked against */
    BOT4_BOOK_SEQ_AUTO = 0,    /* per message: futures when it carries pu (seq_prev != SEQ_NONE) */
    BOT4_BOOK_SEQ_SPOT = 1,    /* always the spot rule (pu ignored) */
    BOT4_BOOK_SEQ_FUTURES = 2, /* always the USD-M/COIN-M rule (a diff without pu is a gap) */
};

typedef struct bot4_book {
    bot4_book_side side[2];   /* [BOT4_SIDE_BID], [BOT4_SIDE_ASK] */
    int64_t window;           /* W */
    int64_t words;            /* W / 64 */
    int64_t sum_words;        /* W / 4096 */
    int64_t *tmp_key, *tmp_qty; int64_t tmp_cap;   /* re-centring scratch */
    /* sequence */
    int state;
    int sequencing;           /* BOT4_BOOK_SEQ_*: AUTO after init */
    int needs_resync;         /* a gap happened and no snapshot has been applied since */
    int64_t last_update_id;   /* snapshot lastUpdateId, then the last applied u; -1 none */
    /* diff buffer: a ring (see the header comment) */
    bot4_event *pending;      /* [pending_cap] rows */
    int64_t pending_cap;      /* rows allocated, grows by doubling up to pending_max */
    int64_t pending_head;     /* ring index of the oldest buffered row */
    int64_t pending_n;        /* rows buffered */
    int64_t pending_msgs;     /* messages buffered */
    int64_t pending_max;      /* max rows buffered while waiting for a snapshot */
    bot4_event *scratch; int64_t scratch_cap;   /* a wrapped message, made contiguous */
    bot4_book_stats stats;
} bot4_book;

/* Validation failure of a batch: the first offending row, what is wrong, the value. */
enum {
    BOT4_BOOK_V_KIND = 1,          /* kind not in 1..4 */
    BOT4_BOOK_V_SIDE,              /* side not in 0..2 */
    BOT4_BOOK_V_PRICE,             /* price <= 0 or > BOT4_BOOK_PRICE_MAX on a priced row */
    BOT4_BOOK_V_QTY,               /* qty < 0 */
    BOT4_BOOK_V_TS_UNSORTED,       /* ts_local lower than the previous row's */
    BOT4_BOOK_V_NO_BEGIN,          /* snapshot/update row outside a message, no BEGIN flag */
    BOT4_BOOK_V_NESTED,            /* BEGIN while the previous message is still open */
    BOT4_BOOK_V_UNTERMINATED,      /* message not closed by END (other kind or batch end) */
    BOT4_BOOK_V_SEQ_MISMATCH_FIRST,/* seq_first differs within one message */
    BOT4_BOOK_V_SEQ_MISMATCH_LAST, /* seq_last differs within one message */
    BOT4_BOOK_V_SEQ_MISMATCH_PREV, /* seq_prev differs within one message */
    BOT4_BOOK_V_SEQ_RANGE_FIRST,   /* diff seq_first < 0 or > seq_last (or set when u is absent) */
    BOT4_BOOK_V_SEQ_RANGE_LAST,    /* snapshot/diff seq_last < -1 */
    BOT4_BOOK_V_SIDE_NONE,         /* side NONE in a message of more than one row */
    BOT4_BOOK_V_SNAP_QTY,          /* snapshot level with qty 0 */
    BOT4_BOOK_V_SNAP_UNSORTED,     /* snapshot bids not strictly descending / asks ascending */
    BOT4_BOOK_V_SNAP_CROSSED,      /* snapshot best bid >= best ask */
};

typedef struct bot4_book_verr {
    int64_t row;
    int reason;
    int64_t value;
} bot4_book_verr;

/* Lifecycle. window: power of two in [WINDOW_MIN, WINDOW_MAX]; pending_max: rows >= 1. */
int bot4_book_init(bot4_book *b, int64_t window, int64_t pending_max);
void bot4_book_free(bot4_book *b);
void bot4_book_reset(bot4_book *b);   /* empty book, no snapshot, counters zeroed */
/* Sequencing rule (BOT4_BOOK_SEQ_*), kept across reset. EINVAL for another value. */
int bot4_book_set_sequencing(bot4_book *b, int mode);

/* One level: qty 0 deletes (absent level: no-op). No sequence checks. */
int bot4_book_update(bot4_book *b, int side, int64_t price, int64_t qty);

/* Replace the book: bids strictly descending, asks strictly ascending, qty > 0, not crossed
 * (the caller checks). Sets lastUpdateId and replays diffs buffered while waiting; bbo
 * rows for the replayed diffs go to out (may be NULL) - out_cap must be >= pending_msgs;
 * *n_out = rows written. */
int bot4_book_apply_snapshot(bot4_book *b, const int64_t *bid_px, const int64_t *bid_qty,
                             int64_t n_bid, const int64_t *ask_px, const int64_t *ask_qty,
                             int64_t n_ask, int64_t last_update_id, bot4_book_bbo *out,
                             int64_t *n_out);

/* Check a whole batch before anything is applied. Returns BOT4_BOOK_OK, or
 * BOT4_BOOK_EINVAL with *err filled. *n_diff_msgs = diff messages in the batch. */
int bot4_book_validate_batch(const bot4_event *ev, int64_t n, bot4_book_verr *err,
                             int64_t *n_diff_msgs);

/* The same check in pieces, for a consumer that validates rows just before it uses them
 * (one pass over memory instead of two): init, then rows [from, to) of one array in
 * order (a message may span pieces: rows are addressed in the whole array), then end
 * (which reports a message left open). The state is the batch check's own. */
typedef struct bot4_book_vstate {
    int64_t open;                   /* first row of the open message, -1 if none */
    int64_t snap_last[2], snap_best[2];
    int snap_seen[2];
    int64_t diffs;
} bot4_book_vstate;
void bot4_book_validate_init(bot4_book_vstate *v);
int bot4_book_validate_rows(bot4_book_vstate *v, const bot4_event *ev, int64_t from, int64_t to,
                            bot4_book_verr *err);
int bot4_book_validate_end(const bot4_book_vstate *v, const bot4_event *ev, bot4_book_verr *err);

/* Apply a validated batch (see bot4_book_validate_batch) in row order:
 *   snapshot message (rows BEGIN..END): replaces the book, lastUpdateId L = seq_last, then
 *     replays the diffs buffered while waiting for it, oldest first;
 *   diff message (U = seq_first, u = seq_last, pu = seq_prev), while waiting for a
 *     snapshot: buffered (Binance: "buffer the events"); otherwise checked against the
 *     rule of its market - futures when b->sequencing is FUTURES, or AUTO and the diff
 *     carries pu (spot diffs never do); spot otherwise. With `last` = L until a diff is
 *     applied, then that diff's u:
 *       spot, first after the snapshot: u <= L stale; applied if U <= L+1 (<= u); else gap;
 *       spot, afterwards:               u <= last stale; applied if U == last+1; else gap;
 *       futures, first after snapshot:  u < L stale; applied if U <= L (<= u); else gap;
 *       futures, afterwards:            applied if pu == last; else gap.
 *     (book.c cites the Binance documents these come from.)
 *   A gap marks the book needs_resync, back to waiting: nothing more is applied until a
 *   snapshot (the breaking diff is buffered for it).
 *   Unsequenced feeds (seq_last == SEQ_NONE, e.g. Tardis): a snapshot sets no
 *     lastUpdateId; a diff is applied whenever a snapshot has been, else dropped and
 *     counted in diffs_no_snapshot (it is older than the first snapshot).
 *   trade/quote rows: counted as skipped.
 * out (may be NULL) gets one row per applied diff; capacity must be >= diff messages in
 * the batch + pending_msgs. *n_out = rows written. Returns OK or ENOMEM (then the book is
 * marked needs_resync and waits for a snapshot: its levels can no longer be trusted). */
int bot4_book_apply_batch(bot4_book *b, const bot4_event *ev, int64_t n, bot4_book_bbo *out,
                          int64_t *n_out);

/* Queries. best: 1 and (*px, *qty) if the side has a level, else 0. */
int bot4_book_best(const bot4_book *b, int side, int64_t *px, int64_t *qty);
int64_t bot4_book_depth_at(const bot4_book *b, int side, int64_t price);
int64_t bot4_book_level_count(const bot4_book *b, int side);
int bot4_book_is_crossed(const bot4_book *b);
/* Up to n best levels of a side, best first; returns how many were written. */
int64_t bot4_book_top(const bot4_book *b, int side, int64_t n, int64_t *px, int64_t *qty);
/* The same for the levels strictly worse than `price` (any price, present or not): the
 * next n levels below a known prefix of the side, without walking the prefix again. */
int64_t bot4_book_top_below(const bot4_book *b, int side, int64_t price, int64_t n, int64_t *px,
                            int64_t *qty);
/* Walk side from the touch taking up to qty lots. notional (sum price*lots, exact) is
 * returned as hi:lo of a 128-bit integer. Returns BOT4_BOOK_OK. */
int bot4_book_fill(const bot4_book *b, int side, int64_t qty, int64_t *filled,
                   int64_t *notional_hi, uint64_t *notional_lo, int64_t *levels);

/* Verify every invariant listed above, O(W + levels): 0 when they hold, else the number
 * (1..8) of the first broken one (for tests; never needed in operation). */
int bot4_book_check(const bot4_book *b);

#endif
