/* ta.c - streaming TA indicators and the batch driver; see ta.h for the design.
 *
 * Structure: a bot4_ta holds its kind, parameters, bar count t, up to two rings (the last
 * `cap` inputs of a series a kind reads one by one: ROC, Chaikin volatility, CCI, Hurst), up
 * to three sliding windows (`win`, below) and a union of small named states (EMAs, Wilder
 * averages, SAR trend). update_kind() switches on the kind, pushes the bar's terms and
 * writes the outputs, NaN while warming up; bot4_ta_update() calls it, and batch_<KIND>()
 * runs it inlined in one loop per kind over a local copy of the state kept in registers.
 *
 * Cost per bar (streaming and batch): O(1), amortized for the window kinds (a window's
 * suffix pass, O(window), runs once every `window` bars, so one update can take O(window));
 * CCI O(n) (its mean and mean deviation, as TA-Lib), Hurst O(n max_lag). Measured in batch
 * on 35k 2h BTCUSDT bars (best of several runs; a contended core doubles some): about
 * 1.5-3 ns per bar for SMA, WMA, EMA, RSI, ATR, OBV, AD; 3-8 ns for BBANDS, WILLR, STOCH,
 * MFI; 9-14 ns for AROON, ADX, ULTOSC; ~22 ns for CCI(14) (bench/bench_ta.py: vs TA-Lib).
 *
 * Precision: window sums never subtract (see the window section); BBANDS takes its variance
 * one-pass about a recent value where that is well conditioned, two-pass otherwise; the
 * Wilder recursions (RSI, ATR, ADX) and means use a multiply by a precomputed 1/n or
 * (n-1)/n where TA-Lib divides (within an ulp per step, and a shorter dependency chain);
 * the EMA keeps TA-Lib's exact form, which the tests need after a 4e7-fold price fall.
 *
 * Formulas and sources (TA-Lib = the C library of the TA-Lib >= 0.6 wheels, tested against
 * its 0.8.1 build; classic compatibility, unstable period 0; each
 * matches TA-Lib's lookback and seeding, see the tests):
 *   SMA, WMA (weights 1..n / (n(n+1)/2)), EMA (k = 2/(n+1), seeded with the SMA of the first
 *   n inputs), DEMA = 2 e1 - e2, TEMA = e3 + (3 e1 - 3 e2) with each EMA seeded from the first
 *   n values of the one below (Mulloy 1994; TA-Lib).
 *   RSI: Wilder (1978), average gain/loss seeded with plain means of the first n changes,
 *   then a = a (n-1)/n + x/n (TA-Lib: (a (n-1) + x)/n, equal to an ulp); 100 g/(g+l), 0 when
 *   g+l is 0 (as current TA-Lib).
 *   MACD (Appel): EMA_fast - EMA_slow, both starting at bar slow-1 (the fast EMA is seeded
 *   with the mean of the fast window ending there, as TA-Lib does), signal = EMA of MACD.
 *   STOCH (Lane): fastK = 100 (c - LL)/(HH - LL) (TA-Lib: (c - LL)/((HH - LL)/100), an ulp
 *   apart), slowK = SMA(fastK), slowD = SMA(slowK).
 *   CCI (Lambert 1980): (tp - mean)/(0.015 mean|tp - mean|), tp = (h+l+c)/3; the mean
 *   summed in ring-storage order (slot = bar mod n), TA-Lib's order (tp - mean cancels, so
 *   the mean must match TA-Lib's bits), the mean deviation in four interleaved partial sums
 *   (a few ulp from TA-Lib's order, no cancellation); 0 when the deviation or the mean
 *   deviation is within 1e-14 of |mean| (TA-Lib's flat-window test).
 *   Williams %R: -100 (HH - c)/(HH - LL) (TA-Lib: (HH - c)/((HH - LL)/-100)). MFI (Quong & Soudack): 100 P/(P+N) over n
 *   money flows tp*v, signed by the change of tp (a change within 1e-14 relative is a tie,
 *   TA-Lib's TA_IS_ZERO_SCALED); 0 when P+N is 0.
 *   ROC: (c/c[n] - 1) 100. ULTOSC (Williams 1985): 100 (4 A1/B1 + 2 A2/B2 + A3/B3)/7 with
 *   A = sum(c - min(l, pc)), B = sum(true range), periods sorted shortest first.
 *   ATR (Wilder): true range seeded with the mean of the first n, then Wilder smoothing
 *   (multiply-add form, as RSI).
 *   ADX (Wilder): +DM/-DM/TR Wilder sums (s (n-1)/n + x; TA-Lib: s - s/n + x), DX = 100
 *   |+DI - -DI|/(+DI + -DI), ADX = mean of the first n DX then Wilder smoothing (TA-Lib's
 *   staging: lookback 2n-1).
 *   AROON (Chande 1995): 100/n (n - bars since the highest high / lowest low in n+1 bars),
 *   ties to the latest bar. SAR (Wilder): TA-Lib's variant (initial direction from -DM of
 *   the first two bars, SAR clamped by the two previous extremes).
 *   BBANDS (Bollinger): SMA +- k population stddev (one-pass about a shift where well
 *   conditioned, else two-pass; see the tests for the tolerance against TA-Lib's one-pass
 *   variance about 0, which is not). OBV (Granville), AD (Chaikin):
 *   cumulative sums, first output at bar 0.
 *   Not in TA-Lib (sources in engine/ta.pyx docstrings): TSI (Blau 1991), SuperTrend
 *   (Seban; TradingView formulation), Ichimoku (Hosoda; spans unshifted), Keltner
 *   (Raschke: EMA +- m ATR), Donchian, Chaikin volatility (Achelis), Garman-Klass (1980),
 *   Parkinson (1980), rolling VWAP, CMF (Chaikin), Force index (Elder 1993), Ease of
 *   movement (Arms), Hurst exponent by the scaling of lagged-difference stddev
 *   (Mandelbrot & Van Ness 1968).
 */
#include "ta.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* TA-Lib's zero tests (ta_utility.h). */
#define TA_EPSILON 0.00000000000001
#define TA_IS_ZERO(v) (((-TA_EPSILON) < (v)) && ((v) < TA_EPSILON))
/* TA-Lib's tie test for a difference of two comparable numbers (scale = |a| + |b|). */
#define TA_IS_ZERO_SCALED(v, scale) (fabs(v) <= (TA_EPSILON * (scale)))

/* ---- ring: the last `cap` values of a series ------------------------------------------ */

typedef struct ring {
    double *buf;
    int cap;
    int len;
    int head; /* next slot written; bar t lands in slot t mod cap */
} ring;

static int ring_init(ring *r, int cap)
{
    r->buf = (double *)calloc((size_t)cap, sizeof(double));
    if (!r->buf) return BOT4_TA_ENOMEM;
    r->cap = cap;
    r->len = 0;
    r->head = 0;
    return BOT4_TA_OK;
}

static void ring_push(ring *r, double x)
{
    r->buf[r->head] = x;
    r->head = r->head + 1 == r->cap ? 0 : r->head + 1;
    if (r->len < r->cap) r->len++;
}

/* k-th of the last m values, oldest first (0 <= k < m <= len). */
static inline double ring_last(const ring *r, int m, int k)
{
    int idx = r->head - m + k;
    if (idx < 0) idx += r->cap;
    return r->buf[idx];
}

static inline int ring_full(const ring *r) { return r->len == r->cap; }

/* ---- sliding windows in O(1) per bar -------------------------------------------------- *
 *
 * The values fed to a window are cut into blocks of m (the k-th value fed sits at position
 * k mod m of its block). The window of the last m values is a suffix of the previous block
 * followed by the prefix of the current one, so its aggregate is suf[phase] (op) pre: `pre`
 * is the current block's running aggregate (oldest first) and suf[j] the previous block's
 * aggregate of positions j..m-1, computed right to left (suf[j] = x_j op suf[j+1]) once,
 * when that block completed. This is the "two stacks" queue (van Herk 1992, Gil & Werman
 * 1993 for max/min): per value one prefix op and, amortized, one suffix op, plus one op per
 * output; the O(m) suffix pass runs once every m values.
 * Sums: an output is the sum of two fresh partial sums of at most m values, never a running
 * total that values are added to and later subtracted from, so its error is bounded by the
 * window alone, (m-1) eps sum|x| as for a fresh left-to-right sum, and does not drift with
 * the history (a running sum keeps the rounding residue of every large value that ever
 * passed through it: 3e-11 in TA-Lib's SMA after a fall from 50000 to 0.001, see the tests).
 * Max and min are exact.
 * Kinds of window (the fields each uses):
 *   sum:  suf/pre = sums. sum2: two series over the same window (one phase, one flip), in
 *         suf/pre and suf2/pre2, each summed exactly as a lone sum would be.
 *   wsum: weights 1..m, oldest first. suf = suffix sums S, suf2[j] = sum_{k>=j} (k-j+1) x_k
 *         (= S_j + suf2[j+1]), pre = prefix sum P, pre2 = sum (k+1) x_k over the block; the
 *         window is suf2[phase] + pre2 + (m - phase) P: sums of w x with w > 0, no
 *         cancellation.
 *   var:  sums of d and d*d with d = x - shift, shift = the newest value when the previous
 *         block completed (the same shift for both halves of every window); cur2 keeps the
 *         previous block's values (swapped, not copied) for the two-pass fallback.
 *   hilo: max of one series (highs) in suf/pre, min of another (lows) in suf2/pre2.
 *   ext:  hilo with the block positions of the extremes (suf_at, pre_at; suf2_at, pre2_at),
 *         ties to the later value (AROON).
 */
typedef struct win {
    int m;
    int mode;        /* WIN_* */
    double inv_m;    /* 1/m: means multiply by it (within an ulp of dividing, and no divide
                      * on every bar) */
    double inv_wsum; /* 1/(m(m+1)/2): the WMA's divisor */
    int phase;       /* values in the current block: 0..m; m = complete, flips on next push */
    int full;        /* m values seen */
    int pre_at, pre2_at; /* ext: block positions of the prefix extremes */
    double pre, pre2;
    double shift;    /* var */
    double *cur;     /* [m] values of the current block */
    double *cur2;    /* [m] sum2, hilo, ext: the second series' values; var: previous block */
    double *suf;     /* [m] suffix aggregates of the previous block */
    double *suf2;    /* [m] sum2, wsum, var: second suffix aggregate */
    int *suf_at, *suf2_at; /* [m] ext: block positions of the suffix extremes */
} win;

enum { WIN_SUM = 1, WIN_SUM2, WIN_WSUM, WIN_VAR, WIN_HILO, WIN_EXT };

static int win_init(win *w, int m, int mode)
{
    memset(w, 0, sizeof(*w));
    w->m = m;
    w->mode = mode;
    w->inv_m = 1.0 / m;
    w->inv_wsum = 1.0 / (double)(((int64_t)m * (m + 1)) >> 1);
    w->cur = (double *)malloc(sizeof(double) * (size_t)m);
    /* suf[m], suf2[m] = 0: the empty suffix, so a sum reads suf[phase] + pre at any phase */
    w->suf = (double *)calloc((size_t)m + 1, sizeof(double));
    const int two_series = mode == WIN_SUM2 || mode == WIN_HILO || mode == WIN_EXT || mode == WIN_VAR;
    const int two = two_series || mode == WIN_WSUM || mode == WIN_VAR;
    if (two) w->suf2 = (double *)calloc((size_t)m + 1, sizeof(double));
    if (two_series) w->cur2 = (double *)malloc(sizeof(double) * (size_t)m);
    if (mode == WIN_EXT) {
        w->suf_at = (int *)malloc(sizeof(int) * (size_t)m);
        w->suf2_at = (int *)malloc(sizeof(int) * (size_t)m);
    }
    if (!w->cur || !w->suf || (two && !w->suf2) || (two_series && !w->cur2) ||
        (mode == WIN_EXT && (!w->suf_at || !w->suf2_at)))
        return BOT4_TA_ENOMEM;
    return BOT4_TA_OK;
}

static void win_free(win *w)
{
    free(w->cur);
    free(w->cur2);
    free(w->suf);
    free(w->suf2);
    free(w->suf_at);
    free(w->suf2_at);
}

/* The identity of the prefix aggregate: a block starts from it, so a push needs no "first
 * value of the block?" select (a max over a coin-flip comparison must stay branch-free). */
static void win_reset(win *w)
{
    w->phase = 0;
    w->full = 0;
    const int extremes = w->mode == WIN_HILO || w->mode == WIN_EXT;
    w->pre = extremes ? -INFINITY : 0.0;
    w->pre2 = extremes ? INFINITY : 0.0;
    w->shift = 0.0;
    w->pre_at = w->pre2_at = 0;
}

/* Each push below first starts a new block if the current one is complete: the suffix pass
 * over the completed block (O(m), once every m values), then phase = 0. */

static inline void win_sum_push(win *w, double x)
{
    if (w->phase == w->m) { /* the block is complete: its suffix pass, two values a step
                               * (s_j = (x_j + x_j+1) + s_j+2) to halve the add chain */
        const int m = w->m;
        const double *x_ = w->cur;
        double s = x_[m - 1];
        w->suf[m - 1] = s;
        int j = m - 2;
        for (; j >= 1; j -= 2) {
            const double a = x_[j];
            const double s2 = (x_[j - 1] + a) + s;
            w->suf[j] = a + s;
            w->suf[j - 1] = s2;
            s = s2;
        }
        if (j == 0) w->suf[0] = x_[0] + s;
        w->phase = 0;
        w->pre = 0.0;
    }
    w->cur[w->phase] = x;
    w->pre = w->pre + x;
    w->full |= ++w->phase == w->m;
}

static inline double win_sum(const win *w) { return w->suf[w->phase] + w->pre; }

static inline void win_sum2_push(win *w, double x, double y)
{
    if (w->phase == w->m) { /* as win_sum_push's pass, both series in one loop */
        const int m = w->m;
        const double *a = w->cur, *b = w->cur2;
        double s = a[m - 1], t = b[m - 1];
        w->suf[m - 1] = s;
        w->suf2[m - 1] = t;
        int j = m - 2;
        for (; j >= 1; j -= 2) {
            const double a1 = a[j], b1 = b[j];
            const double s2 = (a[j - 1] + a1) + s, t2 = (b[j - 1] + b1) + t;
            w->suf[j] = a1 + s;
            w->suf2[j] = b1 + t;
            w->suf[j - 1] = s2;
            w->suf2[j - 1] = t2;
            s = s2;
            t = t2;
        }
        if (j == 0) {
            w->suf[0] = a[0] + s;
            w->suf2[0] = b[0] + t;
        }
        w->phase = 0;
        w->pre = w->pre2 = 0.0;
    }
    w->cur[w->phase] = x;
    w->cur2[w->phase] = y;
    w->pre = w->pre + x;
    w->pre2 = w->pre2 + y;
    w->full |= ++w->phase == w->m;
}

static inline void win_sum2(const win *w, double *sx, double *sy)
{
    *sx = w->suf[w->phase] + w->pre;
    *sy = w->suf2[w->phase] + w->pre2;
}

static inline void win_wsum_push(win *w, double x)
{
    if (w->phase == w->m) { /* the block is complete: its suffix pass */
        const int m = w->m;
        double s = w->cur[m - 1], sw = s;
        w->suf[m - 1] = s;
        w->suf2[m - 1] = sw;
        for (int j = m - 2; j >= 0; j--) {
            s = w->cur[j] + s;
            sw = s + sw;
            w->suf[j] = s;
            w->suf2[j] = sw;
        }
        w->phase = 0;
        w->pre = w->pre2 = 0.0;
    }
    const int k = w->phase;
    w->cur[k] = x;
    w->pre = w->pre + x;
    w->pre2 = w->pre2 + (double)(k + 1) * x;
    w->full |= ++w->phase == w->m;
}

/* sum_{k=1..m} k x_k over the window, oldest first (suf2[m] = 0: no branch at phase m) */
static inline double win_wsum(const win *w)
{
    const int k = w->phase;
    return w->suf2[k] + (w->pre2 + (double)(w->m - k) * w->pre);
}

static inline void win_var_push(win *w, double x)
{
    if (w->phase == w->m) { /* the block is complete: its suffix pass */
        const int m = w->m;
        const double shift = w->cur[m - 1];
        double s = 0.0, s2 = 0.0; /* d of the newest value is 0 */
        w->suf[m - 1] = s;
        w->suf2[m - 1] = s2;
        for (int j = m - 2; j >= 0; j--) {
            const double d = w->cur[j] - shift;
            s = d + s;
            s2 = d * d + s2;
            w->suf[j] = s;
            w->suf2[j] = s2;
        }
        w->shift = shift;
        w->phase = 0;
        w->pre = w->pre2 = 0.0;
        double *done = w->cur; /* keep the completed block's values for win_var_twopass */
        w->cur = w->cur2;
        w->cur2 = done;
    }
    const int k = w->phase;
    if (!w->full && k == 0) w->shift = x; /* the very first value */
    w->cur[k] = x;
    const double d = x - w->shift;
    w->pre = w->pre + d;
    w->pre2 = w->pre2 + d * d;
    w->full |= ++w->phase == w->m;
}

/* Population mean and sd of the window, two-pass, oldest value first (the fallback for
 * windows too flat for the one-pass sums): the previous block's values from position
 * phase on (kept in cur2), then the current block's. O(m). */
static void win_var_twopass(const win *w, double *mean, double *sd)
{
    const int k = w->phase, m = w->m;
    const double *old = w->cur2, *cur = w->cur;
    double acc = 0.0;
    for (int j = k; j < m; j++) acc += old[j];
    for (int j = 0; j < k; j++) acc += cur[j];
    const double mu = acc / m;
    double sq = 0.0;
    for (int j = k; j < m; j++) sq += (old[j] - mu) * (old[j] - mu);
    for (int j = 0; j < k; j++) sq += (cur[j] - mu) * (cur[j] - mu);
    *mean = mu;
    *sd = sqrt(sq / m);
}

/* Sums of d and d*d over the window (d = x - w->shift). */
static inline void win_var_sums(const win *w, double *s1, double *s2)
{
    const int k = w->phase;
    if (k == w->m) {
        *s1 = w->pre;
        *s2 = w->pre2;
    } else {
        *s1 = w->suf[k] + w->pre;
        *s2 = w->suf2[k] + w->pre2;
    }
}

static inline double dmax(double a, double b) { return a > b ? a : b; }
static inline double dmin(double a, double b) { return a < b ? a : b; }

static inline void win_hilo_push(win *w, double hi, double lo)
{
    if (w->phase == w->m) { /* the block is complete: its suffix pass */
        const int m = w->m;
        double s = w->cur[m - 1], t = w->cur2[m - 1];
        w->suf[m - 1] = s;
        w->suf2[m - 1] = t;
        for (int j = m - 2; j >= 0; j--) {
            s = dmax(w->cur[j], s);
            t = dmin(w->cur2[j], t);
            w->suf[j] = s;
            w->suf2[j] = t;
        }
        w->phase = 0;
        w->pre = -INFINITY;
        w->pre2 = INFINITY;
    }
    w->cur[w->phase] = hi;
    w->cur2[w->phase] = lo;
    w->pre = dmax(hi, w->pre);   /* maxsd/minsd, branch-free: a new high is a coin flip */
    w->pre2 = dmin(lo, w->pre2);
    w->full |= ++w->phase == w->m;
}

/* Highest high and lowest low of the window. */
static inline void win_hilo(const win *w, double *hh, double *ll)
{
    const int k = w->phase;
    if (k == w->m) {
        *hh = w->pre;
        *ll = w->pre2;
    } else {
        *hh = dmax(w->suf[k], w->pre);
        *ll = dmin(w->suf2[k], w->pre2);
    }
}

/* Highest high and lowest low with their block positions; ties go to the later value. */
static inline void win_ext_push(win *w, double hi, double lo)
{
    if (w->phase == w->m) { /* the block is complete: its suffix pass */
        const int m = w->m;
        double s = w->cur[m - 1], t = w->cur2[m - 1];
        int s_at = m - 1, t_at = m - 1;
        w->suf[m - 1] = s;
        w->suf2[m - 1] = t;
        w->suf_at[m - 1] = s_at;
        w->suf2_at[m - 1] = t_at;
        for (int j = m - 2; j >= 0; j--) {
            /* masks, not branches (the comparisons are coin flips; the compiler turns
             * plain selects here into jumps) */
            const double x = w->cur[j], y = w->cur2[j];
            const int take_s = -(x > s), take_t = -(y < t);
            s = dmax(x, s);
            t = dmin(y, t);
            s_at = (j & take_s) | (s_at & ~take_s);
            t_at = (j & take_t) | (t_at & ~take_t);
            w->suf[j] = s;
            w->suf_at[j] = s_at;
            w->suf2[j] = t;
            w->suf2_at[j] = t_at;
        }
        w->phase = 0;
        w->pre = -INFINITY;
        w->pre2 = INFINITY;
    }
    const int k = w->phase;
    w->cur[k] = hi;
    w->cur2[k] = lo;
    const int take_s = -(hi >= w->pre), take_t = -(lo <= w->pre2); /* as above */
    w->pre = dmax(hi, w->pre);
    w->pre2 = dmin(lo, w->pre2);
    w->pre_at = (k & take_s) | (w->pre_at & ~take_s);
    w->pre2_at = (k & take_t) | (w->pre2_at & ~take_t);
    w->full |= ++w->phase == w->m;
}

/* Window positions (0 = oldest .. m-1 = newest) of the highest high and the lowest low. */
static inline void win_ext_pos(const win *w, int *khi, int *klo)
{
    const int k = w->phase, m = w->m;
    if (k == m) {
        *khi = w->pre_at;
        *klo = w->pre2_at;
        return;
    }
    *khi = w->pre >= w->suf[k] ? (m - k) + w->pre_at : w->suf_at[k] - k;
    *klo = w->pre2 <= w->suf2[k] ? (m - k) + w->pre2_at : w->suf2_at[k] - k;
}

/* ---- EMA with TA-Lib seeding ---------------------------------------------------------- */

typedef struct ema {
    int n;
    int count;
    double k;
    double acc;
    double value;
} ema;

static void ema_init(ema *e, int n)
{
    e->n = n;
    e->count = 0;
    e->k = 2.0 / ((double)(n + 1));
    e->acc = 0.0;
    e->value = NAN;
}

/* Returns 1 once e->value is defined. */
static int ema_push(ema *e, double x)
{
    if (e->count < e->n) {
        e->acc += x;
        if (++e->count == e->n) {
            e->value = e->acc / e->n;
            return 1;
        }
        return 0;
    }
    /* TA-Lib's form and order. v (1-k) + x k would take a multiply off the recursion's
     * critical path, but rounds differently: after the tests' 4e7-fold price fall it is
     * 7e-12 (6e-9 relative) away from TA-Lib on a 1e-3 price, over the 1e-9 the tests allow,
     * where this form stays within it */
    e->value = ((x - e->value) * e->k) + e->value;
    return 1;
}

static inline int ema_ready(const ema *e) { return e->count == e->n; }

/* ---- Wilder ATR with TA-Lib seeding --------------------------------------------------- */

typedef struct atr {
    int n;
    int count; /* true ranges seen */
    double acc;
    double value;
    double decay; /* (n-1)/n */
    double inv_n; /* 1/n */
} atr;

static void atr_init(atr *a, int n)
{
    a->n = n;
    a->count = 0;
    a->acc = 0.0;
    a->value = NAN;
    a->decay = (double)(n - 1) / n;
    a->inv_n = 1.0 / n;
}

static int atr_push(atr *a, double tr)
{
    if (a->count < a->n) {
        a->acc += tr;
        if (++a->count == a->n) {
            a->value = a->acc / a->n;
            return 1;
        }
        return 0;
    }
    /* Wilder's (a (n-1) + tr)/n as a*((n-1)/n) + tr/n: the same value to an ulp (within
     * TA-Lib's 1e-9 by far), and the recursion's critical path is a multiply-add instead of
     * a divide */
    a->value = a->value * a->decay + tr * a->inv_n;
    return 1;
}

/* TA-Lib's TRUE_RANGE. */
static inline double true_range(double h, double l, double prev_close)
{
    double g = h - l;
    double v = fabs(prev_close - h);
    if (v > g) g = v;
    v = fabs(prev_close - l);
    if (v > g) g = v;
    return g;
}

/* ---- per-bar terms shared by streaming and batch -------------------------------------- */

static inline double typical_price(double h, double l, double c) { return (h + l + c) / 3.0; }

static inline double gk_term(double o, double h, double l, double c)
{
    const double hl = log(h / l), co = log(c / o);
    return 0.5 * hl * hl - (2.0 * M_LN2 - 1.0) * co * co;
}

static inline double parkinson_term(double h, double l)
{
    const double hl = log(h / l);
    return hl * hl;
}

static inline double parkinson_from_sum(double s, int n) { return sqrt((s / n) / (4.0 * M_LN2)); }

static inline double eom_term(double dm, double h, double l, double v, double scale)
{
    return (v > 0.0 && h > l) ? dm * (h - l) / (v / scale) : 0.0;
}

/* ---- the indicator object ------------------------------------------------------------- */

#define NRINGS 1
#define NWINS 3

struct bot4_ta {
    int kind;
    double p[BOT4_TA_MAX_PARAMS];
    int64_t t; /* bars seen */
    int64_t lookback;
    ring r[NRINGS];
    win w[NWINS];
    union {
        struct { ema e1, e2, e3; } ema3;               /* EMA, DEMA, TEMA, CHAIKIN_VOL */
        struct { double prev_close; ema e; } force;
        struct { double prev, gain, loss, decay, inv_n; } rsi;
        struct { ema fast, slow, signal; } macd;
        struct { double prev; ema e1, e2, a1, a2; } tsi;
        struct { double prev_close; } pc;              /* ULTOSC, MFI prev tp, EOM prev mid */
        struct { double prev_close; atr a; } atr;
        struct {
            double prev_high, prev_low, prev_close, pdm, mdm, tr, sum_dx, adx, decay, inv_n;
        } adx;
        struct {
            int is_long;
            double af, ep, sar, new_high, new_low, h0, l0;
        } sar;
        struct {
            double prev_close; atr a; int trend, started; double lower_f, upper_f;
        } st;
        struct { ema e; atr a; double prev_close; } kelt;
        struct { double value, prev; } cum;            /* OBV, AD */
        struct { double *scratch, *log_lag; } hurst;
    } s;
};

typedef struct kind_info {
    int n_params;
    int n_outputs;
    int inputs;
    int positive; /* inputs that must be > 0 (they go through a logarithm) */
} kind_info;

#define O_ BOT4_TA_IN_OPEN
#define H_ BOT4_TA_IN_HIGH
#define L_ BOT4_TA_IN_LOW
#define C_ BOT4_TA_IN_CLOSE
#define V_ BOT4_TA_IN_VOLUME

static const kind_info KINDS[BOT4_TA_NKINDS] = {
    [BOT4_TA_SMA] = {1, 1, C_},
    [BOT4_TA_EMA] = {1, 1, C_},
    [BOT4_TA_WMA] = {1, 1, C_},
    [BOT4_TA_DEMA] = {1, 1, C_},
    [BOT4_TA_TEMA] = {1, 1, C_},
    [BOT4_TA_RSI] = {1, 1, C_},
    [BOT4_TA_MACD] = {3, 3, C_},
    [BOT4_TA_STOCH] = {3, 2, H_ | L_ | C_},
    [BOT4_TA_CCI] = {1, 1, H_ | L_ | C_},
    [BOT4_TA_WILLR] = {1, 1, H_ | L_ | C_},
    [BOT4_TA_MFI] = {1, 1, H_ | L_ | C_ | V_},
    [BOT4_TA_ROC] = {1, 1, C_},
    [BOT4_TA_TSI] = {2, 1, C_},
    [BOT4_TA_ULTOSC] = {3, 1, H_ | L_ | C_},
    [BOT4_TA_ADX] = {1, 1, H_ | L_ | C_},
    [BOT4_TA_AROON] = {1, 2, H_ | L_},
    [BOT4_TA_SAR] = {2, 1, H_ | L_},
    [BOT4_TA_SUPERTREND] = {2, 2, H_ | L_ | C_},
    [BOT4_TA_ICHIMOKU] = {3, 4, H_ | L_},
    [BOT4_TA_ATR] = {1, 1, H_ | L_ | C_},
    [BOT4_TA_BBANDS] = {3, 3, C_},
    [BOT4_TA_KELTNER] = {3, 3, H_ | L_ | C_},
    [BOT4_TA_DONCHIAN] = {1, 3, H_ | L_},
    [BOT4_TA_CHAIKIN_VOL] = {2, 1, H_ | L_},
    [BOT4_TA_GARMAN_KLASS] = {1, 1, O_ | H_ | L_ | C_, O_ | H_ | L_ | C_},
    [BOT4_TA_PARKINSON] = {1, 1, H_ | L_, H_ | L_},
    [BOT4_TA_OBV] = {0, 1, C_ | V_},
    [BOT4_TA_VWAP] = {1, 1, H_ | L_ | C_ | V_},
    [BOT4_TA_AD] = {0, 1, H_ | L_ | C_ | V_},
    [BOT4_TA_CMF] = {1, 1, H_ | L_ | C_ | V_},
    [BOT4_TA_FORCE] = {1, 1, C_ | V_},
    [BOT4_TA_EOM] = {2, 1, H_ | L_ | V_},
    [BOT4_TA_HURST] = {2, 1, C_, C_},
};

static int valid_kind(int kind) { return kind >= 0 && kind < BOT4_TA_NKINDS; }

int bot4_ta_n_params(int kind) { return valid_kind(kind) ? KINDS[kind].n_params : -1; }
int bot4_ta_n_outputs(int kind) { return valid_kind(kind) ? KINDS[kind].n_outputs : -1; }
int bot4_ta_inputs(int kind) { return valid_kind(kind) ? KINDS[kind].inputs : -1; }

/* An integer window parameter in [lo, BOT4_TA_MAX_WINDOW]. */
static int win_ok(double x, int lo)
{
    return isfinite(x) && x == floor(x) && x >= lo && x <= BOT4_TA_MAX_WINDOW;
}

static int pos_ok(double x) { return isfinite(x) && x > 0.0; }

int bot4_ta_check(int kind, const double *p)
{
    if (!valid_kind(kind)) return BOT4_TA_EINVAL;
    if (KINDS[kind].n_params > 0 && p == NULL) return BOT4_TA_EINVAL;
    int ok;
    switch (kind) {
    case BOT4_TA_SMA: case BOT4_TA_EMA: case BOT4_TA_WMA: case BOT4_TA_DEMA:
    case BOT4_TA_TEMA: case BOT4_TA_ROC: case BOT4_TA_AROON: case BOT4_TA_DONCHIAN:
    case BOT4_TA_ATR: case BOT4_TA_FORCE: case BOT4_TA_VWAP: case BOT4_TA_CMF:
    case BOT4_TA_CCI: case BOT4_TA_WILLR: case BOT4_TA_MFI: case BOT4_TA_ADX:
    case BOT4_TA_GARMAN_KLASS: case BOT4_TA_PARKINSON:
        ok = win_ok(p[0], 1);
        break;
    case BOT4_TA_RSI:
        ok = win_ok(p[0], 2);
        break;
    case BOT4_TA_BBANDS:
        ok = win_ok(p[0], 1) && isfinite(p[1]) && isfinite(p[2]);
        break;
    case BOT4_TA_MACD:
        ok = win_ok(p[0], 2) && win_ok(p[1], 2) && win_ok(p[2], 1);
        break;
    case BOT4_TA_STOCH: case BOT4_TA_ULTOSC: case BOT4_TA_ICHIMOKU:
        ok = win_ok(p[0], 1) && win_ok(p[1], 1) && win_ok(p[2], 1);
        break;
    case BOT4_TA_TSI: case BOT4_TA_CHAIKIN_VOL:
        ok = win_ok(p[0], 1) && win_ok(p[1], 1);
        break;
    case BOT4_TA_SAR:
        ok = pos_ok(p[0]) && pos_ok(p[1]);
        break;
    case BOT4_TA_SUPERTREND:
        ok = win_ok(p[0], 1) && pos_ok(p[1]);
        break;
    case BOT4_TA_KELTNER:
        ok = win_ok(p[0], 1) && win_ok(p[1], 1) && pos_ok(p[2]);
        break;
    case BOT4_TA_EOM:
        ok = win_ok(p[0], 1) && pos_ok(p[1]);
        break;
    case BOT4_TA_HURST:
        ok = win_ok(p[0], 4) && win_ok(p[1], 2) && p[1] <= p[0] - 2 && p[1] <= 256;
        break;
    default:
        ok = 1;
    }
    return ok ? BOT4_TA_OK : BOT4_TA_EINVAL;
}

static int imax3(int a, int b, int c)
{
    int m = a > b ? a : b;
    return m > c ? m : c;
}

/* Ring capacities per kind (0 = unused): the last values a kind reads one by one. */
static void ring_caps(int kind, const double *p, int caps[NRINGS])
{
    const int n = KINDS[kind].n_params ? (int)p[0] : 0;
    memset(caps, 0, sizeof(int) * NRINGS);
    switch (kind) {
    case BOT4_TA_CCI: case BOT4_TA_HURST:
        caps[0] = n;
        break;
    case BOT4_TA_ROC:
        caps[0] = n + 1;
        break;
    case BOT4_TA_CHAIKIN_VOL:
        caps[0] = (int)p[1] + 1;
        break;
    default:
        break;
    }
}

/* Sliding windows per kind: length and kind of window (0 = unused). */
static void win_specs(int kind, const double *p, int len[NWINS], int mode[NWINS])
{
    const int n = KINDS[kind].n_params ? (int)p[0] : 0;
    memset(len, 0, sizeof(int) * NWINS);
    memset(mode, 0, sizeof(int) * NWINS);
    switch (kind) {
    case BOT4_TA_SMA: case BOT4_TA_GARMAN_KLASS: case BOT4_TA_PARKINSON: case BOT4_TA_EOM:
        len[0] = n;
        mode[0] = WIN_SUM;
        break;
    case BOT4_TA_WMA:
        len[0] = n;
        mode[0] = WIN_WSUM;
        break;
    case BOT4_TA_BBANDS:
        len[0] = n;
        mode[0] = WIN_VAR;
        break;
    case BOT4_TA_MFI: case BOT4_TA_VWAP: case BOT4_TA_CMF:
        len[0] = n;
        mode[0] = WIN_SUM2;
        break;
    case BOT4_TA_WILLR: case BOT4_TA_DONCHIAN:
        len[0] = n;
        mode[0] = WIN_HILO;
        break;
    case BOT4_TA_STOCH:
        len[0] = n;
        mode[0] = WIN_HILO;
        len[1] = (int)p[1];
        len[2] = (int)p[2];
        mode[1] = mode[2] = WIN_SUM;
        break;
    case BOT4_TA_AROON:
        len[0] = n + 1;
        mode[0] = WIN_EXT;
        break;
    case BOT4_TA_ULTOSC: /* sums of a and b for each period */
        for (int i = 0; i < 3; i++) {
            len[i] = (int)p[i];
            mode[i] = WIN_SUM2;
        }
        break;
    case BOT4_TA_ICHIMOKU: /* highest high and lowest low for each period */
        for (int i = 0; i < 3; i++) {
            len[i] = (int)p[i];
            mode[i] = WIN_HILO;
        }
        break;
    default:
        break;
    }
}

static int64_t lookback_of(int kind, const double *p)
{
    const int64_t n = KINDS[kind].n_params ? (int64_t)p[0] : 0;
    switch (kind) {
    case BOT4_TA_SMA: case BOT4_TA_EMA: case BOT4_TA_WMA: case BOT4_TA_CCI:
    case BOT4_TA_WILLR: case BOT4_TA_BBANDS: case BOT4_TA_DONCHIAN: case BOT4_TA_GARMAN_KLASS:
    case BOT4_TA_PARKINSON: case BOT4_TA_VWAP: case BOT4_TA_CMF: case BOT4_TA_HURST:
        return n - 1;
    case BOT4_TA_DEMA: return 2 * (n - 1);
    case BOT4_TA_TEMA: return 3 * (n - 1);
    case BOT4_TA_RSI: case BOT4_TA_MFI: case BOT4_TA_ROC: case BOT4_TA_AROON: case BOT4_TA_ATR:
    case BOT4_TA_FORCE: case BOT4_TA_EOM: case BOT4_TA_SUPERTREND:
        return n;
    case BOT4_TA_MACD: {
        int64_t slow = (int64_t)(p[0] > p[1] ? p[0] : p[1]);
        return slow - 1 + (int64_t)p[2] - 1;
    }
    case BOT4_TA_STOCH: return n - 1 + (int64_t)p[1] - 1 + (int64_t)p[2] - 1;
    case BOT4_TA_TSI: return (int64_t)p[0] + (int64_t)p[1] - 1;
    case BOT4_TA_ULTOSC: return imax3((int)p[0], (int)p[1], (int)p[2]);
    case BOT4_TA_ADX: return 2 * n - 1;
    case BOT4_TA_SAR: return 1;
    case BOT4_TA_ICHIMOKU: return imax3((int)p[0], (int)p[1], (int)p[2]) - 1;
    case BOT4_TA_KELTNER: {
        int64_t a = n - 1, b = (int64_t)p[1];
        return a > b ? a : b;
    }
    case BOT4_TA_CHAIKIN_VOL: return n - 1 + (int64_t)p[1];
    default: return 0;
    }
}

void bot4_ta_reset(bot4_ta *ta)
{
    const double *p = ta->p;
    ta->t = 0;
    for (int i = 0; i < NRINGS; i++) {
        ta->r[i].len = 0;
        ta->r[i].head = 0;
    }
    for (int i = 0; i < NWINS; i++) win_reset(&ta->w[i]);
    double *scratch = NULL, *log_lag = NULL;
    if (ta->kind == BOT4_TA_HURST) {
        scratch = ta->s.hurst.scratch;
        log_lag = ta->s.hurst.log_lag;
    }
    memset(&ta->s, 0, sizeof(ta->s));
    switch (ta->kind) {
    case BOT4_TA_FORCE:
        ema_init(&ta->s.force.e, (int)p[0]);
        break;
    case BOT4_TA_EMA: case BOT4_TA_DEMA: case BOT4_TA_TEMA: case BOT4_TA_CHAIKIN_VOL:
        ema_init(&ta->s.ema3.e1, (int)p[0]);
        ema_init(&ta->s.ema3.e2, (int)p[0]);
        ema_init(&ta->s.ema3.e3, (int)p[0]);
        break;
    case BOT4_TA_MACD: {
        int fast = (int)p[0], slow = (int)p[1];
        if (slow < fast) { int tmp = slow; slow = fast; fast = tmp; }
        ema_init(&ta->s.macd.fast, fast);
        ema_init(&ta->s.macd.slow, slow);
        ema_init(&ta->s.macd.signal, (int)p[2]);
        break;
    }
    case BOT4_TA_TSI:
        ema_init(&ta->s.tsi.e1, (int)p[0]);
        ema_init(&ta->s.tsi.a1, (int)p[0]);
        ema_init(&ta->s.tsi.e2, (int)p[1]);
        ema_init(&ta->s.tsi.a2, (int)p[1]);
        break;
    case BOT4_TA_ATR:
        atr_init(&ta->s.atr.a, (int)p[0]);
        break;
    case BOT4_TA_ADX:
        ta->s.adx.decay = (p[0] - 1.0) / p[0];
        ta->s.adx.inv_n = 1.0 / p[0];
        break;
    case BOT4_TA_RSI:
        ta->s.rsi.decay = (p[0] - 1.0) / p[0];
        ta->s.rsi.inv_n = 1.0 / p[0];
        break;
    case BOT4_TA_SUPERTREND:
        atr_init(&ta->s.st.a, (int)p[0]);
        break;
    case BOT4_TA_KELTNER:
        ema_init(&ta->s.kelt.e, (int)p[0]);
        atr_init(&ta->s.kelt.a, (int)p[1]);
        break;
    case BOT4_TA_SAR: {
        double af = p[0] > p[1] ? p[1] : p[0];
        ta->s.sar.af = af;
        break;
    }
    case BOT4_TA_HURST:
        ta->s.hurst.scratch = scratch;
        ta->s.hurst.log_lag = log_lag;
        break;
    default:
        break;
    }
}

void bot4_ta_destroy(bot4_ta *ta)
{
    if (!ta) return;
    for (int i = 0; i < NRINGS; i++) free(ta->r[i].buf);
    for (int i = 0; i < NWINS; i++) win_free(&ta->w[i]);
    if (ta->kind == BOT4_TA_HURST) {
        free(ta->s.hurst.scratch);
        free(ta->s.hurst.log_lag);
    }
    free(ta);
}

int bot4_ta_create(bot4_ta **out, int kind, const double *params)
{
    if (!out) return BOT4_TA_EINVAL;
    *out = NULL;
    if (bot4_ta_check(kind, params) != BOT4_TA_OK) return BOT4_TA_EINVAL;
    bot4_ta *ta = (bot4_ta *)calloc(1, sizeof(*ta));
    if (!ta) return BOT4_TA_ENOMEM;
    ta->kind = kind;
    for (int i = 0; i < KINDS[kind].n_params; i++) ta->p[i] = params[i];
    if (kind == BOT4_TA_ULTOSC) { /* TA-Lib sorts the periods: weight 4 on the shortest */
        double *q = ta->p;
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (q[j] < q[i]) { double tmp = q[i]; q[i] = q[j]; q[j] = tmp; }
    }
    int caps[NRINGS];
    ring_caps(kind, ta->p, caps);
    for (int i = 0; i < NRINGS; i++) {
        if (caps[i] && ring_init(&ta->r[i], caps[i]) != BOT4_TA_OK) {
            bot4_ta_destroy(ta);
            return BOT4_TA_ENOMEM;
        }
    }
    int wlen[NWINS], wmode[NWINS];
    win_specs(kind, ta->p, wlen, wmode);
    for (int i = 0; i < NWINS; i++) {
        if (wlen[i] && win_init(&ta->w[i], wlen[i], wmode[i]) != BOT4_TA_OK) {
            bot4_ta_destroy(ta);
            return BOT4_TA_ENOMEM;
        }
    }
    double *scratch = NULL, *log_lag = NULL;
    if (kind == BOT4_TA_HURST) {
        const int n = (int)ta->p[0], lags = (int)ta->p[1];
        scratch = (double *)malloc(sizeof(double) * (size_t)n);
        log_lag = (double *)malloc(sizeof(double) * (size_t)lags);
        if (!scratch || !log_lag) {
            free(scratch);
            free(log_lag);
            bot4_ta_destroy(ta);
            return BOT4_TA_ENOMEM;
        }
        for (int k = 0; k < lags; k++) log_lag[k] = log((double)(k + 1));
    }
    ta->s.hurst.scratch = scratch; /* reset() keeps these two for HURST */
    ta->s.hurst.log_lag = log_lag;
    bot4_ta_reset(ta);
    ta->lookback = lookback_of(kind, ta->p);
    *out = ta;
    return BOT4_TA_OK;
}

int64_t bot4_ta_lookback(const bot4_ta *ta) { return ta->lookback; }
int64_t bot4_ta_count(const bot4_ta *ta) { return ta->t; }

/* ---- per-kind updates ----------------------------------------------------------------- */

static inline __attribute__((always_inline)) void update_rsi(bot4_ta *ta, double c, double *out)
{
    const int n = (int)ta->p[0];
    const int64_t t = ta->t;
    out[0] = NAN;
    if (t == 0) {
        ta->s.rsi.prev = c;
        return;
    }
    const double d = c - ta->s.rsi.prev;
    ta->s.rsi.prev = c;
    if (t <= n) { /* plain sums of the first n changes, then their means */
        if (d < 0) ta->s.rsi.loss -= d;
        else ta->s.rsi.gain += d;
        if (t < n) return;
        ta->s.rsi.loss /= n;
        ta->s.rsi.gain /= n;
    } else { /* Wilder smoothing as in atr_push: multiply-add on the critical path */
        const double up = dmax(d, 0.0), down = dmax(-d, 0.0); /* branch-free: a coin flip */
        ta->s.rsi.loss = ta->s.rsi.loss * ta->s.rsi.decay + down * ta->s.rsi.inv_n;
        ta->s.rsi.gain = ta->s.rsi.gain * ta->s.rsi.decay + up * ta->s.rsi.inv_n;
    }
    const double tot = ta->s.rsi.gain + ta->s.rsi.loss;
    out[0] = tot != 0.0 ? 100.0 * (ta->s.rsi.gain / tot) : 0.0;
}

static inline __attribute__((always_inline)) void update_macd(bot4_ta *ta, double c, double *out)
{
    const int64_t fast_from = ta->s.macd.slow.n - ta->s.macd.fast.n;
    out[0] = out[1] = out[2] = NAN;
    if (ta->t >= fast_from) ema_push(&ta->s.macd.fast, c);
    if (!ema_push(&ta->s.macd.slow, c)) return;
    const double m = ta->s.macd.fast.value - ta->s.macd.slow.value;
    if (!ema_push(&ta->s.macd.signal, m)) return;
    out[0] = m;
    out[1] = ta->s.macd.signal.value;
    out[2] = m - ta->s.macd.signal.value;
}

static inline __attribute__((always_inline)) void update_stoch(bot4_ta *ta, double h, double l, double c, double *out)
{
    win *hl = &ta->w[0], *fk = &ta->w[1], *sk = &ta->w[2];
    out[0] = out[1] = NAN;
    win_hilo_push(hl, h, l);
    if (!hl->full) return;
    double hh, ll;
    win_hilo(hl, &hh, &ll);
    const double range = hh - ll;
    /* TA-Lib's (c - ll)/((hh - ll)/100) with one divide instead of two (an ulp) */
    win_sum_push(fk, range != 0.0 ? 100.0 * ((c - ll) / range) : 0.0);
    if (!fk->full) return;
    const double slowk = win_sum(fk) * fk->inv_m;
    win_sum_push(sk, slowk);
    if (!sk->full) return;
    out[0] = slowk;
    out[1] = win_sum(sk) * sk->inv_m;
}

static inline __attribute__((always_inline)) void update_cci(bot4_ta *ta, double h, double l, double c, double *out)
{
    ring *r = &ta->r[0];
    const int n = r->cap;
    const double tp = typical_price(h, l, c);
    ring_push(r, tp);
    out[0] = NAN;
    if (!ring_full(r)) return;
    /* The mean as TA-Lib takes it (its circular buffer summed in storage order, then / n):
     * tp - mean cancels, so a mean an ulp away from TA-Lib's moves the CCI by ulp(price) /
     * |tp - mean| relative (1.2e-9 measured with an O(1) window sum on the tests' edge bars,
     * over the 1e-9 they allow). The bars of one n-term sum are independent, so the sum's
     * add chain overlaps across bars. */
    const double *b = r->buf;
    double avg = 0.0;
    for (int i = 0; i < n; i++) avg += b[i];
    avg /= n;
    /* the mean deviation needs every |tp - avg| anyway: four interleaved partial sums
     * (no cancellation here: a few ulp from TA-Lib's order moves the CCI a few ulp) */
    double m0 = 0.0, m1 = 0.0, m2 = 0.0, m3 = 0.0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        m0 += fabs(b[i] - avg);
        m1 += fabs(b[i + 1] - avg);
        m2 += fabs(b[i + 2] - avg);
        m3 += fabs(b[i + 3] - avg);
    }
    for (; i < n; i++) m0 += fabs(b[i] - avg);
    const double mad = ((m0 + m1) + (m2 + m3)) / n;
    const double dev = tp - avg, scale = fabs(avg);
    /* "is the window flat?" relative to its own price level, as TA-Lib */
    out[0] = (!TA_IS_ZERO_SCALED(dev, scale) && !TA_IS_ZERO_SCALED(mad, scale))
                 ? dev / (0.015 * mad)
                 : 0.0;
}

static inline __attribute__((always_inline)) void update_mfi(bot4_ta *ta, double h, double l, double c, double v, double *out)
{
    win *w = &ta->w[0]; /* sums of positive and negative money flow */
    const double tp = typical_price(h, l, c);
    out[0] = NAN;
    if (ta->t == 0) {
        ta->s.pc.prev_close = tp;
        return;
    }
    const double prev = ta->s.pc.prev_close;
    const double d = tp - prev;
    ta->s.pc.prev_close = tp;
    const double mf = tp * v;
    /* TA-Lib's scale-aware tie test: a change within 1e-14 of the prices is no change */
    const int tie = TA_IS_ZERO_SCALED(d, fabs(tp) + fabs(prev));
    win_sum2_push(w, !tie && d > 0 ? mf : 0.0, !tie && d < 0 ? mf : 0.0);
    if (!w->full) return;
    double ps, ns;
    win_sum2(w, &ps, &ns);
    const double tot = ps + ns;
    /* window sums of non-negative terms (no running total): 0 <= ps <= tot, no clamp */
    out[0] = tot <= 0.0 ? 0.0 : 100.0 * (ps / tot);
}

static inline __attribute__((always_inline)) void update_ultosc(bot4_ta *ta, double h, double l, double c, double *out)
{
    win *w = ta->w; /* w[0..2]: sums of a and b per period, shortest first */
    out[0] = NAN;
    if (ta->t == 0) {
        ta->s.pc.prev_close = c;
        return;
    }
    const double pc = ta->s.pc.prev_close;
    ta->s.pc.prev_close = c;
    const double true_low = l < pc ? l : pc;
    const double a = c - true_low, b = true_range(h, l, pc);
    /* unrolled by hand: constant indices let the batch loop keep the windows in registers */
    win_sum2_push(&w[0], a, b);
    win_sum2_push(&w[1], a, b);
    win_sum2_push(&w[2], a, b);
    if (!w[2].full) return;
    double acc = 0.0, as, bs;
    win_sum2(&w[0], &as, &bs);
    if (!TA_IS_ZERO(bs)) acc += 4.0 * (as / bs);
    win_sum2(&w[1], &as, &bs);
    if (!TA_IS_ZERO(bs)) acc += 2.0 * (as / bs);
    win_sum2(&w[2], &as, &bs);
    if (!TA_IS_ZERO(bs)) acc += as / bs;
    out[0] = 100.0 * (acc / 7.0);
}

static inline __attribute__((always_inline)) void update_adx(bot4_ta *ta, double h, double l, double c, double *out)
{
    const int n = (int)ta->p[0];
    const int64_t t = ta->t;
    out[0] = NAN;
    if (t == 0) {
        ta->s.adx.prev_high = h;
        ta->s.adx.prev_low = l;
        ta->s.adx.prev_close = c;
        return;
    }
    const double diff_p = h - ta->s.adx.prev_high;
    const double diff_m = ta->s.adx.prev_low - l;
    ta->s.adx.prev_high = h;
    ta->s.adx.prev_low = l;
    const double tr = true_range(h, l, ta->s.adx.prev_close);
    ta->s.adx.prev_close = c;
    /* -DM and +DM exclude each other; selects, not branches (the direction is a coin flip) */
    const double dm_m = (diff_m > 0 && diff_p < diff_m) ? diff_m : 0.0;
    const double dm_p = (diff_p > 0 && diff_p > diff_m) ? diff_p : 0.0;
    if (t < n) { /* plain sums of the first n-1 */
        ta->s.adx.mdm += dm_m;
        ta->s.adx.pdm += dm_p;
        ta->s.adx.tr += tr;
        return;
    }
    /* Wilder's s - s/n + x as s (n-1)/n + x: the same to an ulp, and a multiply-add on the
     * recursion's critical path instead of a divide */
    const double decay = ta->s.adx.decay;
    ta->s.adx.mdm = ta->s.adx.mdm * decay + dm_m;
    ta->s.adx.pdm = ta->s.adx.pdm * decay + dm_p;
    ta->s.adx.tr = ta->s.adx.tr * decay + tr;
    double dx = NAN;
    if (!TA_IS_ZERO(ta->s.adx.tr)) {
        const double r = 100.0 / ta->s.adx.tr; /* one divide for both DIs */
        const double mdi = ta->s.adx.mdm * r;
        const double pdi = ta->s.adx.pdm * r;
        const double sum = mdi + pdi;
        if (!TA_IS_ZERO(sum)) dx = 100.0 * (fabs(mdi - pdi) / sum);
    }
    if (t < 2 * (int64_t)n - 1) {
        if (!isnan(dx)) ta->s.adx.sum_dx += dx;
        return;
    }
    if (t == 2 * (int64_t)n - 1) {
        if (!isnan(dx)) ta->s.adx.sum_dx += dx;
        ta->s.adx.adx = ta->s.adx.sum_dx / n;
    } else if (!isnan(dx)) {
        ta->s.adx.adx = ta->s.adx.adx * decay + dx * ta->s.adx.inv_n; /* as atr_push */
    }
    out[0] = ta->s.adx.adx;
}

static inline __attribute__((always_inline)) void update_aroon(bot4_ta *ta, double h, double l, double *out)
{
    win *w = &ta->w[0]; /* n + 1 bars */
    const int n = (int)ta->p[0];
    win_ext_push(w, h, l);
    out[0] = out[1] = NAN;
    if (!w->full) return;
    /* window positions (0 = oldest) of the highest high / lowest low, ties to the latest */
    int khi, klo;
    win_ext_pos(w, &khi, &klo);
    const double factor = 100.0 / n;
    out[0] = factor * (n - (n - klo));
    out[1] = factor * (n - (n - khi));
}

static inline __attribute__((always_inline)) void update_sar(bot4_ta *ta, double h, double l, double *out)
{
    const double acc = ta->p[0] > ta->p[1] ? ta->p[1] : ta->p[0];
    const double amax = ta->p[1];
    out[0] = NAN;
    if (ta->t == 0) {
        ta->s.sar.h0 = h;
        ta->s.sar.l0 = l;
        return;
    }
    if (ta->t == 1) { /* direction from -DM(1) of bars 0 and 1, as TA-Lib */
        const double diff_p = h - ta->s.sar.h0, diff_m = ta->s.sar.l0 - l;
        const double mdm = (diff_m > 0 && diff_p < diff_m) ? diff_m : 0.0;
        ta->s.sar.is_long = !(mdm > 0);
        if (ta->s.sar.is_long) {
            ta->s.sar.ep = h;
            ta->s.sar.sar = ta->s.sar.l0;
        } else {
            ta->s.sar.ep = l;
            ta->s.sar.sar = ta->s.sar.h0;
        }
        ta->s.sar.new_low = l;
        ta->s.sar.new_high = h;
    }
    const double prev_low = ta->s.sar.new_low, prev_high = ta->s.sar.new_high;
    const double new_low = l, new_high = h;
    ta->s.sar.new_low = new_low;
    ta->s.sar.new_high = new_high;
    double sar = ta->s.sar.sar, ep = ta->s.sar.ep, af = ta->s.sar.af;
    if (ta->s.sar.is_long) {
        if (new_low <= sar) {
            ta->s.sar.is_long = 0;
            sar = ep;
            if (sar < prev_high) sar = prev_high;
            if (sar < new_high) sar = new_high;
            out[0] = sar;
            af = acc;
            ep = new_low;
            sar = sar + af * (ep - sar);
            if (sar < prev_high) sar = prev_high;
            if (sar < new_high) sar = new_high;
        } else {
            out[0] = sar;
            if (new_high > ep) {
                ep = new_high;
                af += acc;
                if (af > amax) af = amax;
            }
            sar = sar + af * (ep - sar);
            if (sar > prev_low) sar = prev_low;
            if (sar > new_low) sar = new_low;
        }
    } else {
        if (new_high >= sar) {
            ta->s.sar.is_long = 1;
            sar = ep;
            if (sar > prev_low) sar = prev_low;
            if (sar > new_low) sar = new_low;
            out[0] = sar;
            af = acc;
            ep = new_high;
            sar = sar + af * (ep - sar);
            if (sar > prev_low) sar = prev_low;
            if (sar > new_low) sar = new_low;
        } else {
            out[0] = sar;
            if (new_low < ep) {
                ep = new_low;
                af += acc;
                if (af > amax) af = amax;
            }
            sar = sar + af * (ep - sar);
            if (sar < prev_high) sar = prev_high;
            if (sar < new_high) sar = new_high;
        }
    }
    ta->s.sar.sar = sar;
    ta->s.sar.ep = ep;
    ta->s.sar.af = af;
}

static inline __attribute__((always_inline)) void update_supertrend(bot4_ta *ta, double h, double l, double c, double *out)
{
    out[0] = out[1] = NAN;
    if (ta->t == 0) {
        ta->s.st.prev_close = c;
        return;
    }
    const double pc = ta->s.st.prev_close;
    ta->s.st.prev_close = c;
    if (!atr_push(&ta->s.st.a, true_range(h, l, pc))) return;
    const double hl2 = (h + l) / 2.0, m = ta->p[1] * ta->s.st.a.value;
    const double lower = hl2 - m, upper = hl2 + m;
    double lf, uf;
    int trend;
    if (!ta->s.st.started) {
        ta->s.st.started = 1;
        lf = lower;
        uf = upper;
        trend = 1;
    } else {
        const double plf = ta->s.st.lower_f, puf = ta->s.st.upper_f;
        lf = pc > plf ? (lower > plf ? lower : plf) : lower;
        uf = pc < puf ? (upper < puf ? upper : puf) : upper;
        trend = ta->s.st.trend;
        if (trend == -1 && c > puf) trend = 1;
        else if (trend == 1 && c < plf) trend = -1;
    }
    ta->s.st.lower_f = lf;
    ta->s.st.upper_f = uf;
    ta->s.st.trend = trend;
    out[0] = trend == 1 ? lf : uf;
    out[1] = (double)trend;
}

static inline __attribute__((always_inline)) void update_ichimoku(bot4_ta *ta, double h, double l, double *out)
{
    win *w = ta->w; /* w[i]: highest high and lowest low over period i */
    double mid[3], hh, ll;
    /* unrolled by hand: constant indices let the batch loop keep the windows in registers */
#define ICHIMOKU_MID(i)                                                                     \
    win_hilo_push(&w[i], h, l);                                                             \
    mid[i] = NAN;                                                                           \
    if (w[i].full) {                                                                        \
        win_hilo(&w[i], &hh, &ll);                                                          \
        mid[i] = (hh + ll) / 2.0;                                                           \
    }
    ICHIMOKU_MID(0)
    ICHIMOKU_MID(1)
    ICHIMOKU_MID(2)
#undef ICHIMOKU_MID
    out[0] = mid[0];
    out[1] = mid[1];
    out[2] = (mid[0] + mid[1]) / 2.0;
    out[3] = mid[2];
}

static inline __attribute__((always_inline)) void update_hurst(bot4_ta *ta, double c, double *out)
{
    ring *r = &ta->r[0];
    const int n = r->cap, lags = (int)ta->p[1];
    ring_push(r, log(c));
    out[0] = NAN;
    if (!ring_full(r)) return;
    double *x = ta->s.hurst.scratch;
    for (int k = 0; k < n; k++) x[k] = ring_last(r, n, k);
    /* OLS slope of log(stddev of lag-differences) on log(lag), lags 1..max_lag */
    double mx = 0.0, my = 0.0;
    double ys[256];
    double *y = ys; /* bot4_ta_check caps max_lag at 256 */
    for (int lag = 1; lag <= lags; lag++) {
        const int m = n - lag;
        double s = x[lag] - x[0];
        for (int j = 1; j < m; j++) s += x[j + lag] - x[j];
        const double mu = s / m;
        double d = (x[lag] - x[0]) - mu, sq = d * d;
        for (int j = 1; j < m; j++) {
            d = (x[j + lag] - x[j]) - mu;
            sq += d * d;
        }
        if (!(sq > 0.0)) return; /* a flat window has no scaling: undefined */
        y[lag - 1] = 0.5 * log(sq / m);
        mx += ta->s.hurst.log_lag[lag - 1];
        my += y[lag - 1];
    }
    mx /= lags;
    my /= lags;
    double sxy = 0.0, sxx = 0.0;
    for (int k = 0; k < lags; k++) {
        const double dx = ta->s.hurst.log_lag[k] - mx;
        sxy += dx * (y[k] - my);
        sxx += dx * dx;
    }
    out[0] = sxy / sxx;
}

/* The update of every kind. Always inlined: bot4_ta_update calls it with the object's kind,
 * batch_loop with a constant kind inside a per-kind loop, where the switch folds away and
 * the kind's code is inlined into the loop (one implementation, no per-bar call). */
static inline __attribute__((always_inline)) int update_kind(bot4_ta *ta, int kind, double o,
                                                             double h, double l, double c,
                                                             double v, double *out)
{
    const double *p = ta->p;
    const int n = KINDS[kind].n_params ? (int)p[0] : 0;
    switch (kind) {
    case BOT4_TA_SMA:
        win_sum_push(&ta->w[0], c);
        out[0] = ta->w[0].full ? win_sum(&ta->w[0]) * ta->w[0].inv_m : NAN;
        break;
    case BOT4_TA_WMA:
        win_wsum_push(&ta->w[0], c);
        /* times 1/(n(n+1)/2), kept in the window's pre-computed field: within an ulp of
         * the divide, without a divide on every bar */
        out[0] = ta->w[0].full ? win_wsum(&ta->w[0]) * ta->w[0].inv_wsum : NAN;
        break;
    case BOT4_TA_EMA:
        out[0] = ema_push(&ta->s.ema3.e1, c) ? ta->s.ema3.e1.value : NAN;
        break;
    case BOT4_TA_DEMA:
    case BOT4_TA_TEMA: {
        ema *e1 = &ta->s.ema3.e1, *e2 = &ta->s.ema3.e2, *e3 = &ta->s.ema3.e3;
        out[0] = NAN;
        if (!ema_push(e1, c) || !ema_push(e2, e1->value)) break;
        if (kind == BOT4_TA_DEMA) {
            out[0] = (2.0 * e1->value) - e2->value;
        } else if (ema_push(e3, e2->value)) {
            out[0] = e3->value + ((3.0 * e1->value) - (3.0 * e2->value));
        }
        break;
    }
    case BOT4_TA_RSI:
        update_rsi(ta, c, out);
        break;
    case BOT4_TA_MACD:
        update_macd(ta, c, out);
        break;
    case BOT4_TA_STOCH:
        update_stoch(ta, h, l, c, out);
        break;
    case BOT4_TA_CCI:
        update_cci(ta, h, l, c, out);
        break;
    case BOT4_TA_WILLR: {
        win *hl = &ta->w[0];
        win_hilo_push(hl, h, l);
        out[0] = NAN;
        if (hl->full) {
            double hh, ll;
            win_hilo(hl, &hh, &ll);
            const double range = hh - ll;
            /* TA-Lib's (hh - c)/((hh - ll)/-100) with one divide instead of two (an ulp) */
            out[0] = range != 0.0 ? -100.0 * ((hh - c) / range) : 0.0;
        }
        break;
    }
    case BOT4_TA_MFI:
        update_mfi(ta, h, l, c, v, out);
        break;
    case BOT4_TA_ROC: {
        ring *r = &ta->r[0];
        ring_push(r, c);
        out[0] = NAN;
        if (ring_full(r)) {
            const double old = ring_last(r, r->cap, 0);
            out[0] = old != 0.0 ? ((c / old) - 1.0) * 100.0 : 0.0;
        }
        break;
    }
    case BOT4_TA_TSI: {
        out[0] = NAN;
        if (ta->t == 0) {
            ta->s.tsi.prev = c;
            break;
        }
        const double m = c - ta->s.tsi.prev;
        ta->s.tsi.prev = c;
        const int r1 = ema_push(&ta->s.tsi.e1, m);
        ema_push(&ta->s.tsi.a1, fabs(m));
        if (!r1) break;
        const int r2 = ema_push(&ta->s.tsi.e2, ta->s.tsi.e1.value);
        ema_push(&ta->s.tsi.a2, ta->s.tsi.a1.value);
        if (!r2) break;
        out[0] = ta->s.tsi.a2.value != 0.0 ? 100.0 * (ta->s.tsi.e2.value / ta->s.tsi.a2.value)
                                           : 0.0;
        break;
    }
    case BOT4_TA_ULTOSC:
        update_ultosc(ta, h, l, c, out);
        break;
    case BOT4_TA_ADX:
        update_adx(ta, h, l, c, out);
        break;
    case BOT4_TA_AROON:
        update_aroon(ta, h, l, out);
        break;
    case BOT4_TA_SAR:
        update_sar(ta, h, l, out);
        break;
    case BOT4_TA_SUPERTREND:
        update_supertrend(ta, h, l, c, out);
        break;
    case BOT4_TA_ICHIMOKU:
        update_ichimoku(ta, h, l, out);
        break;
    case BOT4_TA_ATR:
        out[0] = NAN;
        if (ta->t == 0) {
            ta->s.atr.prev_close = c;
            break;
        }
        if (atr_push(&ta->s.atr.a, true_range(h, l, ta->s.atr.prev_close)))
            out[0] = ta->s.atr.a.value;
        ta->s.atr.prev_close = c;
        break;
    case BOT4_TA_BBANDS: {
        win *w = &ta->w[0];
        win_var_push(w, c);
        out[0] = out[1] = out[2] = NAN;
        if (w->full) {
            double mean, sd, s1, s2;
            win_var_sums(w, &s1, &s2);
            const double md = s1 * w->inv_m, q = s2 * w->inv_m, var = q - md * md;
            /* one-pass variance about the shift: its error is at most ~3 n eps q, so when
             * var > n q 2^-16 the relative error of var is below 3 2^-36 (sd: 2e-11);
             * flatter windows (|mean - shift| over ~50 sd, or flat) take the two-pass */
            if (var > (double)n * q * 0x1p-16) {
                mean = w->shift + md;
                sd = sqrt(var);
            } else {
                win_var_twopass(w, &mean, &sd);
            }
            out[0] = mean + p[1] * sd;
            out[1] = mean;
            out[2] = mean - p[2] * sd;
        }
        break;
    }
    case BOT4_TA_KELTNER: {
        out[0] = out[1] = out[2] = NAN;
        const int ready_e = ema_push(&ta->s.kelt.e, c);
        int ready_a = 0;
        if (ta->t > 0)
            ready_a = atr_push(&ta->s.kelt.a, true_range(h, l, ta->s.kelt.prev_close));
        ta->s.kelt.prev_close = c;
        if (ready_e && ready_a) {
            const double mid = ta->s.kelt.e.value, w = p[2] * ta->s.kelt.a.value;
            out[0] = mid + w;
            out[1] = mid;
            out[2] = mid - w;
        }
        break;
    }
    case BOT4_TA_DONCHIAN: {
        win *hl = &ta->w[0];
        win_hilo_push(hl, h, l);
        out[0] = out[1] = out[2] = NAN;
        if (hl->full) {
            double u, d;
            win_hilo(hl, &u, &d);
            out[0] = u;
            out[1] = (u + d) / 2.0;
            out[2] = d;
        }
        break;
    }
    case BOT4_TA_CHAIKIN_VOL: {
        ring *r = &ta->r[0];
        out[0] = NAN;
        if (!ema_push(&ta->s.ema3.e1, h - l)) break;
        const double e = ta->s.ema3.e1.value;
        ring_push(r, e);
        if (ring_full(r)) {
            const double old = ring_last(r, r->cap, 0);
            out[0] = old != 0.0 ? 100.0 * ((e - old) / old) : 0.0;
        }
        break;
    }
    case BOT4_TA_GARMAN_KLASS:
        win_sum_push(&ta->w[0], gk_term(o, h, l, c));
        out[0] = ta->w[0].full ? sqrt(win_sum(&ta->w[0]) * ta->w[0].inv_m) : NAN;
        break;
    case BOT4_TA_PARKINSON:
        win_sum_push(&ta->w[0], parkinson_term(h, l));
        out[0] = ta->w[0].full ? parkinson_from_sum(win_sum(&ta->w[0]), n) : NAN;
        break;
    case BOT4_TA_OBV:
        /* +v up, -v down, +0 on a tie: branch-free, the direction is a coin flip */
        if (ta->t == 0) ta->s.cum.value = v;
        else ta->s.cum.value += v * (double)((c > ta->s.cum.prev) - (c < ta->s.cum.prev));
        ta->s.cum.prev = c;
        out[0] = ta->s.cum.value;
        break;
    case BOT4_TA_VWAP: {
        win *w = &ta->w[0]; /* sums of tp v and v */
        win_sum2_push(w, typical_price(h, l, c) * v, v);
        out[0] = NAN;
        if (w->full) {
            double spv, sv;
            win_sum2(w, &spv, &sv);
            if (sv > 0.0) out[0] = spv / sv;
        }
        break;
    }
    case BOT4_TA_AD:
        ta->s.cum.value += bot4_ta_clv_term(h, l, c, v);
        out[0] = ta->s.cum.value;
        break;
    case BOT4_TA_CMF: {
        win *w = &ta->w[0]; /* sums of money flow volume and v */
        win_sum2_push(w, bot4_ta_clv_term(h, l, c, v), v);
        out[0] = NAN;
        if (w->full) {
            double smf, sv;
            win_sum2(w, &smf, &sv);
            out[0] = sv > 0.0 ? smf / sv : 0.0;
        }
        break;
    }
    case BOT4_TA_FORCE:
        out[0] = NAN;
        if (ta->t > 0 && ema_push(&ta->s.force.e, (c - ta->s.force.prev_close) * v))
            out[0] = ta->s.force.e.value;
        ta->s.force.prev_close = c;
        break;
    case BOT4_TA_EOM: {
        const double mid = (h + l) / 2.0;
        out[0] = NAN;
        if (ta->t > 0) {
            win_sum_push(&ta->w[0], eom_term(mid - ta->s.pc.prev_close, h, l, v, p[1]));
            if (ta->w[0].full) out[0] = win_sum(&ta->w[0]) * ta->w[0].inv_m;
        }
        ta->s.pc.prev_close = mid;
        break;
    }
    case BOT4_TA_HURST:
        update_hurst(ta, c, out);
        break;
    default:
        return BOT4_TA_EINVAL;
    }
    ta->t++;
    return BOT4_TA_OK;
}

int bot4_ta_update(bot4_ta *ta, double o, double h, double l, double c, double v, double *out)
{
    if (!ta || !out) return BOT4_TA_EINVAL;
    return update_kind(ta, ta->kind, o, h, l, c, v, out);
}

/* ---- batch ---------------------------------------------------------------------------- */

/* One loop per kind, each in its own function: with the kind a constant, update_kind's switch
 * folds away and the kind's code is inlined, and the local copy of the state (sharing ta's
 * buffers) is only ever accessed field by field, so the compiler keeps the fields the loop
 * carries in registers (nothing can alias them). */
#define BATCH_FOR(K)                                                                        \
    static __attribute__((noinline)) int batch_##K(const bot4_ta *ta, int64_t n,          \
                                                  const double *const *in,                \
                                                  double *const *out)                     \
    {                                                                                       \
        bot4_ta st = *ta;                                                                   \
        const int ins = KINDS[K].inputs;                                                    \
        const double *o = in[0], *h = in[1], *l = in[2], *c = in[3], *v = in[4];           \
        double row[BOT4_TA_MAX_OUTPUTS], *dst[BOT4_TA_MAX_OUTPUTS] = {NULL, NULL, NULL, NULL}; \
        for (int k = 0; k < KINDS[K].n_outputs; k++) dst[k] = out[k]; /* in registers */      \
        for (int64_t i = 0; i < n; i++) {                                                   \
            const double xo = (ins & O_) ? o[i] : 0.0, xh = (ins & H_) ? h[i] : 0.0;        \
            const double xl = (ins & L_) ? l[i] : 0.0, xc = (ins & C_) ? c[i] : 0.0;        \
            const double xv = (ins & V_) ? v[i] : 0.0;                                      \
            update_kind(&st, K, xo, xh, xl, xc, xv, row);                                   \
            for (int k = 0; k < KINDS[K].n_outputs; k++) dst[k][i] = row[k];                \
        }                                                                                   \
        return BOT4_TA_OK;                                                                  \
    }
BATCH_FOR(BOT4_TA_SMA) BATCH_FOR(BOT4_TA_EMA) BATCH_FOR(BOT4_TA_WMA) BATCH_FOR(BOT4_TA_DEMA)
BATCH_FOR(BOT4_TA_TEMA) BATCH_FOR(BOT4_TA_RSI) BATCH_FOR(BOT4_TA_MACD) BATCH_FOR(BOT4_TA_STOCH)
BATCH_FOR(BOT4_TA_CCI) BATCH_FOR(BOT4_TA_WILLR) BATCH_FOR(BOT4_TA_MFI) BATCH_FOR(BOT4_TA_ROC)
BATCH_FOR(BOT4_TA_TSI) BATCH_FOR(BOT4_TA_ULTOSC) BATCH_FOR(BOT4_TA_ADX) BATCH_FOR(BOT4_TA_AROON)
BATCH_FOR(BOT4_TA_SAR) BATCH_FOR(BOT4_TA_SUPERTREND) BATCH_FOR(BOT4_TA_ICHIMOKU)
BATCH_FOR(BOT4_TA_ATR) BATCH_FOR(BOT4_TA_BBANDS) BATCH_FOR(BOT4_TA_KELTNER)
BATCH_FOR(BOT4_TA_DONCHIAN) BATCH_FOR(BOT4_TA_CHAIKIN_VOL) BATCH_FOR(BOT4_TA_GARMAN_KLASS)
BATCH_FOR(BOT4_TA_PARKINSON) BATCH_FOR(BOT4_TA_OBV) BATCH_FOR(BOT4_TA_VWAP) BATCH_FOR(BOT4_TA_AD)
BATCH_FOR(BOT4_TA_CMF) BATCH_FOR(BOT4_TA_FORCE) BATCH_FOR(BOT4_TA_EOM) BATCH_FOR(BOT4_TA_HURST)
#undef BATCH_FOR

typedef int (*batch_fn)(const bot4_ta *, int64_t, const double *const *, double *const *);

#define B_(K) [K] = batch_##K
static const batch_fn BATCH[BOT4_TA_NKINDS] = {
    B_(BOT4_TA_SMA), B_(BOT4_TA_EMA), B_(BOT4_TA_WMA), B_(BOT4_TA_DEMA), B_(BOT4_TA_TEMA),
    B_(BOT4_TA_RSI), B_(BOT4_TA_MACD), B_(BOT4_TA_STOCH), B_(BOT4_TA_CCI), B_(BOT4_TA_WILLR),
    B_(BOT4_TA_MFI), B_(BOT4_TA_ROC), B_(BOT4_TA_TSI), B_(BOT4_TA_ULTOSC), B_(BOT4_TA_ADX),
    B_(BOT4_TA_AROON), B_(BOT4_TA_SAR), B_(BOT4_TA_SUPERTREND), B_(BOT4_TA_ICHIMOKU),
    B_(BOT4_TA_ATR), B_(BOT4_TA_BBANDS), B_(BOT4_TA_KELTNER), B_(BOT4_TA_DONCHIAN),
    B_(BOT4_TA_CHAIKIN_VOL), B_(BOT4_TA_GARMAN_KLASS), B_(BOT4_TA_PARKINSON), B_(BOT4_TA_OBV),
    B_(BOT4_TA_VWAP), B_(BOT4_TA_AD), B_(BOT4_TA_CMF), B_(BOT4_TA_FORCE), B_(BOT4_TA_EOM),
    B_(BOT4_TA_HURST),
};
#undef B_

static int batch_loop(int kind, const double *params, int64_t n, const double *const *in,
                      double *const *out)
{
    bot4_ta *ta;
    int rc = bot4_ta_create(&ta, kind, params);
    if (rc != BOT4_TA_OK) return rc;
    rc = BATCH[kind](ta, n, in, out);
    bot4_ta_destroy(ta);
    return rc;
}

int bot4_ta_batch(int kind, const double *params, int64_t n, const double *const *in,
                  double *const *out)
{
    if (!valid_kind(kind) || n < 0 || !in || !out) return BOT4_TA_EINVAL;
    if (bot4_ta_check(kind, params) != BOT4_TA_OK) return BOT4_TA_EINVAL;
    const int mask = KINDS[kind].inputs;
    for (int k = 0; k < 5; k++)
        if ((mask >> k & 1) && n > 0 && in[k] == NULL) return BOT4_TA_EINVAL;
    for (int k = 0; k < KINDS[kind].n_outputs; k++)
        if (n > 0 && out[k] == NULL) return BOT4_TA_EINVAL;
    /* the inputs are checked before any is used (a vectorized pass each: cheaper than
     * checking inside the loop, which measured slower on the scalar per-bar path) */
    for (int k = 0; k < 5; k++)
        if ((mask >> k & 1) && bot4_ta_first_bad(in[k], n, KINDS[kind].positive >> k & 1) >= 0)
            return BOT4_TA_EINPUT;
    return batch_loop(kind, params, n, in, out);
}

/* Branch-free over blocks of 256 values: integer arithmetic on the bits whose sign bit says
 * "bad", OR-reduced (the compiler vectorizes it), then the exact index inside the first
 * flagged block. Finite: the exponent field plus one exponent unit carries into the sign
 * bit only when the exponent is all ones (inf, NaN). Positive and finite: bits - 1 is at
 * most 0x7feffffffffffffe exactly for 0 < x <= DBL_MAX; adding 0x0010000000000001 sets
 * the sign bit above that, and bits - 1 has it set itself for negatives and +0. */
int64_t bot4_ta_first_bad(const double *x, int64_t n, int positive)
{
    const uint64_t exp_mask = 0x7ff0000000000000ULL, exp_one = 0x0010000000000000ULL;
    for (int64_t i0 = 0; i0 < n; i0 += 256) {
        const int64_t e = n - i0 < 256 ? n : i0 + 256;
        uint64_t acc[4] = {0, 0, 0, 0};
        int64_t i = i0;
        if (positive) {
            for (; i + 4 <= e; i += 4)
                for (int k = 0; k < 4; k++) {
                    uint64_t u;
                    memcpy(&u, &x[i + k], sizeof u);
                    const uint64_t y = u - 1;
                    acc[k] |= (y + (exp_one + 1)) | y;
                }
            for (; i < e; i++) {
                uint64_t u;
                memcpy(&u, &x[i], sizeof u);
                acc[0] |= (u - 1 + (exp_one + 1)) | (u - 1);
            }
        } else {
            for (; i + 4 <= e; i += 4)
                for (int k = 0; k < 4; k++) {
                    uint64_t u;
                    memcpy(&u, &x[i + k], sizeof u);
                    acc[k] |= (u & exp_mask) + exp_one;
                }
            for (; i < e; i++) {
                uint64_t u;
                memcpy(&u, &x[i], sizeof u);
                acc[0] |= (u & exp_mask) + exp_one;
            }
        }
        if ((acc[0] | acc[1] | acc[2] | acc[3]) >> 63)
            for (int64_t i = i0; i < e; i++)
                if (!isfinite(x[i]) || (positive && !(x[i] > 0.0))) return i;
    }
    return -1;
}
