/* ta.c - streaming TA indicators and the batch driver; see ta.h for the design.
 *
 * Structure: a bot4_ta holds its kind, parameters, bar count t, up to six rings (the last
 * `cap` inputs of some per-bar series, oldest first when read) and a union of small named
 * states (EMAs, Wilder averages, SAR trend). update_kind() switches on the kind, pushes
 * the bar's terms and writes the outputs, NaN while warming up; bot4_ta_update() calls it,
 * and batch_loop() runs it inlined in one loop per kind over a local copy of the state.
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
 *   STOCH (Lane): fastK = (c - LL)/((HH - LL)/100), slowK = SMA(fastK), slowD = SMA(slowK).
 *   CCI (Lambert 1980): (tp - mean)/(0.015 mean|tp - mean|), tp = (h+l+c)/3; the window is
 *   summed in ring-storage order (slot = bar mod n), which is TA-Lib's order; 0 when the
 *   deviation or the mean deviation is within 1e-14 of |mean| (TA-Lib's flat-window test).
 *   Williams %R: (HH - c)/((HH - LL)/-100). MFI (Quong & Soudack): 100 P/(P+N) over n
 *   money flows tp*v, signed by the change of tp (a change within 1e-14 relative is a tie,
 *   TA-Lib's TA_IS_ZERO_SCALED); 0 when P+N is 0.
 *   ROC: (c/c[n] - 1) 100. ULTOSC (Williams 1985): 100 (4 A1/B1 + 2 A2/B2 + A3/B3)/7 with
 *   A = sum(c - min(l, pc)), B = sum(true range), periods sorted shortest first.
 *   ATR (Wilder): true range seeded with the mean of the first n, then Wilder smoothing
 *   (multiply-add form, as RSI).
 *   ADX (Wilder): +DM/-DM/TR Wilder sums, DX = 100 |+DI - -DI|/(+DI + -DI), ADX = mean of the
 *   first n DX then Wilder smoothing (TA-Lib's staging: lookback 2n-1).
 *   AROON (Chande 1995): 100/n (n - bars since the highest high / lowest low in n+1 bars),
 *   ties to the latest bar. SAR (Wilder): TA-Lib's variant (initial direction from -DM of
 *   the first two bars, SAR clamped by the two previous extremes).
 *   BBANDS (Bollinger): SMA +- k population stddev (two-pass per window, see the tests for
 *   the tolerance against TA-Lib's one-pass variance). OBV (Granville), AD (Chaikin):
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

#include "simd.h"

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

/* The reductions below read the last m values oldest first, in the same operation order
 * as ta_window.c's kernels. */
static double ring_sum(const ring *r, int m)
{
    double acc = ring_last(r, m, 0);
    for (int k = 1; k < m; k++) acc += ring_last(r, m, k);
    return acc;
}

static double ring_wsum(const ring *r, int m)
{
    double acc = ring_last(r, m, 0);
    for (int k = 1; k < m; k++) acc += (double)(k + 1) * ring_last(r, m, k);
    return acc;
}

static double ring_max(const ring *r, int m)
{
    double acc = ring_last(r, m, 0);
    for (int k = 1; k < m; k++) {
        double x = ring_last(r, m, k);
        acc = x > acc ? x : acc;
    }
    return acc;
}

static double ring_min(const ring *r, int m)
{
    double acc = ring_last(r, m, 0);
    for (int k = 1; k < m; k++) {
        double x = ring_last(r, m, k);
        acc = x < acc ? x : acc;
    }
    return acc;
}

static void ring_meanstd(const ring *r, int m, double *mean, double *sd)
{
    const double wd = (double)m;
    const double mu = ring_sum(r, m) / wd;
    double d = ring_last(r, m, 0) - mu;
    double sq = d * d;
    for (int k = 1; k < m; k++) {
        d = ring_last(r, m, k) - mu;
        sq += d * d;
    }
    *mean = mu;
    *sd = sqrt(sq / wd);
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

#define NRINGS 6

struct bot4_ta {
    int kind;
    double p[BOT4_TA_MAX_PARAMS];
    int64_t t; /* bars seen */
    int64_t lookback;
    ring r[NRINGS];
    union {
        struct { ema e1, e2, e3; } ema3;               /* EMA, DEMA, TEMA, CHAIKIN_VOL */
        struct { double prev_close; ema e; } force;
        struct { double prev, gain, loss, decay, inv_n; } rsi;
        struct { ema fast, slow, signal; } macd;
        struct { double prev; ema e1, e2, a1, a2; } tsi;
        struct { double prev_close; } pc;              /* ULTOSC, MFI prev tp, EOM prev mid */
        struct { double prev_close; atr a; } atr;
        struct {
            double prev_high, prev_low, prev_close, pdm, mdm, tr, sum_dx, adx;
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
    [BOT4_TA_GARMAN_KLASS] = {1, 1, O_ | H_ | L_ | C_},
    [BOT4_TA_PARKINSON] = {1, 1, H_ | L_},
    [BOT4_TA_OBV] = {0, 1, C_ | V_},
    [BOT4_TA_VWAP] = {1, 1, H_ | L_ | C_ | V_},
    [BOT4_TA_AD] = {0, 1, H_ | L_ | C_ | V_},
    [BOT4_TA_CMF] = {1, 1, H_ | L_ | C_ | V_},
    [BOT4_TA_FORCE] = {1, 1, C_ | V_},
    [BOT4_TA_EOM] = {2, 1, H_ | L_ | V_},
    [BOT4_TA_HURST] = {2, 1, C_},
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

/* Ring capacities per kind (0 = unused). */
static void ring_caps(int kind, const double *p, int caps[NRINGS])
{
    const int n = KINDS[kind].n_params ? (int)p[0] : 0;
    memset(caps, 0, sizeof(int) * NRINGS);
    switch (kind) {
    case BOT4_TA_SMA: case BOT4_TA_WMA: case BOT4_TA_BBANDS: case BOT4_TA_CCI:
    case BOT4_TA_GARMAN_KLASS: case BOT4_TA_PARKINSON: case BOT4_TA_EOM: case BOT4_TA_HURST:
        caps[0] = n;
        break;
    case BOT4_TA_ROC:
        caps[0] = n + 1;
        break;
    case BOT4_TA_STOCH:
        caps[0] = caps[1] = n;
        caps[2] = (int)p[1];
        caps[3] = (int)p[2];
        break;
    case BOT4_TA_WILLR: case BOT4_TA_DONCHIAN: case BOT4_TA_MFI: case BOT4_TA_VWAP:
    case BOT4_TA_CMF:
        caps[0] = caps[1] = n;
        break;
    case BOT4_TA_AROON:
        caps[0] = caps[1] = n + 1;
        break;
    case BOT4_TA_ULTOSC:
        caps[0] = caps[1] = imax3((int)p[0], (int)p[1], (int)p[2]);
        break;
    case BOT4_TA_ICHIMOKU:
        caps[0] = caps[1] = imax3((int)p[0], (int)p[1], (int)p[2]);
        break;
    case BOT4_TA_CHAIKIN_VOL:
        caps[0] = (int)p[1] + 1;
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

static void update_rsi(bot4_ta *ta, double c, double *out)
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
        const double up = d < 0 ? 0.0 : d, down = d < 0 ? -d : 0.0;
        ta->s.rsi.loss = ta->s.rsi.loss * ta->s.rsi.decay + down * ta->s.rsi.inv_n;
        ta->s.rsi.gain = ta->s.rsi.gain * ta->s.rsi.decay + up * ta->s.rsi.inv_n;
    }
    const double tot = ta->s.rsi.gain + ta->s.rsi.loss;
    out[0] = tot != 0.0 ? 100.0 * (ta->s.rsi.gain / tot) : 0.0;
}

static void update_macd(bot4_ta *ta, double c, double *out)
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

static void update_stoch(bot4_ta *ta, double h, double l, double c, double *out)
{
    ring *hi = &ta->r[0], *lo = &ta->r[1], *fk = &ta->r[2], *sk = &ta->r[3];
    out[0] = out[1] = NAN;
    ring_push(hi, h);
    ring_push(lo, l);
    if (!ring_full(hi)) return;
    const double hh = ring_max(hi, hi->cap), ll = ring_min(lo, lo->cap);
    const double diff = (hh - ll) / 100.0;
    ring_push(fk, diff != 0.0 ? (c - ll) / diff : 0.0);
    if (!ring_full(fk)) return;
    const double slowk = ring_sum(fk, fk->cap) / fk->cap;
    ring_push(sk, slowk);
    if (!ring_full(sk)) return;
    out[0] = slowk;
    out[1] = ring_sum(sk, sk->cap) / sk->cap;
}

static void update_cci(bot4_ta *ta, double h, double l, double c, double *out)
{
    ring *r = &ta->r[0];
    const int n = r->cap;
    const double tp = typical_price(h, l, c);
    ring_push(r, tp);
    out[0] = NAN;
    if (!ring_full(r)) return;
    /* storage order, as TA-Lib's circular buffer */
    double avg = 0.0;
    for (int i = 0; i < n; i++) avg += r->buf[i];
    avg /= n;
    double mad = 0.0;
    for (int i = 0; i < n; i++) mad += fabs(r->buf[i] - avg);
    mad /= n;
    const double dev = tp - avg, scale = fabs(avg);
    /* "is the window flat?" relative to its own price level, as TA-Lib */
    out[0] = (!TA_IS_ZERO_SCALED(dev, scale) && !TA_IS_ZERO_SCALED(mad, scale))
                 ? dev / (0.015 * mad)
                 : 0.0;
}

static void update_mfi(bot4_ta *ta, double h, double l, double c, double v, double *out)
{
    ring *pos = &ta->r[0], *neg = &ta->r[1];
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
    ring_push(pos, !tie && d > 0 ? mf : 0.0);
    ring_push(neg, !tie && d < 0 ? mf : 0.0);
    if (!ring_full(pos)) return;
    const double ps = ring_sum(pos, pos->cap), ns = ring_sum(neg, neg->cap);
    const double tot = ps + ns;
    /* fresh sums of non-negative terms: 0 <= ps <= tot, so no clamp is needed */
    out[0] = tot <= 0.0 ? 0.0 : 100.0 * (ps / tot);
}

static void update_ultosc(bot4_ta *ta, double h, double l, double c, double *out)
{
    ring *a = &ta->r[0], *b = &ta->r[1];
    out[0] = NAN;
    if (ta->t == 0) {
        ta->s.pc.prev_close = c;
        return;
    }
    const double pc = ta->s.pc.prev_close;
    ta->s.pc.prev_close = c;
    const double true_low = l < pc ? l : pc;
    ring_push(a, c - true_low);
    ring_push(b, true_range(h, l, pc));
    if (!ring_full(a)) return;
    const double w[3] = {4.0, 2.0, 1.0};
    double acc = 0.0;
    for (int i = 0; i < 3; i++) {
        const int m = (int)ta->p[i];
        const double bs = ring_sum(b, m);
        if (!TA_IS_ZERO(bs)) {
            const double q = ring_sum(a, m) / bs;
            acc += i == 2 ? q : w[i] * q;
        }
    }
    out[0] = 100.0 * (acc / 7.0);
}

static void update_adx(bot4_ta *ta, double h, double l, double c, double *out)
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
    if (t < n) { /* plain sums of the first n-1 */
        if (diff_m > 0 && diff_p < diff_m) ta->s.adx.mdm += diff_m;
        else if (diff_p > 0 && diff_p > diff_m) ta->s.adx.pdm += diff_p;
        ta->s.adx.tr += tr;
        return;
    }
    ta->s.adx.mdm -= ta->s.adx.mdm / n;
    ta->s.adx.pdm -= ta->s.adx.pdm / n;
    if (diff_m > 0 && diff_p < diff_m) ta->s.adx.mdm += diff_m;
    else if (diff_p > 0 && diff_p > diff_m) ta->s.adx.pdm += diff_p;
    ta->s.adx.tr = ta->s.adx.tr - (ta->s.adx.tr / n) + tr;
    double dx = NAN;
    if (!TA_IS_ZERO(ta->s.adx.tr)) {
        const double mdi = 100.0 * (ta->s.adx.mdm / ta->s.adx.tr);
        const double pdi = 100.0 * (ta->s.adx.pdm / ta->s.adx.tr);
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
        ta->s.adx.adx = ((ta->s.adx.adx * (n - 1)) + dx) / n;
    }
    out[0] = ta->s.adx.adx;
}

static void update_aroon(bot4_ta *ta, double h, double l, double *out)
{
    ring *hi = &ta->r[0], *lo = &ta->r[1];
    const int n = (int)ta->p[0];
    ring_push(hi, h);
    ring_push(lo, l);
    out[0] = out[1] = NAN;
    if (!ring_full(hi)) return;
    int khi = 0, klo = 0;
    double best_hi = ring_last(hi, n + 1, 0), best_lo = ring_last(lo, n + 1, 0);
    for (int k = 1; k <= n; k++) {
        const double x = ring_last(hi, n + 1, k), y = ring_last(lo, n + 1, k);
        if (x >= best_hi) { best_hi = x; khi = k; }
        if (y <= best_lo) { best_lo = y; klo = k; }
    }
    const double factor = 100.0 / n;
    out[0] = factor * (n - (n - klo));
    out[1] = factor * (n - (n - khi));
}

static void update_sar(bot4_ta *ta, double h, double l, double *out)
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

static void update_supertrend(bot4_ta *ta, double h, double l, double c, double *out)
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

static void update_ichimoku(bot4_ta *ta, double h, double l, double *out)
{
    ring *hi = &ta->r[0], *lo = &ta->r[1];
    ring_push(hi, h);
    ring_push(lo, l);
    double mid[3];
    for (int i = 0; i < 3; i++) {
        const int m = (int)ta->p[i];
        mid[i] = hi->len >= m ? (ring_max(hi, m) + ring_min(lo, m)) / 2.0 : NAN;
    }
    out[0] = mid[0];
    out[1] = mid[1];
    out[2] = (mid[0] + mid[1]) / 2.0;
    out[3] = mid[2];
}

static void update_hurst(bot4_ta *ta, double c, double *out)
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
        ring_push(&ta->r[0], c);
        out[0] = ring_full(&ta->r[0]) ? ring_sum(&ta->r[0], n) / n : NAN;
        break;
    case BOT4_TA_WMA:
        ring_push(&ta->r[0], c);
        out[0] = ring_full(&ta->r[0])
                     ? ring_wsum(&ta->r[0], n) / (double)(((int64_t)n * (n + 1)) >> 1)
                     : NAN;
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
        ring *hi = &ta->r[0], *lo = &ta->r[1];
        ring_push(hi, h);
        ring_push(lo, l);
        out[0] = NAN;
        if (ring_full(hi)) {
            const double hh = ring_max(hi, n), ll = ring_min(lo, n);
            const double diff = (hh - ll) / (-100.0);
            out[0] = diff != 0.0 ? (hh - c) / diff : 0.0;
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
        ring *r = &ta->r[0];
        ring_push(r, c);
        out[0] = out[1] = out[2] = NAN;
        if (ring_full(r)) {
            double mean, sd;
            ring_meanstd(r, n, &mean, &sd);
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
        ring *hi = &ta->r[0], *lo = &ta->r[1];
        ring_push(hi, h);
        ring_push(lo, l);
        out[0] = out[1] = out[2] = NAN;
        if (ring_full(hi)) {
            const double u = ring_max(hi, n), d = ring_min(lo, n);
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
        ring_push(&ta->r[0], gk_term(o, h, l, c));
        out[0] = ring_full(&ta->r[0]) ? sqrt(ring_sum(&ta->r[0], n) / n) : NAN;
        break;
    case BOT4_TA_PARKINSON:
        ring_push(&ta->r[0], parkinson_term(h, l));
        out[0] = ring_full(&ta->r[0]) ? parkinson_from_sum(ring_sum(&ta->r[0], n), n) : NAN;
        break;
    case BOT4_TA_OBV:
        /* +v up, -v down, +0 on a tie: branch-free, the direction is a coin flip */
        if (ta->t == 0) ta->s.cum.value = v;
        else ta->s.cum.value += v * (double)((c > ta->s.cum.prev) - (c < ta->s.cum.prev));
        ta->s.cum.prev = c;
        out[0] = ta->s.cum.value;
        break;
    case BOT4_TA_VWAP: {
        ring *pv = &ta->r[0], *vol = &ta->r[1];
        ring_push(pv, typical_price(h, l, c) * v);
        ring_push(vol, v);
        out[0] = NAN;
        if (ring_full(pv)) {
            const double sv = ring_sum(vol, n);
            if (sv > 0.0) out[0] = ring_sum(pv, n) / sv;
        }
        break;
    }
    case BOT4_TA_AD:
        ta->s.cum.value += bot4_ta_clv_term(h, l, c, v);
        out[0] = ta->s.cum.value;
        break;
    case BOT4_TA_CMF: {
        ring *mfv = &ta->r[0], *vol = &ta->r[1];
        ring_push(mfv, bot4_ta_clv_term(h, l, c, v));
        ring_push(vol, v);
        out[0] = NAN;
        if (ring_full(mfv)) {
            const double sv = ring_sum(vol, n);
            out[0] = sv > 0.0 ? ring_sum(mfv, n) / sv : 0.0;
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
            ring_push(&ta->r[0], eom_term(mid - ta->s.pc.prev_close, h, l, v, p[1]));
            if (ring_full(&ta->r[0])) out[0] = ring_sum(&ta->r[0], n) / n;
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

static int batch_loop(int kind, const double *params, int64_t n, const double *const *in,
                      double *const *out)
{
    bot4_ta *ta;
    int rc = bot4_ta_create(&ta, kind, params);
    if (rc != BOT4_TA_OK) return rc;
    double row[BOT4_TA_MAX_OUTPUTS];
    const double *o = in[0], *h = in[1], *l = in[2], *c = in[3], *v = in[4];
    /* A local copy of the state (sharing ta's ring buffers): it cannot alias the output
     * arrays, so the compiler may keep the recursive state in registers across bars. */
    bot4_ta st = *ta;
#define LOOP_FOR(K)                                                                     \
    case K:                                                                             \
        for (int64_t i = 0; i < n; i++) {                                               \
            update_kind(&st, K, o ? o[i] : 0.0, h ? h[i] : 0.0, l ? l[i] : 0.0,          \
                        c ? c[i] : 0.0, v ? v[i] : 0.0, row);                           \
            for (int k = 0; k < KINDS[K].n_outputs; k++) out[k][i] = row[k];            \
        }                                                                               \
        break;
    switch (kind) {
    LOOP_FOR(BOT4_TA_SMA) LOOP_FOR(BOT4_TA_EMA) LOOP_FOR(BOT4_TA_WMA) LOOP_FOR(BOT4_TA_DEMA)
    LOOP_FOR(BOT4_TA_TEMA) LOOP_FOR(BOT4_TA_RSI) LOOP_FOR(BOT4_TA_MACD) LOOP_FOR(BOT4_TA_STOCH)
    LOOP_FOR(BOT4_TA_CCI) LOOP_FOR(BOT4_TA_WILLR) LOOP_FOR(BOT4_TA_MFI) LOOP_FOR(BOT4_TA_ROC)
    LOOP_FOR(BOT4_TA_TSI) LOOP_FOR(BOT4_TA_ULTOSC) LOOP_FOR(BOT4_TA_ADX) LOOP_FOR(BOT4_TA_AROON)
    LOOP_FOR(BOT4_TA_SAR) LOOP_FOR(BOT4_TA_SUPERTREND) LOOP_FOR(BOT4_TA_ICHIMOKU)
    LOOP_FOR(BOT4_TA_ATR) LOOP_FOR(BOT4_TA_BBANDS) LOOP_FOR(BOT4_TA_KELTNER)
    LOOP_FOR(BOT4_TA_DONCHIAN) LOOP_FOR(BOT4_TA_CHAIKIN_VOL) LOOP_FOR(BOT4_TA_GARMAN_KLASS)
    LOOP_FOR(BOT4_TA_PARKINSON) LOOP_FOR(BOT4_TA_OBV) LOOP_FOR(BOT4_TA_VWAP) LOOP_FOR(BOT4_TA_AD)
    LOOP_FOR(BOT4_TA_CMF) LOOP_FOR(BOT4_TA_FORCE) LOOP_FOR(BOT4_TA_EOM) LOOP_FOR(BOT4_TA_HURST)
    default:
        rc = BOT4_TA_EINVAL;
    }
#undef LOOP_FOR
    bot4_ta_destroy(ta);
    return rc;
}

/* Window kinds: per-bar terms (same expressions as the stream), then SIMD window kernels. */
static int batch_window(int kind, const double *p, int64_t n, const double *const *in,
                        double *const *out, int level)
{
    const double *o = in[0], *h = in[1], *l = in[2], *c = in[3], *v = in[4];
    const int w = KINDS[kind].n_params ? (int)p[0] : 0;
    double *t1 = NULL, *t2 = NULL;
    int rc = BOT4_TA_OK;
    if (n == 0) return BOT4_TA_OK;
    switch (kind) {
    case BOT4_TA_SMA:
        rc = bot4_ta_window_sum(level, c, n, w, out[0]);
        for (int64_t i = 0; i < n; i++) out[0][i] /= w;
        return rc;
    case BOT4_TA_WMA: {
        const double div = (double)(((int64_t)w * (w + 1)) >> 1);
        rc = bot4_ta_window_wsum(level, c, n, w, out[0]);
        for (int64_t i = 0; i < n; i++) out[0][i] /= div;
        return rc;
    }
    case BOT4_TA_BBANDS:
        rc = bot4_ta_window_meanstd(level, c, n, w, out[1], out[0]);
        if (rc) return rc;
        for (int64_t i = 0; i < n; i++) {
            const double mean = out[1][i], sd = out[0][i];
            out[0][i] = mean + p[1] * sd;
            out[2][i] = mean - p[2] * sd;
        }
        return rc;
    case BOT4_TA_DONCHIAN:
        rc = bot4_ta_window_max(level, h, n, w, out[0]);
        if (!rc) rc = bot4_ta_window_min(level, l, n, w, out[2]);
        for (int64_t i = 0; i < n; i++) out[1][i] = (out[0][i] + out[2][i]) / 2.0;
        return rc;
    case BOT4_TA_AD:
        rc = bot4_ta_clv_volume(level, h, l, c, v, n, out[0]);
        if (!rc) {
            double ad = 0.0;
            for (int64_t i = 0; i < n; i++) {
                ad += out[0][i];
                out[0][i] = ad;
            }
        }
        return rc;
    default:
        break;
    }
    t1 = (double *)malloc(sizeof(double) * (size_t)n);
    t2 = (double *)malloc(sizeof(double) * (size_t)n);
    if (!t1 || !t2) {
        free(t1);
        free(t2);
        return BOT4_TA_ENOMEM;
    }
    switch (kind) {
    case BOT4_TA_GARMAN_KLASS:
    case BOT4_TA_PARKINSON:
        for (int64_t i = 0; i < n; i++)
            t1[i] = kind == BOT4_TA_PARKINSON ? parkinson_term(h[i], l[i])
                                              : gk_term(o[i], h[i], l[i], c[i]);
        rc = bot4_ta_window_sum(level, t1, n, w, out[0]);
        for (int64_t i = w - 1; i < n; i++)
            out[0][i] = kind == BOT4_TA_PARKINSON ? parkinson_from_sum(out[0][i], w)
                                                  : sqrt(out[0][i] / w);
        break;
    case BOT4_TA_VWAP:
    case BOT4_TA_CMF:
        if (kind == BOT4_TA_VWAP) {
            for (int64_t i = 0; i < n; i++) t1[i] = typical_price(h[i], l[i], c[i]) * v[i];
        } else {
            rc = bot4_ta_clv_volume(level, h, l, c, v, n, t1);
        }
        if (!rc) rc = bot4_ta_window_sum(level, t1, n, w, out[0]);
        if (!rc) rc = bot4_ta_window_sum(level, v, n, w, t2);
        for (int64_t i = w - 1; i < n; i++) {
            const double sv = t2[i];
            if (kind == BOT4_TA_VWAP) out[0][i] = sv > 0.0 ? out[0][i] / sv : NAN;
            else out[0][i] = sv > 0.0 ? out[0][i] / sv : 0.0;
        }
        break;
    case BOT4_TA_EOM:
        /* terms start at bar 1; window over t1[0..n-2] lands at bar i+1 */
        out[0][0] = NAN;
        for (int64_t i = 1; i < n; i++)
            t1[i - 1] = eom_term((h[i] + l[i]) / 2.0 - (h[i - 1] + l[i - 1]) / 2.0, h[i], l[i],
                                 v[i], p[1]);
        rc = bot4_ta_window_sum(level, t1, n - 1, w, out[0] + 1);
        for (int64_t i = 1; i < n; i++) out[0][i] /= w;
        break;
    default:
        rc = BOT4_TA_EINVAL;
    }
    free(t1);
    free(t2);
    return rc;
}

int bot4_ta_batch(int kind, const double *params, int64_t n, const double *const *in,
                  double *const *out, int level)
{
    if (!valid_kind(kind) || n < 0 || !in || !out) return BOT4_TA_EINVAL;
    if (bot4_ta_check(kind, params) != BOT4_TA_OK) return BOT4_TA_EINVAL;
    const int mask = KINDS[kind].inputs;
    for (int k = 0; k < 5; k++)
        if ((mask >> k & 1) && n > 0 && in[k] == NULL) return BOT4_TA_EINVAL;
    for (int k = 0; k < KINDS[kind].n_outputs; k++)
        if (n > 0 && out[k] == NULL) return BOT4_TA_EINVAL;
    if (level != -1 && level != BOT4_SIMD_SCALAR && level != BOT4_SIMD_AVX2 &&
        level != BOT4_SIMD_AVX512)
        return BOT4_TA_EINVAL;
    switch (kind) {
    case BOT4_TA_SMA: case BOT4_TA_WMA: case BOT4_TA_BBANDS: case BOT4_TA_DONCHIAN:
    case BOT4_TA_AD: case BOT4_TA_GARMAN_KLASS: case BOT4_TA_PARKINSON: case BOT4_TA_VWAP:
    case BOT4_TA_CMF: case BOT4_TA_EOM:
        return batch_window(kind, params, n, in, out, level);
    default:
        return batch_loop(kind, params, n, in, out);
    }
}
