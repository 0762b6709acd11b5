/* book.c - L2 order book: dense window + occupancy bitmap + sorted overflow per side,
 * and Binance diff sequencing (spot and futures rules, cited at seq_verdict) with a ring
 * buffer for diffs that arrive while no snapshot is usable.
 *
 * Design, invariants and costs are stated in book.h. Notes on this file:
 *   - every allocation happens before the structure is mutated, so ENOMEM leaves the
 *     side as it was (update/recentre) - the batch then marks the book needs_resync;
 *   - the batch trusts its input: bot4_book_validate_batch (called by the Cython layer
 *     first), or its piecewise form just ahead of use (the features driver), guarantees
 *     framing, ranges, sorted snapshots and ts_local order.
 */
#include "book.h"

#include <stdlib.h>
#include <string.h>

#define BOOK_PREFETCH 8 /* rows ahead whose window slot is prefetched in a diff */

/* ---------------------------------------------------------------- side: bitmap helpers */

static inline void side_set_bit(bot4_book_side *s, int64_t i)
{
    int64_t w = i >> 6;
    s->bits[w] |= 1ULL << (i & 63);
    s->summary[w >> 6] |= 1ULL << (w & 63);
}

static inline void side_clear_bit(bot4_book_side *s, int64_t i)
{
    int64_t w = i >> 6;
    s->bits[w] &= ~(1ULL << (i & 63));
    if (s->bits[w] == 0)
        s->summary[w >> 6] &= ~(1ULL << (w & 63));
}

/* Highest set window index <= i, or -1. */
static inline int64_t side_prev_set(const bot4_book_side *s, int64_t i)
{
    if (i < 0)
        return -1;
    int64_t w = i >> 6;
    /* bits 0..(i&63) of word w; for i&63 == 63 the shift wraps to 0 and -1 gives all ones */
    uint64_t m = s->bits[w] & ((2ULL << (i & 63)) - 1);
    if (m)
        return (w << 6) + 63 - __builtin_clzll(m);
    if (w == 0)
        return -1;
    int64_t wb = w - 1; /* highest non-empty word <= wb */
    int64_t sw = wb >> 6;
    uint64_t sm = s->summary[sw] & ((2ULL << (wb & 63)) - 1);
    while (!sm) {
        if (sw == 0)
            return -1;
        sm = s->summary[--sw];
    }
    int64_t w2 = (sw << 6) + 63 - __builtin_clzll(sm);
    return (w2 << 6) + 63 - __builtin_clzll(s->bits[w2]);
}

/* ---------------------------------------------------------------- side: storage */

static int grow_pair(int64_t **a, int64_t **b, int64_t *cap, int64_t need)
{
    if (need <= *cap)
        return BOT4_BOOK_OK;
    int64_t nc = *cap ? *cap : 256;
    while (nc < need)
        nc *= 2;
    int64_t *na = realloc(*a, (size_t)nc * sizeof(int64_t));
    if (!na)
        return BOT4_BOOK_ENOMEM;
    *a = na;
    int64_t *nb = realloc(*b, (size_t)nc * sizeof(int64_t));
    if (!nb)
        return BOT4_BOOK_ENOMEM; /* a grew, cap unchanged: still consistent */
    *b = nb;
    *cap = nc;
    return BOT4_BOOK_OK;
}

/* Remove every level of the side (cost O(levels + W/4096)). */
static void side_clear(bot4_book_side *s, int64_t sum_words)
{
    for (int64_t sw = 0; sw < sum_words; sw++) {
        uint64_t sm = s->summary[sw];
        while (sm) {
            int64_t w = (sw << 6) + __builtin_ctzll(sm);
            sm &= sm - 1;
            uint64_t m = s->bits[w];
            while (m) {
                s->qty[(w << 6) + __builtin_ctzll(m)] = 0;
                m &= m - 1;
            }
            s->bits[w] = 0;
        }
        s->summary[sw] = 0;
    }
    s->count = 0;
    s->best = -1;
    s->ovf_n = 0;
}

/* First overflow position whose key is >= key (keys ascending), by binary search. */
static inline int64_t ovf_lower(const bot4_book_side *s, int64_t key)
{
    int64_t lo = 0, hi = s->ovf_n;
    while (lo < hi) {
        int64_t mid = lo + ((hi - lo) >> 1);
        if (s->ovf_key[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int ovf_update(bot4_book_side *s, int64_t key, int64_t qty)
{
    int64_t n = s->ovf_n;
    int64_t pos;
    /* the levels just below the window, the busiest, are at the end: check it first */
    if (n == 0 || s->ovf_key[n - 1] < key)
        pos = n;
    else
        pos = ovf_lower(s, key);
    if (pos < n && s->ovf_key[pos] == key) {
        if (qty) {
            s->ovf_qty[pos] = qty;
        } else {
            memmove(s->ovf_key + pos, s->ovf_key + pos + 1, (size_t)(n - pos - 1) * sizeof(int64_t));
            memmove(s->ovf_qty + pos, s->ovf_qty + pos + 1, (size_t)(n - pos - 1) * sizeof(int64_t));
            s->ovf_n = n - 1;
        }
        return BOT4_BOOK_OK;
    }
    if (!qty)
        return BOT4_BOOK_OK; /* delete of an absent level */
    if (grow_pair(&s->ovf_key, &s->ovf_qty, &s->ovf_cap, n + 1))
        return BOT4_BOOK_ENOMEM;
    memmove(s->ovf_key + pos + 1, s->ovf_key + pos, (size_t)(n - pos) * sizeof(int64_t));
    memmove(s->ovf_qty + pos + 1, s->ovf_qty + pos, (size_t)(n - pos) * sizeof(int64_t));
    s->ovf_key[pos] = key;
    s->ovf_qty[pos] = qty;
    s->ovf_n = n + 1;
    return BOT4_BOOK_OK;
}

/* Move the window so that `top` (the best key after the caller's change) sits at 3W/4.
 * Requires every level key <= top. Allocates first; on ENOMEM nothing has changed. */
static int side_recentre(bot4_book *b, bot4_book_side *s, int64_t top)
{
    const int64_t W = b->window;
    int64_t new_base = top - (W - W / 4);
    /* scratch for the window's levels, overflow room for those that fall below */
    if (grow_pair(&b->tmp_key, &b->tmp_qty, &b->tmp_cap, s->count + 1))
        return BOT4_BOOK_ENOMEM;
    if (grow_pair(&s->ovf_key, &s->ovf_qty, &s->ovf_cap, s->ovf_n + s->count + 1))
        return BOT4_BOOK_ENOMEM;
    /* 1. take the window's levels out, best first (keys descending) */
    int64_t n = 0;
    for (int64_t i = s->best; i >= 0; i = side_prev_set(s, i - 1)) {
        b->tmp_key[n] = s->base + i;
        b->tmp_qty[n] = s->qty[i];
        s->qty[i] = 0;
        n++;
    }
    memset(s->bits, 0, (size_t)b->words * sizeof(uint64_t));
    memset(s->summary, 0, (size_t)b->sum_words * sizeof(uint64_t));
    s->count = 0;
    s->best = -1;
    int64_t old_base = s->base;
    s->base = new_base;
    /* 2. the old window's levels: >= new_base back into the window, the rest (all above
     *    the overflow, whose keys are < old_base) onto the overflow's end, ascending */
    int64_t j = 0;
    while (j < n && b->tmp_key[j] >= new_base) {
        int64_t i = b->tmp_key[j] - new_base;
        s->qty[i] = b->tmp_qty[j];
        side_set_bit(s, i);
        j++;
    }
    s->count = j;
    for (int64_t k = n - 1; k >= j; k--) { /* tmp is descending: append from its end */
        s->ovf_key[s->ovf_n] = b->tmp_key[k];
        s->ovf_qty[s->ovf_n] = b->tmp_qty[k];
        s->ovf_n++;
    }
    /* 3. when moving down, the overflow's end now belongs in the window */
    if (new_base < old_base) {
        while (s->ovf_n && s->ovf_key[s->ovf_n - 1] >= new_base) {
            int64_t k = --s->ovf_n;
            int64_t i = s->ovf_key[k] - new_base;
            s->qty[i] = s->ovf_qty[k];
            side_set_bit(s, i);
            s->count++;
        }
    }
    s->best = side_prev_set(s, W - 1);
    return BOT4_BOOK_OK;
}

/* Set the level at key to qty (0 deletes). */
static inline int side_update(bot4_book *b, bot4_book_side *s, int64_t key, int64_t qty)
{
    const int64_t W = b->window;
    int64_t i = key - s->base;
    if ((uint64_t)i < (uint64_t)W) {
        if (qty) {
            if (!s->qty[i]) {
                side_set_bit(s, i);
                s->count++;
                if (i > s->best)
                    s->best = i;
            }
            s->qty[i] = qty;
            return BOT4_BOOK_OK;
        }
        if (!s->qty[i])
            return BOT4_BOOK_OK;
        s->qty[i] = 0;
        side_clear_bit(s, i);
        s->count--;
        if (i == s->best) {
            s->best = side_prev_set(s, i - 1);
            /* keep the touch away from the window's bottom, the overflow out of the hot path */
            if (s->best < W / 8 && (s->best >= 0 || s->ovf_n)) {
                int64_t top = s->best >= 0 ? s->base + s->best : s->ovf_key[s->ovf_n - 1];
                return side_recentre(b, s, top);
            }
        }
        return BOT4_BOOK_OK;
    }
    /* a new best above the window, or the first level of an empty side (overflow empty
     * too): centre the window on it, then it is the best */
    const int new_best = i >= W ? qty != 0 : s->count == 0 && qty;
    if (new_best) {
        int rc = side_recentre(b, s, key);
        if (rc)
            return rc;
        i = key - s->base;
        s->qty[i] = qty;
        side_set_bit(s, i);
        s->count++;
        s->best = i;
        return BOT4_BOOK_OK;
    }
    if (i >= W)
        return BOT4_BOOK_OK; /* a delete above the window: no level lives there */
    return ovf_update(s, key, qty); /* below the window */
}

static inline int side_best(const bot4_book_side *s, int64_t *key, int64_t *qty)
{
    if (s->best >= 0) {
        *key = s->base + s->best;
        *qty = s->qty[s->best];
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- lifecycle */

static int side_init(bot4_book_side *s, int64_t W, int64_t sign)
{
    memset(s, 0, sizeof(*s));
    s->sign = sign;
    s->best = -1;
    s->qty = malloc((size_t)W * sizeof(int64_t));
    s->bits = malloc((size_t)(W / 64) * sizeof(uint64_t));
    s->summary = malloc((size_t)(W / 4096) * sizeof(uint64_t));
    if (!s->qty || !s->bits || !s->summary)
        return BOT4_BOOK_ENOMEM;
    /* memset rather than calloc: every page is touched (faulted in) here, at creation,
     * instead of on the hot path the first time an update lands on it */
    memset(s->qty, 0, (size_t)W * sizeof(int64_t));
    memset(s->bits, 0, (size_t)(W / 64) * sizeof(uint64_t));
    memset(s->summary, 0, (size_t)(W / 4096) * sizeof(uint64_t));
    return BOT4_BOOK_OK;
}

static void side_free(bot4_book_side *s)
{
    free(s->qty);
    free(s->bits);
    free(s->summary);
    free(s->ovf_key);
    free(s->ovf_qty);
    memset(s, 0, sizeof(*s));
}

int bot4_book_init(bot4_book *b, int64_t window, int64_t pending_max)
{
    memset(b, 0, sizeof(*b));
    if (window < BOT4_BOOK_WINDOW_MIN || window > BOT4_BOOK_WINDOW_MAX || (window & (window - 1)))
        return BOT4_BOOK_EINVAL;
    if (pending_max < 1)
        return BOT4_BOOK_EINVAL;
    b->window = window;
    b->words = window / 64;
    b->sum_words = window / 4096;
    b->pending_max = pending_max;
    if (side_init(&b->side[BOT4_SIDE_BID], window, 1) || side_init(&b->side[BOT4_SIDE_ASK], window, -1)) {
        bot4_book_free(b);
        return BOT4_BOOK_ENOMEM;
    }
    b->state = BOT4_BOOK_WAIT_SNAPSHOT;
    b->last_update_id = -1;
    return BOT4_BOOK_OK;
}

void bot4_book_free(bot4_book *b)
{
    side_free(&b->side[0]);
    side_free(&b->side[1]);
    free(b->tmp_key);
    free(b->tmp_qty);
    free(b->pending);
    free(b->scratch);
    memset(b, 0, sizeof(*b));
}

void bot4_book_reset(bot4_book *b)
{
    side_clear(&b->side[0], b->sum_words);
    side_clear(&b->side[1], b->sum_words);
    b->state = BOT4_BOOK_WAIT_SNAPSHOT;
    b->needs_resync = 0;
    b->last_update_id = -1;
    b->pending_head = 0;
    b->pending_n = 0;
    b->pending_msgs = 0;
    memset(&b->stats, 0, sizeof(b->stats));
}

/* ---------------------------------------------------------------- queries */

int bot4_book_update(bot4_book *b, int side, int64_t price, int64_t qty)
{
    bot4_book_side *s = &b->side[side];
    int rc = side_update(b, s, s->sign * price, qty);
    if (!rc)
        b->stats.level_updates++;
    return rc;
}

int bot4_book_best(const bot4_book *b, int side, int64_t *px, int64_t *qty)
{
    const bot4_book_side *s = &b->side[side];
    int64_t key;
    if (!side_best(s, &key, qty))
        return 0;
    *px = s->sign * key;
    return 1;
}

int64_t bot4_book_depth_at(const bot4_book *b, int side, int64_t price)
{
    const bot4_book_side *s = &b->side[side];
    int64_t key = s->sign * price;
    int64_t i = key - s->base;
    if ((uint64_t)i < (uint64_t)b->window)
        return s->qty[i];
    if (i >= b->window)
        return 0;
    int64_t pos = ovf_lower(s, key);
    return (pos < s->ovf_n && s->ovf_key[pos] == key) ? s->ovf_qty[pos] : 0;
}

int64_t bot4_book_level_count(const bot4_book *b, int side)
{
    return b->side[side].count + b->side[side].ovf_n;
}

int bot4_book_is_crossed(const bot4_book *b)
{
    int64_t bp, bq, ap, aq;
    if (!bot4_book_best(b, BOT4_SIDE_BID, &bp, &bq) || !bot4_book_best(b, BOT4_SIDE_ASK, &ap, &aq))
        return 0;
    return bp >= ap;
}

/* Levels of s with window index <= i (any i: clamped to the window), then the overflow
 * from position j downward, best first: the one ordered walk behind top and top_below. */
static int64_t side_walk(const bot4_book *b, const bot4_book_side *s, int64_t i, int64_t j,
                         int64_t n, int64_t *px, int64_t *qty)
{
    int64_t k = 0;
    if (i >= b->window)
        i = b->window - 1;
    for (i = i < s->best ? side_prev_set(s, i) : s->best; i >= 0 && k < n; i = side_prev_set(s, i - 1)) {
        px[k] = s->sign * (s->base + i);
        qty[k] = s->qty[i];
        k++;
    }
    for (; j >= 0 && k < n; j--) {
        px[k] = s->sign * s->ovf_key[j];
        qty[k] = s->ovf_qty[j];
        k++;
    }
    return k;
}

int64_t bot4_book_top(const bot4_book *b, int side, int64_t n, int64_t *px, int64_t *qty)
{
    const bot4_book_side *s = &b->side[side];
    return side_walk(b, s, s->best, s->ovf_n - 1, n, px, qty);
}

int64_t bot4_book_top_below(const bot4_book *b, int side, int64_t price, int64_t n, int64_t *px,
                            int64_t *qty)
{
    const bot4_book_side *s = &b->side[side];
    const int64_t key = s->sign * price;
    const int64_t i = key - s->base; /* levels below key: window indexes < i, then overflow keys < key */
    if (i > 0)
        return side_walk(b, s, i - 1, s->ovf_n - 1, n, px, qty);
    return side_walk(b, s, -1, ovf_lower(s, key) - 1, n, px, qty);
}

int bot4_book_fill(const bot4_book *b, int side, int64_t qty, int64_t *filled,
                   int64_t *notional_hi, uint64_t *notional_lo, int64_t *levels)
{
    const bot4_book_side *s = &b->side[side];
    int64_t left = qty, nlev = 0;
    __int128 notional = 0;
    for (int64_t i = s->best; i >= 0 && left > 0; i = side_prev_set(s, i - 1)) {
        int64_t take = s->qty[i] < left ? s->qty[i] : left;
        notional += (__int128)(s->sign * (s->base + i)) * take;
        left -= take;
        nlev++;
    }
    for (int64_t j = s->ovf_n - 1; j >= 0 && left > 0; j--) {
        int64_t take = s->ovf_qty[j] < left ? s->ovf_qty[j] : left;
        notional += (__int128)(s->sign * s->ovf_key[j]) * take;
        left -= take;
        nlev++;
    }
    *filled = qty - left;
    *notional_hi = (int64_t)(notional >> 64);
    *notional_lo = (uint64_t)notional;
    *levels = nlev;
    return BOT4_BOOK_OK;
}

static int side_check(const bot4_book *b, const bot4_book_side *s)
{
    int64_t count = 0, best = -1;
    for (int64_t w = 0; w < b->words; w++) {
        uint64_t m = s->bits[w];
        if (((s->summary[w >> 6] >> (w & 63)) & 1) != (m != 0))
            return 1; /* summary bit disagrees with its word */
        for (int64_t j = 0; j < 64; j++) {
            int64_t i = (w << 6) + j;
            int set = (m >> j) & 1;
            if (set != (s->qty[i] != 0))
                return 2; /* qty and occupancy bit disagree */
            if (set && s->qty[i] < 0)
                return 3;
            if (set) {
                count++;
                best = i;
            }
        }
    }
    if (count != s->count)
        return 4;
    if (best != s->best)
        return 5;
    for (int64_t k = 0; k < s->ovf_n; k++) {
        if (s->ovf_key[k] >= s->base || s->ovf_qty[k] <= 0)
            return 6; /* overflow level inside/above the window, or empty */
        if (k && s->ovf_key[k] <= s->ovf_key[k - 1])
            return 7; /* overflow not strictly ascending */
    }
    if (s->count == 0 && s->ovf_n)
        return 8; /* empty window over a non-empty overflow */
    return 0;
}

int bot4_book_check(const bot4_book *b)
{
    int rc = side_check(b, &b->side[0]);
    return rc ? rc : side_check(b, &b->side[1]);
}

/* ---------------------------------------------------------------- sequencing */

static void write_bbo(const bot4_book *b, int64_t u, int64_t ts, bot4_book_bbo *o)
{
    o->u = u;
    o->ts_local = ts;
    if (!bot4_book_best(b, BOT4_SIDE_BID, &o->bid_price, &o->bid_qty))
        o->bid_price = o->bid_qty = 0;
    if (!bot4_book_best(b, BOT4_SIDE_ASK, &o->ask_price, &o->ask_qty))
        o->ask_price = o->ask_qty = 0;
}

/* Rows of the message starting at ev[0] (validated framing: ends at the END flag). */
static inline int64_t msg_len(const bot4_event *ev, int64_t n)
{
    int64_t k = 0;
    while (k < n && !(ev[k].flags & BOT4_EVF_END))
        k++;
    return k < n ? k + 1 : n;
}

int bot4_book_set_sequencing(bot4_book *b, int mode)
{
    if (mode != BOT4_BOOK_SEQ_AUTO && mode != BOT4_BOOK_SEQ_SPOT && mode != BOT4_BOOK_SEQ_FUTURES)
        return BOT4_BOOK_EINVAL;
    b->sequencing = mode;
    return BOT4_BOOK_OK;
}

/* The sequence rules, for a sequenced diff (u != SEQ_NONE) reaching a book that holds a
 * snapshot (state SYNCING or LIVE). `last` is the snapshot's lastUpdateId L until a diff
 * has been applied, then the last applied diff's u.
 *
 * Spot - Binance Spot API, "WebSocket Streams" > "How to manage a local order book
 * correctly": "Drop any event where u is <= lastUpdateId in the snapshot"; "The first
 * processed event should have U <= lastUpdateId+1 AND u >= lastUpdateId+1"; "each new
 * event's U should be equal to the previous event's u+1", otherwise restart from the
 * snapshot. Once live, an event with u <= the book's update id is ignored (the same
 * section's update procedure: "If the event u (last update ID) is <= the update ID of
 * your local order book, ignore the event").
 *
 * USD-M and COIN-M futures - Binance Derivatives API, "USDS-Margined Futures" (and
 * "COIN-Margined Futures") > "WebSocket Market Streams" > "How to manage a local order
 * book correctly": "Drop any event where u is < lastUpdateId in the snapshot"; "The
 * first processed event should have U <= lastUpdateId AND u >= lastUpdateId"; "each new
 * event's pu should be equal to the previous event's u, otherwise initialize the process
 * from step 3" (the snapshot). Futures update ids are not consecutive, so only pu links
 * one event to the next; the event with u == lastUpdateId is the first processed one.
 *
 * The market: b->sequencing, or with AUTO (the default) the diff itself - futures diffs
 * carry pu and spot diffs never do, so seq_prev != SEQ_NONE means futures. */
enum { SEQ_APPLY, SEQ_STALE, SEQ_GAP };

static inline int seq_verdict(const bot4_book *b, int64_t U, int64_t u, int64_t pu)
{
    const int64_t last = b->last_update_id;
    const int futures = b->sequencing == BOT4_BOOK_SEQ_FUTURES ||
                        (b->sequencing == BOT4_BOOK_SEQ_AUTO && pu != BOT4_SEQ_NONE);
    if (futures) {
        if (b->state == BOT4_BOOK_LIVE)
            return pu == last ? SEQ_APPLY : SEQ_GAP;
        if (u < last)
            return SEQ_STALE;
        return U <= last ? SEQ_APPLY : SEQ_GAP; /* and u >= last */
    }
    if (u <= last)
        return SEQ_STALE;
    if (b->state == BOT4_BOOK_LIVE)
        return U == last + 1 ? SEQ_APPLY : SEQ_GAP;
    return U <= last + 1 ? SEQ_APPLY : SEQ_GAP; /* and u >= last + 1 */
}

/* ---- the diff buffer: a ring of rows (design and costs in book.h) */

/* Ring index of the k-th buffered row, 0 <= k <= pending_n. */
static inline int64_t ring_at(const bot4_book *b, int64_t k)
{
    int64_t i = b->pending_head + k;
    return i >= b->pending_cap ? i - b->pending_cap : i;
}

/* Rows of the oldest buffered message: up to its END row, O(its rows). */
static int64_t ring_first_len(const bot4_book *b)
{
    int64_t k = 0, i = b->pending_head;
    while (k < b->pending_n && !(b->pending[i].flags & BOT4_EVF_END)) {
        k++;
        if (++i == b->pending_cap)
            i = 0;
    }
    return k < b->pending_n ? k + 1 : b->pending_n;
}

static inline void ring_pop(bot4_book *b, int64_t len)
{
    b->pending_head = ring_at(b, len);
    b->pending_n -= len;
    b->pending_msgs--;
    if (!b->pending_n)
        b->pending_head = 0;
}

static inline void ring_clear(bot4_book *b)
{
    b->pending_head = 0;
    b->pending_n = 0;
    b->pending_msgs = 0;
}

/* Room for `need` rows (need <= pending_max): double up to pending_max, unwrapping the
 * rows into the new array. Allocates first; on ENOMEM nothing has changed. */
static int ring_grow(bot4_book *b, int64_t need)
{
    int64_t nc = b->pending_cap ? b->pending_cap : 1024;
    while (nc < need)
        nc *= 2;
    if (nc > b->pending_max)
        nc = b->pending_max;
    bot4_event *p = malloc((size_t)nc * sizeof(bot4_event));
    if (!p)
        return BOT4_BOOK_ENOMEM;
    int64_t first = b->pending_cap - b->pending_head;
    if (first > b->pending_n)
        first = b->pending_n;
    if (b->pending_n) {
        memcpy(p, b->pending + b->pending_head, (size_t)first * sizeof(bot4_event));
        memcpy(p + first, b->pending, (size_t)(b->pending_n - first) * sizeof(bot4_event));
    }
    b->stats.diffs_buffer_rows_copied += b->pending_n;
    free(b->pending);
    b->pending = p;
    b->pending_cap = nc;
    b->pending_head = 0;
    return BOT4_BOOK_OK;
}

/* Keep an arriving diff message for the next snapshot; when full, forget the oldest
 * messages (a newer snapshot supersedes them first). */
static int pending_push(bot4_book *b, const bot4_event *ev, int64_t n)
{
    b->stats.diffs_buffered++;
    if (n > b->pending_max) {
        b->stats.diffs_buffer_dropped++;
        return BOT4_BOOK_OK;
    }
    while (b->pending_n + n > b->pending_max) {
        ring_pop(b, ring_first_len(b));
        b->stats.diffs_buffer_dropped++;
    }
    if (b->pending_n + n > b->pending_cap && ring_grow(b, b->pending_n + n))
        return BOT4_BOOK_ENOMEM;
    int64_t tail = ring_at(b, b->pending_n); /* pending_n < pending_cap here */
    int64_t first = b->pending_cap - tail;
    if (first > n)
        first = n;
    memcpy(b->pending + tail, ev, (size_t)first * sizeof(bot4_event));
    memcpy(b->pending, ev + first, (size_t)(n - first) * sizeof(bot4_event));
    b->pending_n += n;
    b->pending_msgs++;
    b->stats.diffs_buffer_rows_copied += n;
    return BOT4_BOOK_OK;
}

/* The oldest buffered message as contiguous rows: in place, or (when it wraps) copied
 * into the scratch buffer. NULL on ENOMEM. */
static const bot4_event *ring_first(bot4_book *b, int64_t len)
{
    int64_t first = b->pending_cap - b->pending_head;
    if (len <= first)
        return b->pending + b->pending_head;
    if (len > b->scratch_cap) {
        bot4_event *p = realloc(b->scratch, (size_t)len * sizeof(bot4_event));
        if (!p)
            return NULL;
        b->scratch = p;
        b->scratch_cap = len;
    }
    memcpy(b->scratch, b->pending + b->pending_head, (size_t)first * sizeof(bot4_event));
    memcpy(b->scratch + first, b->pending, (size_t)(len - first) * sizeof(bot4_event));
    b->stats.diffs_buffer_rows_copied += len;
    return b->scratch;
}

/* A sequence break: nothing more is applied until a snapshot. */
static void mark_gap(bot4_book *b)
{
    b->stats.gaps++;
    b->needs_resync = 1;
    b->state = BOT4_BOOK_WAIT_SNAPSHOT;
}

/* Memory failure mid-message: the levels are no longer trustworthy. */
static int fail_nomem(bot4_book *b)
{
    b->needs_resync = 1;
    b->state = BOT4_BOOK_WAIT_SNAPSHOT;
    ring_clear(b);
    return BOT4_BOOK_ENOMEM;
}

/* Apply the levels of the diff message ev[0..n) that the rules accepted. */
static int apply_diff(bot4_book *b, const bot4_event *ev, int64_t n, bot4_book_bbo *out,
                      int64_t *n_out)
{
    int64_t applied = 0;
    for (int64_t k = 0; k < n; k++) {
        int sd = ev[k].side;
        if (sd > BOT4_SIDE_ASK)
            continue; /* the one row of an empty diff */
        if (k + BOOK_PREFETCH < n) {
            /* the window slot a later row will touch: its cache miss overlaps this work
             * (an address outside the window after a re-centre is harmless) */
            const bot4_event *f = &ev[k + BOOK_PREFETCH];
            const bot4_book_side *fs = &b->side[f->side & 1];
            uint64_t fi = ((uint64_t)(fs->sign * f->price) - (uint64_t)fs->base) & (uint64_t)(b->window - 1);
            __builtin_prefetch(fs->qty + fi, 1);
        }
        bot4_book_side *s = &b->side[sd];
        if (side_update(b, s, s->sign * ev[k].price, ev[k].qty))
            return fail_nomem(b);
        applied++;
    }
    const int64_t u = ev[0].seq_last;
    b->stats.level_updates += applied;
    b->stats.diffs_applied++;
    b->state = BOT4_BOOK_LIVE;
    if (u != BOT4_SEQ_NONE)
        b->last_update_id = u;
    if (bot4_book_is_crossed(b))
        b->stats.crossed++;
    if (out) {
        write_bbo(b, u, ev[0].ts_local, out + *n_out);
        ++*n_out;
        b->stats.bbo_written++;
    }
    return BOT4_BOOK_OK;
}

/* One arriving diff message ev[0..n). */
static int on_diff(bot4_book *b, const bot4_event *ev, int64_t n, bot4_book_bbo *out, int64_t *n_out)
{
    const int64_t u = ev[0].seq_last;
    if (u == BOT4_SEQ_NONE) { /* unsequenced feed (e.g. Tardis): applied on top of a snapshot */
        if (b->state == BOT4_BOOK_WAIT_SNAPSHOT) {
            b->stats.diffs_no_snapshot++;
            return BOT4_BOOK_OK;
        }
    } else if (b->state == BOT4_BOOK_WAIT_SNAPSHOT) {
        return pending_push(b, ev, n) ? fail_nomem(b) : BOT4_BOOK_OK;
    } else {
        int v = seq_verdict(b, ev[0].seq_first, u, ev[0].seq_prev);
        if (v == SEQ_STALE) {
            b->stats.diffs_stale++;
            return BOT4_BOOK_OK;
        }
        if (v == SEQ_GAP) { /* the buffer is empty outside WAIT_SNAPSHOT */
            mark_gap(b);
            return pending_push(b, ev, n) ? fail_nomem(b) : BOT4_BOOK_OK;
        }
    }
    return apply_diff(b, ev, n, out, n_out);
}

/* After a snapshot: run the buffered diffs through the rules, oldest first. A gap among
 * them leaves the breaking diff and every later one buffered, in place, for the next
 * snapshot. Cost O(rows drained), plus the copy of at most one wrapped message. */
static int drain_pending(bot4_book *b, bot4_book_bbo *out, int64_t *n_out)
{
    while (b->pending_n) {
        int64_t len = ring_first_len(b);
        const bot4_event *m = ring_first(b, len);
        if (!m)
            return fail_nomem(b);
        int v = seq_verdict(b, m[0].seq_first, m[0].seq_last, m[0].seq_prev);
        if (v == SEQ_GAP) {
            mark_gap(b);
            return BOT4_BOOK_OK;
        }
        if (v == SEQ_STALE) {
            b->stats.diffs_stale++;
        } else {
            int rc = apply_diff(b, m, len, out, n_out); /* pushes nothing: m stays valid */
            if (rc)
                return rc;
        }
        ring_pop(b, len);
    }
    return BOT4_BOOK_OK;
}

/* Empty both sides and place each window so the snapshot's best (first) level sits at
 * 3W/4: the levels that follow, worse, fill the window downward, then the overflow. */
static void snapshot_begin(bot4_book *b, const int64_t best_price[2], const int have[2])
{
    for (int sd = 0; sd < 2; sd++) {
        bot4_book_side *s = &b->side[sd];
        side_clear(s, b->sum_words);
        if (have[sd])
            s->base = s->sign * best_price[sd] - (b->window - b->window / 4);
    }
}

static void snapshot_done(bot4_book *b, int64_t last_update_id)
{
    b->last_update_id = last_update_id;
    b->state = BOT4_BOOK_SYNCING;
    if (b->needs_resync)
        b->stats.resyncs++;
    b->needs_resync = 0;
    b->stats.snapshots++;
}

int bot4_book_apply_snapshot(bot4_book *b, const int64_t *bid_px, const int64_t *bid_qty,
                             int64_t n_bid, const int64_t *ask_px, const int64_t *ask_qty,
                             int64_t n_ask, int64_t last_update_id, bot4_book_bbo *out,
                             int64_t *n_out)
{
    *n_out = 0;
    const int64_t best[2] = {n_bid ? bid_px[0] : 0, n_ask ? ask_px[0] : 0};
    const int have[2] = {n_bid > 0, n_ask > 0};
    snapshot_begin(b, best, have);
    const int64_t *px[2] = {bid_px, ask_px}, *q[2] = {bid_qty, ask_qty};
    int64_t cnt[2] = {n_bid, n_ask};
    for (int sd = 0; sd < 2; sd++) {
        bot4_book_side *s = &b->side[sd];
        for (int64_t k = 0; k < cnt[sd]; k++)
            if (side_update(b, s, s->sign * px[sd][k], q[sd][k]))
                return fail_nomem(b);
    }
    b->stats.level_updates += n_bid + n_ask;
    snapshot_done(b, last_update_id);
    if (bot4_book_is_crossed(b))
        b->stats.crossed++;
    return drain_pending(b, out, n_out);
}

int bot4_book_apply_batch(bot4_book *b, const bot4_event *ev, int64_t n, bot4_book_bbo *out,
                          int64_t *n_out)
{
    *n_out = 0;
    b->stats.rows += n;
    for (int64_t r = 0; r < n;) {
        uint8_t kind = ev[r].kind;
        if (kind == BOT4_EV_UPDATE) {
            int64_t len = msg_len(ev + r, n - r);
            int rc = on_diff(b, ev + r, len, out, n_out);
            if (rc)
                return rc;
            r += len;
        } else if (kind == BOT4_EV_SNAPSHOT) {
            int64_t len = msg_len(ev + r, n - r);
            int64_t best[2] = {0, 0};
            int have[2] = {0, 0};
            for (int64_t k = r; k < r + len; k++) {
                int sd = ev[k].side;
                if (sd <= BOT4_SIDE_ASK && !have[sd]) {
                    have[sd] = 1;
                    best[sd] = ev[k].price; /* validated: each side's first row is its best */
                }
            }
            snapshot_begin(b, best, have);
            int64_t applied = 0;
            for (int64_t k = r; k < r + len; k++) {
                int sd = ev[k].side;
                if (sd > BOT4_SIDE_ASK)
                    continue;
                bot4_book_side *s = &b->side[sd];
                if (side_update(b, s, s->sign * ev[k].price, ev[k].qty))
                    return fail_nomem(b);
                applied++;
            }
            b->stats.level_updates += applied;
            snapshot_done(b, ev[r].seq_last);
            if (bot4_book_is_crossed(b))
                b->stats.crossed++;
            int rc = drain_pending(b, out, n_out);
            if (rc)
                return rc;
            r += len;
        } else {
            b->stats.rows_skipped++;
            r++;
        }
    }
    return BOT4_BOOK_OK;
}

/* ---------------------------------------------------------------- validation */

static inline int verr(bot4_book_verr *err, int64_t row, int reason, int64_t value)
{
    err->row = row;
    err->reason = reason;
    err->value = value;
    return BOT4_BOOK_EINVAL;
}

void bot4_book_validate_init(bot4_book_vstate *v)
{
    v->open = -1;
    v->snap_last[0] = v->snap_last[1] = 0;
    v->snap_best[0] = v->snap_best[1] = 0;
    v->snap_seen[0] = v->snap_seen[1] = 0;
    v->diffs = 0;
}

/* Every rule for row r, in order, so that the first broken one is reported. *open_io: the
 * first row of the open message (-1 if none), updated. */
static inline int check_row(bot4_book_vstate *v, const bot4_event *ev, int64_t r, int64_t *open_io,
                            bot4_book_verr *err)
{
    const bot4_event *e = &ev[r];
    int64_t open = *open_io;
    if (e->kind < BOT4_EV_SNAPSHOT || e->kind > BOT4_EV_QUOTE)
        return verr(err, r, BOT4_BOOK_V_KIND, e->kind);
    if (e->side > BOT4_SIDE_NONE)
        return verr(err, r, BOT4_BOOK_V_SIDE, e->side);
    if (r && e->ts_local < ev[r - 1].ts_local)
        return verr(err, r, BOT4_BOOK_V_TS_UNSORTED, e->ts_local);
    if (e->side != BOT4_SIDE_NONE && (e->price <= 0 || e->price > BOT4_BOOK_PRICE_MAX))
        return verr(err, r, BOT4_BOOK_V_PRICE, e->price);
    if (e->qty < 0)
        return verr(err, r, BOT4_BOOK_V_QTY, e->qty);
    int is_book = e->kind == BOT4_EV_SNAPSHOT || e->kind == BOT4_EV_UPDATE;
    if (!is_book)
        return open >= 0 ? verr(err, open, BOT4_BOOK_V_UNTERMINATED, ev[open].flags) : BOT4_BOOK_OK;
    if (e->flags & BOT4_EVF_BEGIN) {
        if (open >= 0)
            return verr(err, r, BOT4_BOOK_V_NESTED, e->flags);
        open = r;
        v->snap_seen[0] = v->snap_seen[1] = 0;
        /* seq_last == SEQ_NONE: an unsequenced message (its other ids must be absent) */
        if (e->seq_last < BOT4_SEQ_NONE)
            return verr(err, r, BOT4_BOOK_V_SEQ_RANGE_LAST, e->seq_last);
        if (e->kind == BOT4_EV_UPDATE) {
            v->diffs++;
            if (e->seq_last == BOT4_SEQ_NONE ? e->seq_first != BOT4_SEQ_NONE
                                             : (e->seq_first < 0 || e->seq_first > e->seq_last))
                return verr(err, r, BOT4_BOOK_V_SEQ_RANGE_FIRST, e->seq_first);
        }
    } else {
        if (open < 0)
            return verr(err, r, BOT4_BOOK_V_NO_BEGIN, e->flags);
        const bot4_event *h = &ev[open];
        if (e->kind != h->kind)
            return verr(err, open, BOT4_BOOK_V_UNTERMINATED, h->flags);
        if (e->seq_first != h->seq_first)
            return verr(err, r, BOT4_BOOK_V_SEQ_MISMATCH_FIRST, e->seq_first);
        if (e->seq_last != h->seq_last)
            return verr(err, r, BOT4_BOOK_V_SEQ_MISMATCH_LAST, e->seq_last);
        if (e->seq_prev != h->seq_prev)
            return verr(err, r, BOT4_BOOK_V_SEQ_MISMATCH_PREV, e->seq_prev);
    }
    int single = (e->flags & BOT4_EVF_BEGIN) && (e->flags & BOT4_EVF_END);
    if (e->side == BOT4_SIDE_NONE && !single)
        return verr(err, r, BOT4_BOOK_V_SIDE_NONE, e->side);
    if (e->kind == BOT4_EV_SNAPSHOT && e->side != BOT4_SIDE_NONE) {
        int sd = e->side;
        if (e->qty == 0)
            return verr(err, r, BOT4_BOOK_V_SNAP_QTY, e->qty);
        if (v->snap_seen[sd]) {
            /* bids strictly descending, asks strictly ascending */
            int ordered = sd == BOT4_SIDE_BID ? e->price < v->snap_last[sd] : e->price > v->snap_last[sd];
            if (!ordered)
                return verr(err, r, BOT4_BOOK_V_SNAP_UNSORTED, e->price);
        } else {
            v->snap_seen[sd] = 1;
            v->snap_best[sd] = e->price;
            if (v->snap_seen[1 - sd] && v->snap_best[BOT4_SIDE_BID] >= v->snap_best[BOT4_SIDE_ASK])
                return verr(err, r, BOT4_BOOK_V_SNAP_CROSSED, e->price);
        }
        v->snap_last[sd] = e->price;
    }
    *open_io = e->flags & BOT4_EVF_END ? -1 : open;
    return BOT4_BOOK_OK;
}

int bot4_book_validate_rows(bot4_book_vstate *v, const bot4_event *ev, int64_t from, int64_t to,
                            bot4_book_verr *err)
{
    int64_t open = v->open;
    int rc = BOT4_BOOK_OK;
    for (int64_t r = from; r < to && rc == BOT4_BOOK_OK; r++)
        rc = check_row(v, ev, r, &open, err);
    v->open = open;
    return rc;
}

int bot4_book_validate_end(const bot4_book_vstate *v, const bot4_event *ev, bot4_book_verr *err)
{
    if (v->open >= 0)
        return verr(err, v->open, BOT4_BOOK_V_UNTERMINATED, ev[v->open].flags);
    return BOT4_BOOK_OK;
}

int bot4_book_validate_batch(const bot4_event *ev, int64_t n, bot4_book_verr *err,
                             int64_t *n_diff_msgs)
{
    bot4_book_vstate v;
    bot4_book_validate_init(&v);
    int rc = bot4_book_validate_rows(&v, ev, 0, n, err);
    if (rc == BOT4_BOOK_OK)
        rc = bot4_book_validate_end(&v, ev, err);
    if (rc == BOT4_BOOK_OK)
        *n_diff_msgs = v.diffs;
    return rc;
}
