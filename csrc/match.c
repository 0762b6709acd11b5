/* match.c - L3 matching engine (see match.h for the structure, invariants and costs).
 *
 * Layout: order nodes and level nodes are slots of two fixed pools with intrusive free
 * lists (NIL-terminated through `next`), the id table is open addressing over a power of
 * two >= 2 * capacity (load <= 1/2, so probes stay short). Side arrays hold a sort key
 * (price for bids, -price for asks) so both sides are ascending with the best at the end.
 * An op is validated completely (including the FOK dry run and capacity) before it
 * changes anything, so a rejected op leaves the book bit-for-bit as it was.
 */
#include "match.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define BACKWARD_SCAN 8 /* levels scanned from the touch before binary search */

typedef struct mnode {
    int64_t id;
    int64_t owner;
    int64_t price;
    int64_t qty; /* remaining */
    uint32_t prev, next, level;
    uint8_t side, post_only, stp, pad;
} mnode;

typedef struct mlevel {
    int64_t price;
    int64_t total;
    uint32_t head, tail, count, next; /* next: free-list link only */
} mlevel;

typedef struct mside {
    int64_t *keys;  /* ascending; best at keys[n-1] */
    uint32_t *lvl;  /* level slot per key */
    uint32_t n;
    uint32_t orders; /* resting orders on this side */
} mside;

struct bot4_match {
    uint32_t cap;
    uint32_t n_orders;
    mnode *nodes;
    uint32_t free_node;
    mlevel *levels;
    uint32_t free_level;
    mside side[2];
    int64_t *hkeys; /* 0 = empty slot (ids are > 0) */
    uint32_t *hvals;
    uint32_t hmask;
    int hshift;
};

static const char *const REASON_NAMES[BOT4_MATCH_R_COUNT] = {
    "ok", "invalid_op", "invalid_side", "invalid_type", "invalid_tif", "invalid_price",
    "invalid_qty", "invalid_id", "invalid_flags", "duplicate_id", "unknown_id", "book_full",
    "post_only_would_take", "fok_unfillable", "reduce_only_would_increase", "no_liquidity",
    "fill_buffer_full",
};

const char *bot4_match_reason_name(int reason)
{
    if (reason < 0 || reason >= BOT4_MATCH_R_COUNT)
        return "unknown_reason";
    return REASON_NAMES[reason];
}

/* ---- id table ------------------------------------------------------------------------- */

/* Home slot: the id's low bits XOR a multiplicative hash of its high bits. Ids issued in
 * sequence (the usual case: venues and OMSs count) land in neighbouring slots, so the
 * table is walked with the cache instead of against it; ids that differ only above the
 * table size are still scattered by the hash of the high bits. */
static inline uint32_t h_home(const bot4_match *m, int64_t id)
{
    uint64_t u = (uint64_t)id;
    uint64_t high = (u >> (64 - m->hshift)) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)((u ^ (high >> m->hshift)) & m->hmask);
}

static inline uint32_t h_find(const bot4_match *m, int64_t id)
{
    uint32_t i = h_home(m, id);
    for (;;) {
        int64_t k = m->hkeys[i];
        if (k == id)
            return m->hvals[i];
        if (k == 0)
            return NIL;
        i = (i + 1) & m->hmask;
    }
}

static inline void h_insert(bot4_match *m, int64_t id, uint32_t v)
{
    uint32_t i = h_home(m, id);
    while (m->hkeys[i] != 0)
        i = (i + 1) & m->hmask;
    m->hkeys[i] = id;
    m->hvals[i] = v;
}

/* Backward-shift deletion keeps every key reachable from its home slot without tombstones. */
static inline void h_delete(bot4_match *m, int64_t id)
{
    uint32_t i = h_home(m, id);
    while (m->hkeys[i] != id)
        i = (i + 1) & m->hmask;
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m->hmask;
        int64_t k = m->hkeys[j];
        if (k == 0)
            break;
        uint32_t home = h_home(m, k);
        /* move k into the hole at i unless its home lies cyclically in (i, j] */
        int in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            m->hkeys[i] = k;
            m->hvals[i] = m->hvals[j];
            i = j;
        }
    }
    m->hkeys[i] = 0;
}

/* ---- create / destroy ----------------------------------------------------------------- */

bot4_match *bot4_match_create(uint32_t max_orders)
{
    if (max_orders < 1 || max_orders > (1u << 30))
        return NULL;
    bot4_match *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = max_orders;
    uint32_t hsize = 16;
    int bits = 4;
    while (hsize < 2u * max_orders) {
        hsize <<= 1;
        bits++;
    }
    m->hmask = hsize - 1;
    m->hshift = 64 - bits;
    m->nodes = malloc((size_t)max_orders * sizeof(mnode));
    m->levels = malloc((size_t)max_orders * sizeof(mlevel));
    m->hkeys = malloc((size_t)hsize * sizeof(int64_t));
    m->hvals = malloc((size_t)hsize * sizeof(uint32_t));
    int ok = m->nodes && m->levels && m->hkeys && m->hvals;
    for (int s = 0; s < 2 && ok; s++) {
        m->side[s].keys = malloc((size_t)max_orders * sizeof(int64_t));
        m->side[s].lvl = malloc((size_t)max_orders * sizeof(uint32_t));
        ok = m->side[s].keys && m->side[s].lvl;
    }
    if (!ok) {
        bot4_match_destroy(m);
        return NULL;
    }
    bot4_match_clear(m);
    return m;
}

void bot4_match_destroy(bot4_match *m)
{
    if (!m)
        return;
    free(m->nodes);
    free(m->levels);
    free(m->hkeys);
    free(m->hvals);
    for (int s = 0; s < 2; s++) {
        free(m->side[s].keys);
        free(m->side[s].lvl);
    }
    free(m);
}

void bot4_match_clear(bot4_match *m)
{
    for (uint32_t i = 0; i < m->cap; i++) {
        m->nodes[i].next = (i + 1 < m->cap) ? i + 1 : NIL;
        m->levels[i].next = (i + 1 < m->cap) ? i + 1 : NIL;
    }
    m->free_node = 0;
    m->free_level = 0;
    m->n_orders = 0;
    memset(m->hkeys, 0, (size_t)(m->hmask + 1) * sizeof(int64_t));
    for (int s = 0; s < 2; s++) {
        m->side[s].n = 0;
        m->side[s].orders = 0;
    }
}

/* ---- side arrays ---------------------------------------------------------------------- */

static inline int64_t side_key(int side, int64_t price)
{
    return side == BOT4_MATCH_BUY ? price : -price;
}

/* 1 and *pos = index if key is present; else 0 and *pos = insert position. Scans a few
 * levels back from the touch first because nearly all activity is there. */
static inline int side_search(const mside *s, int64_t key, uint32_t *pos)
{
    uint32_t n = s->n;
    uint32_t lo = 0, hi = n; /* answer in [lo, hi] */
    for (uint32_t step = 0; step < BACKWARD_SCAN && hi > 0; step++) {
        int64_t k = s->keys[hi - 1];
        if (k == key) {
            *pos = hi - 1;
            return 1;
        }
        if (k < key) {
            *pos = hi;
            return 0;
        }
        hi--;
    }
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return lo < n && s->keys[lo] == key;
}

static void side_remove_level(bot4_match *m, int side, uint32_t li)
{
    mside *s = &m->side[side];
    uint32_t pos;
    side_search(s, side_key(side, m->levels[li].price), &pos); /* present by invariant */
    uint32_t tail = s->n - 1 - pos;
    if (tail) {
        memmove(&s->keys[pos], &s->keys[pos + 1], tail * sizeof(int64_t));
        memmove(&s->lvl[pos], &s->lvl[pos + 1], tail * sizeof(uint32_t));
    }
    s->n--;
    m->levels[li].next = m->free_level;
    m->free_level = li;
}

/* Level slot for price on side, created (empty) if absent. A free slot always exists when
 * a free order slot does, because every level holds at least one order. */
static uint32_t side_level_for(bot4_match *m, int side, int64_t price)
{
    mside *s = &m->side[side];
    int64_t key = side_key(side, price);
    uint32_t pos;
    if (side_search(s, key, &pos))
        return s->lvl[pos];
    uint32_t li = m->free_level;
    m->free_level = m->levels[li].next;
    mlevel *L = &m->levels[li];
    L->price = price;
    L->total = 0;
    L->head = L->tail = NIL;
    L->count = 0;
    uint32_t tail = s->n - pos;
    if (tail) {
        memmove(&s->keys[pos + 1], &s->keys[pos], tail * sizeof(int64_t));
        memmove(&s->lvl[pos + 1], &s->lvl[pos], tail * sizeof(uint32_t));
    }
    s->keys[pos] = key;
    s->lvl[pos] = li;
    s->n++;
    return li;
}

/* ---- orders --------------------------------------------------------------------------- */

static void order_rest(bot4_match *m, int64_t id, int64_t owner, int side, int64_t price,
                       int64_t qty, uint8_t post_only, uint8_t stp)
{
    uint32_t oi = m->free_node;
    m->free_node = m->nodes[oi].next;
    uint32_t li = side_level_for(m, side, price);
    mlevel *L = &m->levels[li];
    mnode *o = &m->nodes[oi];
    o->id = id;
    o->owner = owner;
    o->price = price;
    o->qty = qty;
    o->side = (uint8_t)side;
    o->post_only = post_only;
    o->stp = stp;
    o->level = li;
    o->next = NIL;
    o->prev = L->tail;
    if (L->tail != NIL)
        m->nodes[L->tail].next = oi;
    else
        L->head = oi;
    L->tail = oi;
    L->count++;
    L->total += qty;
    h_insert(m, id, oi);
    m->n_orders++;
    m->side[side].orders++;
}

/* Unlink order oi (its qty already taken out of the level total by the caller, or not:
 * the level total is reduced by the order's current qty here). */
static void order_remove(bot4_match *m, uint32_t oi)
{
    mnode *o = &m->nodes[oi];
    uint32_t li = o->level;
    mlevel *L = &m->levels[li];
    if (o->prev != NIL)
        m->nodes[o->prev].next = o->next;
    else
        L->head = o->next;
    if (o->next != NIL)
        m->nodes[o->next].prev = o->prev;
    else
        L->tail = o->prev;
    L->count--;
    L->total -= o->qty;
    h_delete(m, o->id);
    m->n_orders--;
    m->side[o->side].orders--;
    int side = o->side;
    o->next = m->free_node;
    m->free_node = oi;
    if (L->count == 0)
        side_remove_level(m, side, li);
}

static inline int crosses(int side, int64_t limit, int64_t maker_price)
{
    return side == BOT4_MATCH_BUY ? maker_price <= limit : maker_price >= limit;
}

/* FOK dry run: can the taker fill its whole qty against other owners? Mirrors match_taker
 * exactly without changing anything. */
static int fok_fillable(const bot4_match *m, int side, int is_market, int64_t limit,
                        int64_t qty, int64_t owner, int stp)
{
    const mside *s = &m->side[side ^ 1];
    int64_t need = qty;
    for (uint32_t i = s->n; i-- > 0;) {
        const mlevel *L = &m->levels[s->lvl[i]];
        if (!is_market && !crosses(side, limit, L->price))
            return 0;
        if (stp == BOT4_MATCH_STP_NONE) {
            if (L->total >= need)
                return 1;
            need -= L->total;
            continue;
        }
        for (uint32_t oi = L->head; oi != NIL; oi = m->nodes[oi].next) {
            const mnode *o = &m->nodes[oi];
            if (o->owner == owner) {
                if (stp == BOT4_MATCH_STP_CANCEL_OLDEST)
                    continue;
                return 0; /* cancel-newest stops the taker; decrement consumes it untraded */
            }
            if (o->qty >= need)
                return 1;
            need -= o->qty;
        }
    }
    return 0;
}

typedef struct taker {
    int64_t id, owner, limit, rem, filled, cancelled;
    int side, is_market, stp;
    uint32_t op_index;
} taker;

static inline void emit(bot4_match_fill *f, const taker *t, const mnode *o, int64_t price,
                        int64_t qty, int64_t maker_remaining, int kind)
{
    f->taker_id = t->id;
    f->maker_id = o->id;
    f->taker_owner = t->owner;
    f->maker_owner = o->owner;
    f->price = price;
    f->qty = qty;
    f->maker_remaining = maker_remaining;
    f->kind = (uint8_t)kind;
    f->taker_side = (uint8_t)t->side;
    f->pad = 0;
    f->op_index = t->op_index;
}

/* Match the taker against the opposite side; returns the number of records written. */
static uint32_t match_taker(bot4_match *m, taker *t, bot4_match_fill *out)
{
    mside *s = &m->side[t->side ^ 1];
    uint32_t nf = 0;
    while (t->rem > 0 && s->n > 0) {
        uint32_t li = s->lvl[s->n - 1];
        mlevel *L = &m->levels[li];
        if (!t->is_market && !crosses(t->side, t->limit, L->price))
            break;
        uint32_t oi = L->head;
        mnode *o = &m->nodes[oi];
        if (t->stp != BOT4_MATCH_STP_NONE && o->owner == t->owner) {
            if (t->stp == BOT4_MATCH_STP_CANCEL_NEWEST) {
                t->cancelled += t->rem;
                t->rem = 0;
                break;
            }
            if (t->stp == BOT4_MATCH_STP_CANCEL_OLDEST) {
                emit(&out[nf++], t, o, L->price, o->qty, 0, BOT4_MATCH_STP_CANCEL_MAKER);
                order_remove(m, oi);
                continue;
            }
            int64_t d = t->rem < o->qty ? t->rem : o->qty;
            t->rem -= d;
            t->cancelled += d;
            o->qty -= d;
            L->total -= d;
            emit(&out[nf++], t, o, L->price, d, o->qty, BOT4_MATCH_STP_DECREMENT);
            if (o->qty == 0)
                order_remove(m, oi);
            continue;
        }
        int64_t d = t->rem < o->qty ? t->rem : o->qty;
        t->rem -= d;
        t->filled += d;
        o->qty -= d;
        L->total -= d;
        emit(&out[nf++], t, o, L->price, d, o->qty, BOT4_MATCH_FILL);
        if (o->qty == 0)
            order_remove(m, oi);
    }
    return nf;
}

/* Post-only: 0 = proceed with *price (possibly repriced), else a reject reason. */
static int post_only_price(const bot4_match *m, int side, int mode, int64_t *price)
{
    const mside *o = &m->side[side ^ 1];
    if (mode == BOT4_MATCH_PO_NONE || o->n == 0)
        return BOT4_MATCH_OK;
    int64_t touch = m->levels[o->lvl[o->n - 1]].price;
    if (!crosses(side, *price, touch))
        return BOT4_MATCH_OK;
    if (mode == BOT4_MATCH_PO_REJECT)
        return BOT4_MATCH_R_POST_ONLY_WOULD_TAKE;
    int64_t p = side == BOT4_MATCH_BUY ? touch - 1 : touch + 1;
    if (p <= 0)
        return BOT4_MATCH_R_POST_ONLY_WOULD_TAKE;
    *price = p;
    return BOT4_MATCH_OK;
}

static int validate_add(const bot4_match_op *op)
{
    if (op->id <= 0)
        return BOT4_MATCH_R_INVALID_ID;
    if (op->side > 1)
        return BOT4_MATCH_R_INVALID_SIDE;
    if (op->type > BOT4_MATCH_MARKET)
        return BOT4_MATCH_R_INVALID_TYPE;
    if (op->tif > BOT4_MATCH_FOK || (op->type == BOT4_MATCH_MARKET && op->tif == BOT4_MATCH_GTC))
        return BOT4_MATCH_R_INVALID_TIF;
    if (op->qty <= 0)
        return BOT4_MATCH_R_INVALID_QTY;
    if (op->type == BOT4_MATCH_LIMIT && op->price <= 0)
        return BOT4_MATCH_R_INVALID_PRICE;
    if (op->post_only > BOT4_MATCH_PO_REPRICE || op->stp > BOT4_MATCH_STP_DECREMENT_BOTH ||
        op->reduce_only > 1)
        return BOT4_MATCH_R_INVALID_FLAGS;
    if (op->post_only != BOT4_MATCH_PO_NONE &&
        (op->type == BOT4_MATCH_MARKET || op->tif != BOT4_MATCH_GTC))
        return BOT4_MATCH_R_INVALID_FLAGS;
    return BOT4_MATCH_OK;
}

static int do_add(bot4_match *m, const bot4_match_op *op, uint32_t op_index,
                  bot4_match_result *r, bot4_match_fill *out)
{
    int reason = validate_add(op);
    if (reason)
        return reason;
    if (h_find(m, op->id) != NIL)
        return BOT4_MATCH_R_DUPLICATE_ID;
    int side = op->side;
    int is_market = op->type == BOT4_MATCH_MARKET;
    int64_t qty = op->qty, dropped = 0;
    if (op->reduce_only) {
        /* only a buy can reduce a short and a sell a long; the excess over the position is
         * dropped so the order can never flip it */
        int64_t reducible = side == BOT4_MATCH_BUY ? -op->position : op->position;
        if (reducible <= 0)
            return BOT4_MATCH_R_REDUCE_ONLY_WOULD_INCREASE;
        if (qty > reducible) {
            dropped = qty - reducible;
            qty = reducible;
        }
    }
    int64_t price = is_market ? 0 : op->price;
    if (!is_market) {
        reason = post_only_price(m, side, op->post_only, &price);
        if (reason)
            return reason;
    }
    if (is_market && m->side[side ^ 1].n == 0)
        return BOT4_MATCH_R_NO_LIQUIDITY;
    if (op->tif == BOT4_MATCH_FOK &&
        !fok_fillable(m, side, is_market, price, qty, op->owner, op->stp))
        return BOT4_MATCH_R_FOK_UNFILLABLE;
    /* a GTC limit may need a slot; refuse up front so a rejection changes nothing */
    if (!is_market && op->tif == BOT4_MATCH_GTC && m->n_orders == m->cap)
        return BOT4_MATCH_R_BOOK_FULL;
    taker t = {.id = op->id, .owner = op->owner, .limit = price, .rem = qty, .filled = 0,
               .cancelled = dropped, .side = side, .is_market = is_market, .stp = op->stp,
               .op_index = op_index};
    r->nfills = match_taker(m, &t, out);
    if (t.rem > 0) {
        if (!is_market && op->tif == BOT4_MATCH_GTC) {
            order_rest(m, op->id, op->owner, side, price, t.rem, op->post_only, op->stp);
            r->resting = t.rem;
        } else {
            t.cancelled += t.rem;
        }
    }
    r->filled = t.filled;
    r->cancelled = t.cancelled;
    r->price = price;
    return BOT4_MATCH_OK;
}

static int do_cancel(bot4_match *m, const bot4_match_op *op, bot4_match_result *r)
{
    if (op->id <= 0)
        return BOT4_MATCH_R_INVALID_ID;
    uint32_t oi = h_find(m, op->id);
    if (oi == NIL)
        return BOT4_MATCH_R_UNKNOWN_ID;
    r->cancelled = m->nodes[oi].qty;
    r->price = m->nodes[oi].price;
    order_remove(m, oi);
    return BOT4_MATCH_OK;
}

static int do_modify(bot4_match *m, const bot4_match_op *op, uint32_t op_index,
                     bot4_match_result *r, bot4_match_fill *out)
{
    if (op->id <= 0)
        return BOT4_MATCH_R_INVALID_ID;
    if (op->qty <= 0)
        return BOT4_MATCH_R_INVALID_QTY;
    if (op->price <= 0)
        return BOT4_MATCH_R_INVALID_PRICE;
    uint32_t oi = h_find(m, op->id);
    if (oi == NIL)
        return BOT4_MATCH_R_UNKNOWN_ID;
    mnode *o = &m->nodes[oi];
    if (op->price == o->price && op->qty <= o->qty) {
        /* a smaller quantity at the same price keeps its place in the queue */
        m->levels[o->level].total -= o->qty - op->qty;
        r->cancelled = o->qty - op->qty;
        o->qty = op->qty;
        r->resting = o->qty;
        r->price = o->price;
        return BOT4_MATCH_OK;
    }
    int side = o->side;
    int64_t price = op->price;
    int reason = post_only_price(m, side, o->post_only, &price);
    if (reason)
        return reason;
    int64_t id = o->id, owner = o->owner;
    uint8_t po = o->post_only, stp = o->stp;
    order_remove(m, oi);
    taker t = {.id = id, .owner = owner, .limit = price, .rem = op->qty, .filled = 0,
               .cancelled = 0, .side = side, .is_market = 0, .stp = stp, .op_index = op_index};
    r->nfills = match_taker(m, &t, out);
    if (t.rem > 0) {
        order_rest(m, id, owner, side, price, t.rem, po, stp); /* the slot freed above */
        r->resting = t.rem;
    }
    r->filled = t.filled;
    r->cancelled = t.cancelled;
    r->price = price;
    return BOT4_MATCH_OK;
}

int bot4_match_run(bot4_match *m, const bot4_match_op *ops, uint32_t n,
                   bot4_match_result *results, bot4_match_fill *fills, uint32_t fills_cap,
                   uint32_t *n_done, uint32_t *n_fills)
{
    uint32_t nf = 0;
    int status = BOT4_MATCH_OK;
    uint32_t i = 0;
    for (; i < n; i++) {
        const bot4_match_op *op = &ops[i];
        bot4_match_result *r = &results[i];
        if (i + 8 < n) /* the id-table slot of a later op: its miss overlaps this op's work */
            __builtin_prefetch(&m->hkeys[h_home(m, ops[i + 8].id)]);
        memset(r, 0, sizeof *r);
        r->id = op->id;
        int reason;
        if (op->op == BOT4_MATCH_OP_CANCEL) {
            reason = do_cancel(m, op, r);
        } else if (op->op == BOT4_MATCH_OP_ADD || op->op == BOT4_MATCH_OP_MODIFY) {
            /* at most one record per resting order on the opposite side */
            int s = op->side;
            if (op->op == BOT4_MATCH_OP_MODIFY) {
                uint32_t oi = op->id > 0 ? h_find(m, op->id) : NIL;
                s = oi == NIL ? 0 : m->nodes[oi].side;
            }
            uint32_t worst = (s == 0 || s == 1) ? m->side[s ^ 1].orders : 0;
            if (fills_cap - nf < worst) {
                r->reason = BOT4_MATCH_R_FILL_BUFFER_FULL;
                status = BOT4_MATCH_R_FILL_BUFFER_FULL;
                break;
            }
            reason = op->op == BOT4_MATCH_OP_ADD ? do_add(m, op, i, r, fills + nf)
                                                 : do_modify(m, op, i, r, fills + nf);
        } else {
            reason = BOT4_MATCH_R_INVALID_OP;
        }
        r->reason = (uint8_t)reason;
        if (reason) {
            r->filled = r->resting = r->cancelled = r->price = 0;
            r->nfills = 0;
        }
        nf += r->nfills;
    }
    *n_done = i;
    *n_fills = nf;
    return status;
}

/* ---- queries -------------------------------------------------------------------------- */

int bot4_match_get(const bot4_match *m, int64_t id, int64_t *owner, uint8_t *side,
                   int64_t *price, int64_t *qty)
{
    if (id <= 0)
        return BOT4_MATCH_R_UNKNOWN_ID;
    uint32_t oi = h_find(m, id);
    if (oi == NIL)
        return BOT4_MATCH_R_UNKNOWN_ID;
    const mnode *o = &m->nodes[oi];
    *owner = o->owner;
    *side = o->side;
    *price = o->price;
    *qty = o->qty;
    return BOT4_MATCH_OK;
}

int bot4_match_best(const bot4_match *m, int side, int64_t *price, int64_t *qty)
{
    const mside *s = &m->side[side & 1];
    if (s->n == 0)
        return BOT4_MATCH_R_NO_LIQUIDITY;
    const mlevel *L = &m->levels[s->lvl[s->n - 1]];
    *price = L->price;
    *qty = L->total;
    return BOT4_MATCH_OK;
}

uint32_t bot4_match_depth(const bot4_match *m, int side, uint32_t n, int64_t *prices,
                          int64_t *qtys, uint32_t *counts)
{
    const mside *s = &m->side[side & 1];
    uint32_t k = 0;
    for (uint32_t i = s->n; i-- > 0 && k < n; k++) {
        const mlevel *L = &m->levels[s->lvl[i]];
        prices[k] = L->price;
        qtys[k] = L->total;
        if (counts)
            counts[k] = L->count;
    }
    return k;
}

uint32_t bot4_match_level_orders(const bot4_match *m, int side, int64_t price, uint32_t n,
                                 int64_t *ids)
{
    const mside *s = &m->side[side & 1];
    uint32_t pos;
    if (!side_search(s, side_key(side & 1, price), &pos))
        return 0;
    uint32_t k = 0;
    for (uint32_t oi = m->levels[s->lvl[pos]].head; oi != NIL && k < n; oi = m->nodes[oi].next)
        ids[k++] = m->nodes[oi].id;
    return k;
}

uint32_t bot4_match_order_count(const bot4_match *m) { return m->n_orders; }
uint32_t bot4_match_level_count(const bot4_match *m, int side) { return m->side[side & 1].n; }
uint32_t bot4_match_capacity(const bot4_match *m) { return m->cap; }

int bot4_match_check(const bot4_match *m)
{
    uint32_t seen = 0;
    for (int side = 0; side < 2; side++) {
        const mside *s = &m->side[side];
        uint32_t side_orders = 0;
        for (uint32_t i = 0; i < s->n; i++) {
            if (i > 0 && s->keys[i - 1] >= s->keys[i])
                return 1;
            const mlevel *L = &m->levels[s->lvl[i]];
            if (side_key(side, L->price) != s->keys[i] || L->count == 0)
                return 2;
            int64_t total = 0;
            uint32_t count = 0, prev = NIL;
            for (uint32_t oi = L->head; oi != NIL; oi = m->nodes[oi].next) {
                const mnode *o = &m->nodes[oi];
                if (o->prev != prev || o->level != s->lvl[i] || o->side != side ||
                    o->price != L->price || o->qty <= 0)
                    return 3;
                if (h_find(m, o->id) != oi)
                    return 4;
                total += o->qty;
                count++;
                prev = oi;
                if (count > m->cap)
                    return 5;
            }
            if (L->tail != prev || total != L->total || count != L->count)
                return 6;
            side_orders += count;
        }
        if (side_orders != s->orders)
            return 7;
        seen += side_orders;
    }
    if (seen != m->n_orders)
        return 8;
    if (m->side[0].n && m->side[1].n &&
        m->levels[m->side[0].lvl[m->side[0].n - 1]].price >=
            m->levels[m->side[1].lvl[m->side[1].n - 1]].price)
        return 9;
    uint32_t used = 0;
    for (uint32_t i = 0; i <= m->hmask; i++)
        used += m->hkeys[i] != 0;
    if (used != m->n_orders)
        return 10;
    return 0;
}
