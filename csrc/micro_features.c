/* micro_features.c - streaming microstructure features; formulas, sources, invariants and costs
 * are in micro_features.h. Rings: a slot index advances modulo the capacity. Windows over
 * book messages are differences of running totals (one record per message in a ring of
 * capacity max window + 1, read back only when a vector is made); windows over trades
 * (BVC sigma, tape) subtract the entry leaving as a new one enters. Either way every
 * window sum costs O(1). Integer sums are exact (wrapping uint64/unsigned __int128 totals,
 * int64/__int128 trade sums); the only floating state is the BVC bucket buy volume and the
 * VPIN bucket ratios. The batch driver keeps the top L levels by patching them from each
 * diff's rows; every branch on market data that is a coin flip is written branch-free.
 */
#include "micro_features.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

#define L BOT4_FEATURES_LEVELS
#define MIN_DT_NS 1000

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

int bot4_features_params_check(const bot4_features_params *p)
{
    const int64_t lim = (int64_t)1 << 24;
    const int64_t v[] = {p->ofi_window, p->kyle_window, p->rv_window, p->cancel_short,
                         p->cancel_long, p->trade_window, p->bvc_window, p->vpin_buckets,
                         p->momentum_lag};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] < 1 || v[i] > lim) return BOT4_FEATURES_EINVAL;
    if (p->cancel_short > p->cancel_long) return BOT4_FEATURES_EINVAL;
    if (p->vpin_bucket < 1 || p->vpin_bucket > ((int64_t)1 << 60)) return BOT4_FEATURES_EINVAL;
    return BOT4_FEATURES_OK;
}

void bot4_features_free(bot4_features *f)
{
    free(f->tot);
    free(f->t_ts); free(f->t_px); free(f->t_qty); free(f->t_side);
    free(f->b_dp); free(f->v_bvc); free(f->v_aggr); free(f->mom);
    memset(f, 0, sizeof *f);
}

int bot4_features_init(bot4_features *f, const bot4_features_params *p)
{
    memset(f, 0, sizeof *f);
    if (bot4_features_params_check(p) != BOT4_FEATURES_OK) return BOT4_FEATURES_EINVAL;
    f->p = *p;
    /* +1: the window's oldest entry is still needed for the cancel-burst time span. */
    f->msg_cap = max64(max64(p->ofi_window, p->kyle_window), max64(p->rv_window, p->cancel_long)) + 1;
    size_t mc = (size_t)f->msg_cap, tc = (size_t)p->trade_window;
    f->tot = calloc(mc, sizeof(bot4_features_totals));
    f->t_ts = calloc(tc, sizeof(int64_t));
    f->t_px = calloc(tc, sizeof(int64_t));
    f->t_qty = calloc(tc, sizeof(int64_t));
    f->t_side = calloc(tc, sizeof(int64_t));
    f->b_dp = calloc((size_t)p->bvc_window, sizeof(int64_t));
    f->v_bvc = calloc((size_t)p->vpin_buckets, sizeof(double));
    f->v_aggr = calloc((size_t)p->vpin_buckets, sizeof(double));
    f->mom = calloc((size_t)p->momentum_lag, sizeof(double));
    if (!f->tot || !f->t_ts || !f->t_px ||
        !f->t_qty || !f->t_side || !f->b_dp || !f->v_bvc || !f->v_aggr || !f->mom) {
        bot4_features_free(f);
        return BOT4_FEATURES_ENOMEM;
    }
    bot4_features_reset(f);
    return BOT4_FEATURES_OK;
}

void bot4_features_reset(bot4_features *f)
{
    /* Rings keep their buffers; only counters and sums restart. */
    f->now = 0;
    memset(f->lv, 0, sizeof f->lv);
    f->cur_i = 0;
    f->has_book = 0;
    f->msgs = 0; f->msg_head = 0;
    f->x_acc = 0; f->hit_bid = f->hit_ask = 0;
    f->bid_since = f->ask_since = 0;
    f->t_head = f->t_n = f->trades = 0; f->sv_sum = 0;
    f->b_head = f->b_n = 0; f->b_s = 0; f->b_ss = 0;
    f->last_trade_px = 0; f->has_last_trade = 0;
    f->bucket_fill = 0; f->bucket_buy_bvc = 0.0; f->bucket_buy2_aggr = 0;
    f->v_head = f->v_n = 0;
    f->mom_head = f->mom_n = 0; f->samples = 0;
}

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* ---- SIMD: masked sum over the trade ring ------------------------------------------ */

typedef int64_t (*touch_fn)(const int64_t *, const int64_t *, const int64_t *, int64_t, int64_t, int64_t);

static int64_t touch_scalar(const int64_t *px, const int64_t *side, const int64_t *qty, int64_t n,
                            int64_t price, int64_t sv)
{
    int64_t s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (px[i] == price && side[i] == sv) ? qty[i] : 0;
    return s;
}

__attribute__((target("avx2")))
static int64_t touch_avx2(const int64_t *px, const int64_t *side, const int64_t *qty, int64_t n,
                          int64_t price, int64_t sv)
{
    const __m256i vp = _mm256_set1_epi64x(price), vs = _mm256_set1_epi64x(sv);
    __m256i acc = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256i m = _mm256_and_si256(
            _mm256_cmpeq_epi64(_mm256_loadu_si256((const __m256i *)(px + i)), vp),
            _mm256_cmpeq_epi64(_mm256_loadu_si256((const __m256i *)(side + i)), vs));
        acc = _mm256_add_epi64(acc, _mm256_and_si256(m, _mm256_loadu_si256((const __m256i *)(qty + i))));
    }
    int64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, acc);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + touch_scalar(px + i, side + i, qty + i, n - i, price, sv);
}

AVX512
static int64_t touch_avx512(const int64_t *px, const int64_t *side, const int64_t *qty, int64_t n,
                            int64_t price, int64_t sv)
{
    const __m512i vp = _mm512_set1_epi64(price), vs = _mm512_set1_epi64(sv);
    __m512i acc = _mm512_setzero_si512();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __mmask8 m = _mm512_cmpeq_epi64_mask(_mm512_loadu_si512(px + i), vp) &
                           _mm512_cmpeq_epi64_mask(_mm512_loadu_si512(side + i), vs);
        acc = _mm512_mask_add_epi64(acc, m, acc, _mm512_loadu_si512(qty + i));
    }
    return _mm512_reduce_add_epi64(acc) + touch_scalar(px + i, side + i, qty + i, n - i, price, sv);
}

static touch_fn touch_volume = touch_scalar;

static touch_fn touch_body(int level)
{
    switch (level) {
    case BOT4_SIMD_SCALAR: return touch_scalar;
    case BOT4_SIMD_AVX2: return touch_avx2;
    case BOT4_SIMD_AVX512: return touch_avx512;
    default: return NULL;
    }
}

int64_t bot4_features_touch_volume(const int64_t *px, const int64_t *side, const int64_t *qty,
                                   int64_t n, int64_t price, int64_t side_value)
{
    return touch_volume(px, side, qty, n, price, side_value);
}

int64_t bot4_features_touch_volume_level(int level, const int64_t *px, const int64_t *side,
                                         const int64_t *qty, int64_t n, int64_t price,
                                         int64_t side_value)
{
    const touch_fn fn = touch_body(level);
    return fn ? fn(px, side, qty, n, price, side_value) : 0;
}

/* ---- SIMD: OFI terms of the top L levels --------------------------------------------- */

/* e_k = 1{Pb>=Pb'}qb - 1{Pb<=Pb'}qb' - 1{Pa<=Pa'}qa + 1{Pa>=Pa'}qa' per level k, comparing
 * the state after a message (c) with the one before (pv); a missing ask level compares as
 * +inf (ask_key), a missing bid as price 0. An unchanged side contributes 0 exactly. The
 * comparisons are data-dependent coin flips on a busy book, so every body is branch-free:
 * the scalar one by masks, the vector ones by compares (levels 0..3 in one AVX2 register
 * and level 4 scalar; all 5 in one masked AVX-512 register). Integer arithmetic: every body
 * gives the same result bit for bit. */
typedef void (*ofi_fn)(const bot4_features_levels *, const bot4_features_levels *, int64_t *);

static inline int64_t ask_key(int64_t px, int64_t qty) { return qty > 0 ? px : INT64_MAX; }
static inline int64_t when(int cond, int64_t v) { return -(int64_t)cond & v; }

static inline int64_t ofi_level(const bot4_features_levels *c, const bot4_features_levels *pv, int k)
{
    const int64_t pb = c->bid_px[k], pb0 = pv->bid_px[k];
    const int64_t pa = ask_key(c->ask_px[k], c->ask_qty[k]), pa0 = ask_key(pv->ask_px[k], pv->ask_qty[k]);
    return when(pb >= pb0, c->bid_qty[k]) - when(pb <= pb0, pv->bid_qty[k])
         + when(pa >= pa0, pv->ask_qty[k]) - when(pa <= pa0, c->ask_qty[k]);
}

static void ofi_scalar(const bot4_features_levels *c, const bot4_features_levels *pv, int64_t *e)
{
    for (int k = 0; k < L; k++) e[k] = ofi_level(c, pv, k);
}

#define LD256(p) _mm256_loadu_si256((const __m256i *)(p))

__attribute__((target("avx2")))
static void ofi_avx2(const bot4_features_levels *c, const bot4_features_levels *pv, int64_t *e)
{
    const __m256i pb = LD256(c->bid_px), pb0 = LD256(pv->bid_px);
    const __m256i qb = LD256(c->bid_qty), qb0 = LD256(pv->bid_qty);
    const __m256i qa = LD256(c->ask_qty), qa0 = LD256(pv->ask_qty);
    const __m256i zero = _mm256_setzero_si256(), inf = _mm256_set1_epi64x(INT64_MAX);
    const __m256i pa = _mm256_blendv_epi8(inf, LD256(c->ask_px), _mm256_cmpgt_epi64(qa, zero));
    const __m256i pa0 = _mm256_blendv_epi8(inf, LD256(pv->ask_px), _mm256_cmpgt_epi64(qa0, zero));
    /* andnot(gt(y, x), v) = v where x >= y */
    const __m256i eb = _mm256_sub_epi64(_mm256_andnot_si256(_mm256_cmpgt_epi64(pb0, pb), qb),
                                        _mm256_andnot_si256(_mm256_cmpgt_epi64(pb, pb0), qb0));
    const __m256i ea = _mm256_sub_epi64(_mm256_andnot_si256(_mm256_cmpgt_epi64(pa0, pa), qa0),
                                        _mm256_andnot_si256(_mm256_cmpgt_epi64(pa, pa0), qa));
    _mm256_storeu_si256((__m256i *)e, _mm256_add_epi64(eb, ea));
    e[4] = ofi_level(c, pv, 4);
}


AVX512
static void ofi_avx512(const bot4_features_levels *c, const bot4_features_levels *pv, int64_t *e)
{
    const __mmask8 m = (1u << L) - 1;
    const __m512i pb = _mm512_maskz_loadu_epi64(m, c->bid_px), pb0 = _mm512_maskz_loadu_epi64(m, pv->bid_px);
    const __m512i qb = _mm512_maskz_loadu_epi64(m, c->bid_qty), qb0 = _mm512_maskz_loadu_epi64(m, pv->bid_qty);
    const __m512i qa = _mm512_maskz_loadu_epi64(m, c->ask_qty), qa0 = _mm512_maskz_loadu_epi64(m, pv->ask_qty);
    const __m512i zero = _mm512_setzero_si512(), inf = _mm512_set1_epi64(INT64_MAX);
    const __m512i pa = _mm512_mask_loadu_epi64(inf, _mm512_cmpgt_epi64_mask(qa, zero) & m, c->ask_px);
    const __m512i pa0 = _mm512_mask_loadu_epi64(inf, _mm512_cmpgt_epi64_mask(qa0, zero) & m, pv->ask_px);
    const __m512i eb = _mm512_sub_epi64(_mm512_maskz_mov_epi64(_mm512_cmpge_epi64_mask(pb, pb0), qb),
                                        _mm512_maskz_mov_epi64(_mm512_cmple_epi64_mask(pb, pb0), qb0));
    const __m512i ea = _mm512_sub_epi64(_mm512_maskz_mov_epi64(_mm512_cmpge_epi64_mask(pa, pa0), qa0),
                                        _mm512_maskz_mov_epi64(_mm512_cmple_epi64_mask(pa, pa0), qa));
    _mm512_mask_storeu_epi64(e, m, _mm512_add_epi64(eb, ea));
}

/* Any fault of a levels row (see bot4_features_levels_check), without branches: the
 * check runs on every row a caller hands in. The AVX2 body tests levels 0..3 and 1..4 of
 * a side in two overlapping registers; AVX-512 machines run it too (ten lanes of
 * comparisons gain nothing from a zmm). */
typedef int (*levels_bad_fn)(const bot4_features_levels *);

static inline int side_bad(const int64_t *px, const int64_t *q, int bid)
{
    int bad = 0;
    for (int k = 0; k < L; k++)
        bad |= (q[k] < 0) | ((q[k] == 0) & (px[k] != 0)) |
               ((q[k] > 0) & ((uint64_t)px[k] - 1 >= (uint64_t)BOT4_BOOK_PRICE_MAX));
    for (int k = 1; k < L; k++)
        bad |= (q[k] > 0) & ((q[k - 1] == 0) | (bid ? px[k] >= px[k - 1] : px[k] <= px[k - 1]));
    return bad;
}

static int levels_bad_scalar(const bot4_features_levels *lv)
{
    return side_bad(lv->bid_px, lv->bid_qty, 1) | side_bad(lv->ask_px, lv->ask_qty, 0);
}

__attribute__((target("avx2")))
static __m256i side_bad_avx2(const int64_t *px, const int64_t *q, int bid)
{
    const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi64x(1);
    const __m256i pmax = _mm256_set1_epi64x(BOT4_BOOK_PRICE_MAX);
    const __m256i q_lo = LD256(q), q_hi = LD256(q + 1);   /* levels 0..3, 1..4 */
    const __m256i p_lo = LD256(px), p_hi = LD256(px + 1);
    __m256i bad = _mm256_or_si256(_mm256_cmpgt_epi64(zero, q_lo), _mm256_cmpgt_epi64(zero, q_hi));
    const __m256i has_lo = _mm256_cmpgt_epi64(q_lo, zero), has_hi = _mm256_cmpgt_epi64(q_hi, zero);
    const __m256i none_lo = _mm256_cmpeq_epi64(q_lo, zero);
    /* a missing level with a price; a present one priced outside (0, PRICE_MAX] */
    const __m256i nz_lo = _mm256_xor_si256(_mm256_cmpeq_epi64(p_lo, zero), _mm256_set1_epi64x(-1));
    const __m256i nz_hi = _mm256_xor_si256(_mm256_cmpeq_epi64(p_hi, zero), _mm256_set1_epi64x(-1));
    bad = _mm256_or_si256(bad, _mm256_and_si256(none_lo, nz_lo));
    bad = _mm256_or_si256(bad, _mm256_and_si256(_mm256_cmpeq_epi64(q_hi, zero), nz_hi));
    const __m256i out_lo = _mm256_or_si256(_mm256_cmpgt_epi64(one, p_lo), _mm256_cmpgt_epi64(p_lo, pmax));
    const __m256i out_hi = _mm256_or_si256(_mm256_cmpgt_epi64(one, p_hi), _mm256_cmpgt_epi64(p_hi, pmax));
    bad = _mm256_or_si256(bad, _mm256_and_si256(has_lo, out_lo));
    bad = _mm256_or_si256(bad, _mm256_and_si256(has_hi, out_hi));
    /* level k (1..4, the hi lanes) present after a missing k-1, or not strictly worse */
    const __m256i worse = bid ? _mm256_cmpgt_epi64(p_lo, p_hi) : _mm256_cmpgt_epi64(p_hi, p_lo);
    const __m256i order = _mm256_or_si256(none_lo, _mm256_xor_si256(worse, _mm256_set1_epi64x(-1)));
    return _mm256_or_si256(bad, _mm256_and_si256(has_hi, order));
}

__attribute__((target("avx2")))
static int levels_bad_avx2(const bot4_features_levels *lv)
{
    const __m256i bad = _mm256_or_si256(side_bad_avx2(lv->bid_px, lv->bid_qty, 1),
                                         side_bad_avx2(lv->ask_px, lv->ask_qty, 0));
    return !_mm256_testz_si256(bad, bad);
}

static levels_bad_fn levels_bad = levels_bad_scalar;

static ofi_fn ofi_terms = ofi_scalar;

static ofi_fn ofi_body(int level)
{
    switch (level) {
    case BOT4_SIMD_SCALAR: return ofi_scalar;
    case BOT4_SIMD_AVX2: return ofi_avx2;
    case BOT4_SIMD_AVX512: return ofi_avx512;
    default: return NULL;
    }
}

int bot4_features_ofi_level(int level, const bot4_features_levels *c, const bot4_features_levels *pv,
                            int64_t *e)
{
    const ofi_fn fn = ofi_body(level);
    if (!fn) return BOT4_FEATURES_EINVAL;
    fn(c, pv, e);
    return BOT4_FEATURES_OK;
}

int bot4_features_dispatch_init(int level)
{
    const touch_fn fn = touch_body(level);
    const ofi_fn ofi = ofi_body(level);
    if (!fn || !ofi) return BOT4_FEATURES_EINVAL;
    touch_volume = fn;
    ofi_terms = ofi;
    levels_bad = level == BOT4_SIMD_SCALAR ? levels_bad_scalar : levels_bad_avx2;
    return BOT4_FEATURES_OK;
}

/* ---- tape ------------------------------------------------------------------------- */

static double phi(double z) { return 0.5 * (1.0 + erf(z * 0.70710678118654752440)); }

static void close_bucket(bot4_features *f)
{
    const double v = (double)f->p.vpin_bucket;
    const double buy_a = 0.5 * (double)f->bucket_buy2_aggr;
    f->v_bvc[f->v_head] = fabs(2.0 * f->bucket_buy_bvc - v) / v;
    f->v_aggr[f->v_head] = fabs(2.0 * buy_a - v) / v;
    f->v_head = f->v_head + 1 == f->p.vpin_buckets ? 0 : f->v_head + 1;
    if (f->v_n < f->p.vpin_buckets) f->v_n++;
    f->bucket_fill = 0;
    f->bucket_buy_bvc = 0.0;
    f->bucket_buy2_aggr = 0;
}

static void on_trade(bot4_features *f, const bot4_event *ev)
{
    const int64_t px = ev->price, q = ev->qty;
    const int side = ev->side;
    /* BVC: price change against the previous trade, sigma over the last bvc_window. */
    const int64_t dp = f->has_last_trade ? px - f->last_trade_px : 0;
    f->last_trade_px = px; f->has_last_trade = 1;
    if (f->b_n == f->p.bvc_window) {
        const int64_t old = f->b_dp[f->b_head];
        f->b_s -= old; f->b_ss -= (__int128)old * old;
    } else {
        f->b_n++;
    }
    f->b_dp[f->b_head] = dp;
    f->b_s += dp; f->b_ss += (__int128)dp * dp;
    f->b_head = f->b_head + 1 == f->p.bvc_window ? 0 : f->b_head + 1;
    const __int128 nvar = (__int128)f->b_n * f->b_ss - (__int128)f->b_s * f->b_s; /* n^2 var */
    /* Phi(0) = 0.5 exactly, and most trades print at the previous trade's price: no erf */
    double buy_frac = 0.5;
    if (nvar > 0 && dp != 0) {
        const double sigma = sqrt((double)nvar) / (double)f->b_n;
        buy_frac = phi((double)dp / sigma);
    }
    /* Fill buckets; a trade crossing a boundary is split. */
    int64_t left = q;
    const int64_t w2 = side == BOT4_SIDE_BID ? 2 : side == BOT4_SIDE_ASK ? 0 : 1;
    while (left > 0) {
        int64_t take = f->p.vpin_bucket - f->bucket_fill;
        if (take > left) take = left;
        f->bucket_fill += take;
        f->bucket_buy_bvc += (double)take * buy_frac;
        f->bucket_buy2_aggr += take * w2;
        left -= take;
        if (f->bucket_fill == f->p.vpin_bucket) close_bucket(f);
    }
    /* Tape ring. */
    const int64_t sgn = side == BOT4_SIDE_BID ? 1 : side == BOT4_SIDE_ASK ? -1 : 0;
    if (f->t_n == f->p.trade_window) {
        const int64_t h = f->t_head;
        const int64_t os = f->t_side[h] == BOT4_SIDE_BID ? 1 : f->t_side[h] == BOT4_SIDE_ASK ? -1 : 0;
        f->sv_sum -= os * f->t_qty[h];
    } else {
        f->t_n++;
    }
    f->t_ts[f->t_head] = ev->ts_local;
    f->t_px[f->t_head] = px;
    f->t_qty[f->t_head] = q;
    f->t_side[f->t_head] = side;
    f->t_head = f->t_head + 1 == f->p.trade_window ? 0 : f->t_head + 1;
    f->sv_sum += sgn * q;
    f->trades++;
    f->x_acc += sgn * q;
    /* Volume hitting the touch as the book stood at the trade (for cancel_burst). */
    if (f->has_book) {
        const bot4_features_levels *c = &f->lv[f->cur_i];
        if (side == BOT4_SIDE_ASK && c->bid_qty[0] > 0 && px == c->bid_px[0]) f->hit_bid += q;
        if (side == BOT4_SIDE_BID && c->ask_qty[0] > 0 && px == c->ask_px[0]) f->hit_ask += q;
    }
}

/* ---- book ------------------------------------------------------------------------- */

static int64_t mid2(const bot4_features_levels *s, int *ok)
{
    *ok = (s->bid_qty[0] > 0) & (s->ask_qty[0] > 0);
    return when(*ok, s->bid_px[0] + s->ask_px[0]);
}

static void read_side(const bot4_book *b, int side, int64_t *px, int64_t *q)
{
    /* zero only the levels the book does not have (rep stos on the whole struct costs
     * more than the rest of the update) */
    for (int64_t k = bot4_book_top(b, side, L, px, q); k < L; k++)
        px[k] = q[k] = 0;
}

/* One diff row on the cached top of its side: px/q hold the n best levels of the book as
 * it stood before the row; exhaustive: the side has no other level. A row worse than all n
 * on a side that is not exhaustive cannot change them and is skipped; the rest is an
 * update, an insert (shifting the worse ones down, the last out) or a delete (shifting up;
 * the caller refills the tail from the book). Returns 1 when the cache changed. */
static inline int patch_row(int side, int64_t *px, int64_t *q, int *n_io, int *exhaustive,
                            int64_t price, int64_t qty)
{
    const int n = *n_io;
    /* j = how many cached levels are strictly better than price (they come first); counted
     * without branches, as the position is a coin flip per row near the touch. Flipping
     * every bit reverses the order of int64s, so asks compare like bids after ^ flip. */
    const int64_t flip = -(int64_t)(side != BOT4_SIDE_BID), key = price ^ flip;
    int j = 0;
    for (int i = 0; i < L; i++) j += (i < n) & ((px[i] ^ flip) > key);
    if (j == n && !*exhaustive) return 0;
    if (j < n && px[j] == price) {
        if (qty) {
            const int changed = q[j] != qty;
            q[j] = qty;
            return changed;
        }
        for (int i = j; i < n - 1; i++) { px[i] = px[i + 1]; q[i] = q[i + 1]; }
        px[n - 1] = q[n - 1] = 0;
        *n_io = n - 1;
        return 1;
    }
    if (!qty) return 0;                     /* delete of an absent level */
    if (j == L) { *exhaustive = 0; return 0; } /* one more level below a full top */
    if (n == L) *exhaustive = 0;            /* the last level drops out of the top */
    for (int i = n == L ? L - 1 : n; i > j; i--) { px[i] = px[i - 1]; q[i] = q[i - 1]; }
    px[j] = price; q[j] = qty;
    if (n < L) *n_io = n + 1;
    return 1;
}

/* s holds the top before a diff message the book has applied row for row; make it the
 * top after, reading the book only for levels that a delete pulled up from below the
 * cache (bot4_book_top_below, from the last level still known). Invariant per row: the
 * n cached levels are the best n of the book after the rows so far. Returns 0 when the
 * top is the same as before (most messages of a deep feed change only levels below it). */
static int patch_levels(const bot4_book *b, bot4_features_levels *s, const bot4_event *rows, int64_t k)
{
    int64_t *px[2] = {s->bid_px, s->ask_px}, *q[2] = {s->bid_qty, s->ask_qty};
    int n[2], exhaustive[2], changed = 0;
    for (int sd = 0; sd < 2; sd++) {
        int c = 0; /* the levels present are a prefix: count them without branches */
        for (int i = 0; i < L; i++) c += q[sd][i] > 0;
        n[sd] = c;
        exhaustive[sd] = c < L;
    }
    /* Most rows of a deep feed land below the cached levels and cannot change them: one
     * compare per row against the key (price, negated for asks) of the last cached level
     * skips them (INT64_MIN: the side is exhaustive, every row counts; INT64_MAX: nothing
     * is cached of a side with more levels, every row is for the refill). */
#define SKIP_BELOW(sd) (exhaustive[sd] ? INT64_MIN : n[sd] ? ((sd) == BOT4_SIDE_BID ? px[sd][n[sd] - 1] : -px[sd][n[sd] - 1]) : INT64_MAX)
    int64_t below[2] = {SKIP_BELOW(0), SKIP_BELOW(1)};
    for (int64_t r = 0; r < k; r++) {
        const int sd = rows[r].side;
        if (sd > BOT4_SIDE_ASK) continue;
        const int64_t neg = -(int64_t)sd; /* sd is 0 or 1 here: key = price or -price */
        const int64_t key = (rows[r].price ^ neg) - neg;
        if (key < below[sd]) continue;
        changed |= patch_row(sd, px[sd], q[sd], &n[sd], &exhaustive[sd], rows[r].price, rows[r].qty);
        below[sd] = SKIP_BELOW(sd);
    }
#undef SKIP_BELOW
    for (int sd = 0; sd < 2; sd++) {
        const int have = n[sd];
        if (exhaustive[sd] || have == L) continue;
        const int64_t got = have ? bot4_book_top_below(b, sd, px[sd][have - 1], L - have, px[sd] + have, q[sd] + have)
                                 : bot4_book_top(b, sd, L, px[sd], q[sd]);
        for (int64_t i = have + got; i < L; i++) px[sd][i] = q[sd][i] = 0;
        changed = 1;
    }
    return changed;
}

static const bot4_features_totals no_totals; /* before the first message: all zero */

/* The totals after the newest message (all zero before the first). */
static inline const bot4_features_totals *newest_totals(const bot4_features *f)
{
    return f->msgs ? &f->tot[f->msg_head > 0 ? f->msg_head - 1 : f->msg_cap - 1] : &no_totals;
}

/* lv[cur_i] is the new top after a book message at ts, lv[1 - cur_i] the one before (or,
 * when `same`, lv[cur_i] is both: the message left the top as it was, so every OFI term
 * is 0 and the compare is skipped): per-message terms, then one record of running totals. */
static void commit_message(bot4_features *f, int64_t ts, int same)
{
    const bot4_features_levels *c = &f->lv[f->cur_i], *pv = same ? c : &f->lv[1 - f->cur_i];
    int64_t e[L] = {0};
    if (!same) ofi_terms(c, pv, e);
    /* Mid change and signed volume (Kyle, RV). */
    int ok0, ok1;
    const int64_t m0 = mid2(pv, &ok0), m1 = mid2(c, &ok1);
    const int64_t y = (ok0 && ok1) ? m1 - m0 : 0;
    const int64_t x = f->x_acc;
    f->x_acc = 0;
    /* Touch depth removed unexplained by trades. */
    int64_t cm = 0;
    if (pv->bid_qty[0] > 0) {
        int64_t removed = 0;
        if (c->bid_qty[0] == 0 || c->bid_px[0] < pv->bid_px[0]) removed = pv->bid_qty[0];
        else if (c->bid_px[0] == pv->bid_px[0]) removed = max64(pv->bid_qty[0] - c->bid_qty[0], 0);
        cm += max64(removed - f->hit_bid, 0);
    }
    if (pv->ask_qty[0] > 0) {
        int64_t removed = 0;
        if (c->ask_qty[0] == 0 || c->ask_px[0] > pv->ask_px[0]) removed = pv->ask_qty[0];
        else if (c->ask_px[0] == pv->ask_px[0]) removed = max64(pv->ask_qty[0] - c->ask_qty[0], 0);
        cm += max64(removed - f->hit_ask, 0);
    }
    f->hit_bid = f->hit_ask = 0;
    /* Touch survival. */
    const int new_bid = (c->bid_qty[0] > 0) & ((pv->bid_qty[0] == 0) | (pv->bid_px[0] != c->bid_px[0]));
    const int new_ask = (c->ask_qty[0] > 0) & ((pv->ask_qty[0] == 0) | (pv->ask_px[0] != c->ask_px[0]));
    f->bid_since = new_bid ? ts : f->bid_since;
    f->ask_since = new_ask ? ts : f->ask_since;
    /* Running totals (wrapping: see bot4_features_totals): the newest record plus this
     * message's terms, field by field (a struct copy of fields just written one by one
     * would reload them with wider loads, which defeats store-to-load forwarding). */
    const bot4_features_totals *restrict t = newest_totals(f);
    bot4_features_totals *restrict slot = &f->tot[f->msg_head];
    for (int k = 0; k < L; k++) slot->ofi[k] = t->ofi[k] + (uint64_t)e[k];
    slot->x = t->x + (uint64_t)x;
    slot->y = t->y + (uint64_t)y;
    slot->c = t->c + (uint64_t)cm;
    slot->ts = ts;
    unsigned __int128 xx = t->xx, xy = t->xy, yy = t->yy;
    if (x | y) { /* most messages have neither trades before them nor a mid change */
        xx += (unsigned __int128)((__int128)x * x);
        xy += (unsigned __int128)((__int128)x * y);
        yy += (unsigned __int128)((__int128)y * y);
    }
    slot->xx = xx; slot->xy = xy; slot->yy = yy;
    f->msg_head = f->msg_head + 1 == f->msg_cap ? 0 : f->msg_head + 1;
    f->msgs++;
    f->has_book = 1;
}

/* A book message ended: rows (k of them, may be NULL) were applied row for row to a live
 * book when `exact`, so the new top may be patched from the old; else it is read. */
static void on_book(bot4_features *f, const bot4_book *b, int64_t ts, const bot4_event *rows,
                    int64_t n_rows, int exact)
{
    bot4_features_levels *s = &f->lv[1 - f->cur_i];
    if (exact && f->has_book) {
        *s = f->lv[f->cur_i];
        if (!patch_levels(b, s, rows, n_rows)) {
            f->lv[f->cur_i].ts = ts; /* the top stands: no flip, no compare */
            commit_message(f, ts, 1);
            return;
        }
    } else {
        read_side(b, BOT4_SIDE_BID, s->bid_px, s->bid_qty);
        read_side(b, BOT4_SIDE_ASK, s->ask_px, s->ask_qty);
    }
    s->ts = ts;
    f->cur_i = 1 - f->cur_i;
    commit_message(f, ts, 0);
}

/* The reason level k of one side is malformed, 0 if it is not. */
static int level_fault(int side, const int64_t *px, const int64_t *q, int k)
{
    if (q[k] < 0) return BOT4_FEATURES_LV_QTY;
    if (q[k] == 0) return px[k] != 0 ? BOT4_FEATURES_LV_MISSING_PRICE : 0;
    if (px[k] <= 0 || px[k] > BOT4_BOOK_PRICE_MAX) return BOT4_FEATURES_LV_PRICE;
    if (k > 0 && q[k - 1] == 0) return BOT4_FEATURES_LV_GAP;
    if (k > 0 && (side == BOT4_SIDE_BID ? px[k] >= px[k - 1] : px[k] <= px[k - 1])) return BOT4_FEATURES_LV_ORDER;
    return 0;
}

int bot4_features_levels_check(const bot4_features_levels *lv, int64_t n, int64_t *row,
                               int *side, int *level, int *reason)
{
    for (int64_t r = 0; r < n; r++) {
        /* rows are almost always good: a bad one is then located by level_fault */
        if (!levels_bad(&lv[r]))
            continue;
        for (int sd = 0; sd < 2; sd++) {
            const int64_t *px = sd == BOT4_SIDE_BID ? lv[r].bid_px : lv[r].ask_px;
            const int64_t *q = sd == BOT4_SIDE_BID ? lv[r].bid_qty : lv[r].ask_qty;
            for (int k = 0; k < L; k++) {
                const int why = level_fault(sd, px, q, k);
                if (why) {
                    *row = r; *side = sd; *level = k; *reason = why;
                    return BOT4_FEATURES_EINVAL;
                }
            }
        }
    }
    return BOT4_FEATURES_OK;
}

void bot4_features_on_levels(bot4_features *f, const bot4_features_levels *lv)
{
    f->now = lv->ts;
    f->lv[1 - f->cur_i] = *lv;
    f->cur_i = 1 - f->cur_i;
    commit_message(f, lv->ts, 0);
}

void bot4_features_on_event(bot4_features *f, const bot4_book *b, const bot4_event *ev)
{
    f->now = ev->ts_local;
    switch (ev->kind) {
    case BOT4_EV_TRADE:
        on_trade(f, ev);
        break;
    case BOT4_EV_SNAPSHOT:
    case BOT4_EV_UPDATE:
        if (ev->flags & BOT4_EVF_END) on_book(f, b, ev->ts_local, NULL, 0, 0);
        break;
    default:
        break;
    }
}

/* ---- vector ----------------------------------------------------------------------- */

/* Totals of the ring slot `back` messages before the newest (back < msgs, back < msg_cap). */
static const bot4_features_totals *totals_back(const bot4_features *f, int64_t back)
{
    const int64_t j = f->msg_head - 1 - back;
    return &f->tot[j >= 0 ? j : j + f->msg_cap];
}


/* Totals just before the window of the last w messages (zero when it covers them all):
 * a window sum is the newest totals minus these. */
static const bot4_features_totals *window_start(const bot4_features *f, int64_t w)
{
    return f->msgs > w ? totals_back(f, w) : &no_totals;
}

/* Rate of c over the last min(msgs, w) messages: sum / their time span (>= 1 us). */
static double window_rate(const bot4_features *f, int64_t w)
{
    const int64_t have = f->msgs < w ? f->msgs : w;
    const bot4_features_totals *now = newest_totals(f);
    const int64_t dt = max64(now->ts - totals_back(f, have - 1)->ts, MIN_DT_NS);
    return (double)(int64_t)(now->c - window_start(f, w)->c) / (double)dt;
}

void bot4_features_vector(const bot4_features *f, double *out)
{
    const bot4_features_levels *c = &f->lv[f->cur_i];
    const double nan = NAN;
    const int two = c->bid_qty[0] > 0 && c->ask_qty[0] > 0;
    const double pb = (double)c->bid_px[0], pa = (double)c->ask_px[0];
    const double qb = (double)c->bid_qty[0], qa = (double)c->ask_qty[0];
    out[BOT4_F_SPREAD] = two ? (double)(c->ask_px[0] - c->bid_px[0]) : nan;
    const double mid = two ? 0.5 * (double)(c->bid_px[0] + c->ask_px[0]) : nan;
    out[BOT4_F_MID] = mid;
    const double micro = two ? (pb * qa + pa * qb) / (qb + qa) : nan;
    out[BOT4_F_MICRO] = micro;
    if (f->mom_n >= f->p.momentum_lag)
        out[BOT4_F_MICRO_MOM] = micro - f->mom[f->mom_head]; /* oldest of the ring = lag back */
    else
        out[BOT4_F_MICRO_MOM] = nan;
    int64_t sb = 0, sa = 0;
    const bot4_features_totals *run = newest_totals(f), *ofi0 = window_start(f, f->p.ofi_window);
    for (int k = 0; k < L; k++) {
        const int64_t b = c->bid_qty[k], a = c->ask_qty[k];
        out[BOT4_F_IMB1 + k] = b + a > 0 ? (double)(b - a) / (double)(b + a) : 0.0;
        sb += b; sa += a;
        out[BOT4_F_OFI1 + k] = (double)(int64_t)(run->ofi[k] - ofi0->ofi[k]);
    }
    out[BOT4_F_IMB_CUM] = sb + sa > 0 ? (double)(sb - sa) / (double)(sb + sa) : 0.0;
    /* VPIN: mean over the full buckets in the ring. */
    if (f->v_n > 0) {
        /* four partial sums per series: four short dependency chains instead of one long
         * one (the order of a sum of at most vpin_buckets ratios in [0, 1] moves it by an
         * ulp or so; the slot order was never the time order anyway) */
        double a[4] = {0.0, 0.0, 0.0, 0.0}, g[4] = {0.0, 0.0, 0.0, 0.0};
        int64_t i = 0;
        for (; i + 4 <= f->v_n; i += 4)
            for (int j = 0; j < 4; j++) { a[j] += f->v_bvc[i + j]; g[j] += f->v_aggr[i + j]; }
        for (; i < f->v_n; i++) { a[0] += f->v_bvc[i]; g[0] += f->v_aggr[i]; }
        out[BOT4_F_VPIN_BVC] = ((a[0] + a[1]) + (a[2] + a[3])) / (double)f->v_n;
        out[BOT4_F_VPIN_AGGR] = ((g[0] + g[1]) + (g[2] + g[3])) / (double)f->v_n;
    } else {
        out[BOT4_F_VPIN_BVC] = out[BOT4_F_VPIN_AGGR] = nan;
    }
    /* Kyle's lambda over the last min(msgs, window) messages. */
    const int64_t nk = f->msgs < f->p.kyle_window ? f->msgs : f->p.kyle_window;
    const bot4_features_totals *k0 = window_start(f, f->p.kyle_window);
    const int64_t sx = (int64_t)(run->x - k0->x), sy = (int64_t)(run->y - k0->y);
    const __int128 sxx = (__int128)(run->xx - k0->xx), sxy = (__int128)(run->xy - k0->xy);
    const __int128 den = (__int128)nk * sxx - (__int128)sx * sx;
    const __int128 num = (__int128)nk * sxy - (__int128)sx * sy;
    out[BOT4_F_KYLE] = den != 0 ? 0.5 * ((double)num / (double)den) : nan;
    const __int128 syy = (__int128)(run->yy - window_start(f, f->p.rv_window)->yy);
    out[BOT4_F_RV] = two ? 0.5 * sqrt((double)syy) / mid : nan;
    /* Tape over the last t_n trades. */
    double rate_den = 0.0;
    if (f->t_n > 0) {
        const int64_t oldest = f->t_n == f->p.trade_window ? f->t_head : 0;
        rate_den = (double)max64(f->now - f->t_ts[oldest], MIN_DT_NS);
        out[BOT4_F_TRADE_RATE] = (double)f->t_n / rate_den * 1e9;
    } else {
        out[BOT4_F_TRADE_RATE] = 0.0;
    }
    out[BOT4_F_SIGNED_VOL] = (double)f->sv_sum;
    /* Cancel burst. */
    if (f->msgs > 0) {
        const double rl = window_rate(f, f->p.cancel_long);
        out[BOT4_F_CANCEL_BURST] = rl > 0.0 ? window_rate(f, f->p.cancel_short) / rl : 0.0;
    } else {
        out[BOT4_F_CANCEL_BURST] = 0.0;
    }
    out[BOT4_F_BID_AGE] = c->bid_qty[0] > 0 ? (double)(f->now - f->bid_since) * 1e-9 : nan;
    out[BOT4_F_ASK_AGE] = c->ask_qty[0] > 0 ? (double)(f->now - f->ask_since) * 1e-9 : nan;
    out[BOT4_F_QAHEAD_BID] = qb;
    out[BOT4_F_QAHEAD_ASK] = qa;
    /* Fill ETA from the recent trade rate at the touch price. */
    const int64_t vb = c->bid_qty[0] > 0
        ? touch_volume(f->t_px, f->t_side, f->t_qty, f->t_n, c->bid_px[0], BOT4_SIDE_ASK) : 0;
    const int64_t va = c->ask_qty[0] > 0
        ? touch_volume(f->t_px, f->t_side, f->t_qty, f->t_n, c->ask_px[0], BOT4_SIDE_BID) : 0;
    out[BOT4_F_ETA_BID] = c->bid_qty[0] == 0 ? nan : vb > 0 ? qb / ((double)vb / rate_den * 1e9) : INFINITY;
    out[BOT4_F_ETA_ASK] = c->ask_qty[0] == 0 ? nan : va > 0 ? qa / ((double)va / rate_den * 1e9) : INFINITY;
}

void bot4_features_sample(bot4_features *f, double *out)
{
    bot4_features_vector(f, out);
    f->mom[f->mom_head] = out[BOT4_F_MICRO];
    f->mom_head = f->mom_head + 1 == f->p.momentum_lag ? 0 : f->mom_head + 1;
    if (f->mom_n < f->p.momentum_lag) f->mom_n++;
    f->samples++;
}

/* ---- batch driver ----------------------------------------------------------------- */

/* Rows validated ahead of use per piece when the driver checks its input: small enough
 * to still be in cache when the update reads them, large enough to amortize the calls. */
#define CHECK_ROWS 1024

/* The batch loop of bot4_features_run (b != NULL: apply each book message to b) and
 * bot4_features_run_levels (b == NULL: take the next of `levels` instead). With a fault
 * record, the rows (and levels) are validated piece by piece just before they are used. */
static int run_loop(bot4_features *f, bot4_book *b, const bot4_features_levels *levels,
                    int64_t n_levels, const bot4_event *ev, int64_t n, int64_t every,
                    int64_t interval_ns, double *out, int64_t *out_row, int64_t cap,
                    int64_t *n_out, bot4_features_levels *trace, int64_t trace_cap,
                    int64_t *n_trace, bot4_features_fault *fault)
{
    int64_t msg_start = 0, last_row = -1, no = 0, nt = 0, nl = 0;
    int64_t last_ts = n > 0 ? ev[0].ts_local : 0;
    int rc = BOT4_FEATURES_OK;
    bot4_book_vstate vs;
    bot4_book_verr verr;
    bot4_book_validate_init(&vs);
    for (int64_t c0 = 0; c0 < n; c0 += CHECK_ROWS) {
        const int64_t c1 = n - c0 > CHECK_ROWS ? c0 + CHECK_ROWS : n;
        if (fault && bot4_book_validate_rows(&vs, ev, c0, c1, &verr) != BOT4_BOOK_OK) {
            rc = BOT4_FEATURES_EBADINPUT;
            goto done;
        }
        for (int64_t i = c0; i < c1; i++) {
            const bot4_event *e = &ev[i];
            const int book_row = e->kind == BOT4_EV_SNAPSHOT || e->kind == BOT4_EV_UPDATE;
            if (book_row) {
                if (e->flags & BOT4_EVF_BEGIN) msg_start = i;
                if (!(e->flags & BOT4_EVF_END)) continue;
                f->now = e->ts_local;
                if (b) {
                    int64_t nb = 0;
                    const int64_t k = i - msg_start + 1;
                    const int64_t applied0 = b->stats.diffs_applied, updates0 = b->stats.level_updates;
                    const int64_t snaps0 = b->stats.snapshots;
                    const int live0 = b->state == BOT4_BOOK_LIVE;
                    if (bot4_book_apply_batch(b, ev + msg_start, k, NULL, &nb) != BOT4_BOOK_OK)
                        rc = BOT4_FEATURES_ENOMEM;
                    /* A diff applied row for row to a live book: the top can be patched from
                     * the rows instead of read (most diffs change levels already in the top,
                     * or none). */
                    const int exact = live0 && b->state == BOT4_BOOK_LIVE &&
                                      b->stats.diffs_applied == applied0 + 1 &&
                                      b->stats.level_updates == updates0 + k && b->stats.snapshots == snaps0;
                    on_book(f, b, e->ts_local, ev + msg_start, k, exact);
                } else {
                    if (nl == n_levels) { rc = BOT4_FEATURES_EINVAL; goto done; }
                    if (fault && bot4_features_levels_check(levels + nl, 1, &fault->row, &fault->side,
                                                            &fault->level, &fault->reason) != BOT4_FEATURES_OK) {
                        fault->source = BOT4_FEATURES_FAULT_LEVELS;
                        fault->row = nl;
                        fault->value = 0;
                        rc = BOT4_FEATURES_EBADINPUT;
                        goto done;
                    }
                    bot4_features_levels *s = &f->lv[1 - f->cur_i];
                    *s = levels[nl++];
                    s->ts = e->ts_local;
                    f->cur_i = 1 - f->cur_i;
                    commit_message(f, e->ts_local, 0);
                }
                if (trace) {
                    if (nt == trace_cap) { rc = BOT4_FEATURES_EINVAL; goto done; }
                    trace[nt++] = f->lv[f->cur_i];
                }
            } else {
                /* a trade or a quote row (validated kinds): what bot4_features_on_event
                 * does with them, inline (a quote row only moves the clock) */
                f->now = e->ts_local;
                if (e->kind == BOT4_EV_TRADE)
                    on_trade(f, e);
                else if (!(e->flags & BOT4_EVF_END))
                    continue;
            }
            const int due = (every > 0 && i - last_row >= every) ||
                            (interval_ns > 0 && e->ts_local - last_ts >= interval_ns);
            if (due) {
                if (no == cap) { rc = BOT4_FEATURES_EINVAL; goto done; }
                bot4_features_sample(f, out + no * BOT4_F_N);
                out_row[no++] = i;
                last_row = i;
                last_ts = e->ts_local;
            }
            if (rc != BOT4_FEATURES_OK) goto done;
        }
    }
    if (fault && bot4_book_validate_end(&vs, ev, &verr) != BOT4_BOOK_OK)
        rc = BOT4_FEATURES_EBADINPUT;
done:
    if (rc == BOT4_FEATURES_EBADINPUT && fault->source != BOT4_FEATURES_FAULT_LEVELS) {
        fault->source = BOT4_FEATURES_FAULT_EVENTS;
        fault->row = verr.row;
        fault->reason = verr.reason;
        fault->value = verr.value;
        fault->side = fault->level = -1;
    }
    *n_out = no;
    if (n_trace) *n_trace = nt;
    return rc;
}

int bot4_features_run(bot4_features *f, bot4_book *b, const bot4_event *ev, int64_t n,
                      int64_t every, int64_t interval_ns, double *out, int64_t *out_row,
                      int64_t cap, int64_t *n_out, bot4_features_levels *trace,
                      int64_t trace_cap, int64_t *n_trace, bot4_features_fault *fault)
{
    if (fault) fault->source = BOT4_FEATURES_FAULT_NONE;
    return run_loop(f, b, NULL, 0, ev, n, every, interval_ns, out, out_row, cap, n_out,
                    trace, trace_cap, n_trace, fault);
}

int bot4_features_run_levels(bot4_features *f, const bot4_event *ev, int64_t n,
                             const bot4_features_levels *levels, int64_t n_levels,
                             int64_t every, int64_t interval_ns, double *out, int64_t *out_row,
                             int64_t cap, int64_t *n_out, bot4_features_fault *fault)
{
    if (fault) fault->source = BOT4_FEATURES_FAULT_NONE;
    return run_loop(f, NULL, levels, n_levels, ev, n, every, interval_ns, out, out_row, cap,
                    n_out, NULL, 0, NULL, fault);
}
