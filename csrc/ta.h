/* ta.h - technical-analysis indicators on OHLCV bars: one streaming state per indicator,
 * batch kernels over whole arrays, and SIMD window kernels.
 *
 * Design. Every indicator is a `bot4_ta` object (kind + parameters + state) that takes one
 * bar at a time (bot4_ta_update) and writes its current output(s), NaN until the
 * indicator's warm-up is over. The batch entry point (bot4_ta_batch) produces, for every
 * bar, exactly the bits the streaming object would produce after that bar: most kinds run
 * the same update code in a loop; the window kinds (SMA, WMA, BBANDS, Donchian, Parkinson,
 * Garman-Klass, VWAP, CMF, EoM, AD) compute their per-bar terms with the same expressions
 * and then call the window kernels below, which recompute each window from its elements in
 * chronological order - exactly what the streaming ring does - so every SIMD body, the
 * scalar body and the stream agree bit for bit.
 *
 * Window kernels recompute each window (O(w) per output) instead of keeping a running sum:
 * a running sum drifts (x + a - a != x in floating point) and, over 10^5 bars of prices near
 * 5e4, loses digits that a bounded oscillator cannot spare; a fresh sum of w terms has error
 * at most (w-1) ulp-ish of the window and never accumulates. The O(w) is vectorized across
 * outputs (4 or 8 windows per instruction) in batch.
 *
 * Indicators that TA-Lib defines follow TA-Lib's definitions (the C library in the TA-Lib
 * >= 0.6 wheels, tested against 0.8.1; default "classic"
 * compatibility, unstable period 0): the same NaN prefix (lookback), the same seeding (EMA
 * seeded with the SMA of its first n inputs; Wilder averages seeded with plain means) and
 * the same zero guards. See ta.c for each formula and its source.
 *
 * Invariants: a bot4_ta owns its buffers (allocated in bot4_ta_create, freed in
 * bot4_ta_destroy); windows are 1..BOT4_TA_MAX_WINDOW; update never fails on finite input
 * (callers check finiteness, and positivity for the log-based kinds, at the boundary).
 * Nothing here allocates after create except bot4_ta_batch's temporary arrays.
 * Cost: update O(1) for recursive kinds (EMA family, RSI, ATR, ADX, SAR, OBV, AD, Force,
 * TSI, MACD), O(window) for window kinds, O(window * max_lag) for Hurst.
 */
#ifndef BOT4_TA_H
#define BOT4_TA_H

#include <stdint.h>

#define BOT4_TA_OK 0
#define BOT4_TA_EINVAL (-1)
#define BOT4_TA_ENOMEM (-2)

#define BOT4_TA_MAX_WINDOW 100000
#define BOT4_TA_MAX_PARAMS 4
#define BOT4_TA_MAX_OUTPUTS 4

/* Input series an indicator reads (bit mask). */
#define BOT4_TA_IN_OPEN 1
#define BOT4_TA_IN_HIGH 2
#define BOT4_TA_IN_LOW 4
#define BOT4_TA_IN_CLOSE 8
#define BOT4_TA_IN_VOLUME 16

typedef enum bot4_ta_kind {
    BOT4_TA_SMA = 0,      /* n */
    BOT4_TA_EMA,          /* n */
    BOT4_TA_WMA,          /* n */
    BOT4_TA_DEMA,         /* n */
    BOT4_TA_TEMA,         /* n */
    BOT4_TA_RSI,          /* n */
    BOT4_TA_MACD,         /* fast, slow, signal -> macd, signal, hist */
    BOT4_TA_STOCH,        /* fastk, slowk, slowd -> slowk, slowd */
    BOT4_TA_CCI,          /* n */
    BOT4_TA_WILLR,        /* n */
    BOT4_TA_MFI,          /* n */
    BOT4_TA_ROC,          /* n */
    BOT4_TA_TSI,          /* long r, short s */
    BOT4_TA_ULTOSC,       /* p1, p2, p3 */
    BOT4_TA_ADX,          /* n */
    BOT4_TA_AROON,        /* n -> down, up */
    BOT4_TA_SAR,          /* acceleration, maximum */
    BOT4_TA_SUPERTREND,   /* n, multiplier -> value, direction */
    BOT4_TA_ICHIMOKU,     /* tenkan, kijun, senkou_b -> tenkan, kijun, span_a, span_b */
    BOT4_TA_ATR,          /* n */
    BOT4_TA_BBANDS,       /* n, k_up, k_down -> upper, middle, lower */
    BOT4_TA_KELTNER,      /* n_ema, n_atr, multiplier -> upper, middle, lower */
    BOT4_TA_DONCHIAN,     /* n -> upper, middle, lower */
    BOT4_TA_CHAIKIN_VOL,  /* n_ema, n_roc */
    BOT4_TA_GARMAN_KLASS, /* n */
    BOT4_TA_PARKINSON,    /* n */
    BOT4_TA_OBV,          /* - */
    BOT4_TA_VWAP,         /* n */
    BOT4_TA_AD,           /* - */
    BOT4_TA_CMF,          /* n */
    BOT4_TA_FORCE,        /* n */
    BOT4_TA_EOM,          /* n, volume_scale */
    BOT4_TA_HURST,        /* n, max_lag */
    BOT4_TA_NKINDS
} bot4_ta_kind;

typedef struct bot4_ta bot4_ta;

/* Static facts about a kind; -1 for an unknown kind. */
int bot4_ta_n_params(int kind);
int bot4_ta_n_outputs(int kind);
int bot4_ta_inputs(int kind);

/* Check parameters without allocating: BOT4_TA_OK or BOT4_TA_EINVAL. */
int bot4_ta_check(int kind, const double *params);

/* Create an indicator; *out is NULL on failure. params has bot4_ta_n_params(kind) values. */
int bot4_ta_create(bot4_ta **out, int kind, const double *params);
void bot4_ta_destroy(bot4_ta *ta);
/* Forget all bars (as if just created). */
void bot4_ta_reset(bot4_ta *ta);
/* Index of the first bar with a (first) output: the TA-Lib "lookback". */
int64_t bot4_ta_lookback(const bot4_ta *ta);
int64_t bot4_ta_count(const bot4_ta *ta);

/* Feed one bar (open, high, low, close, volume; unused fields ignored) and write the
 * bot4_ta_n_outputs values into out. */
int bot4_ta_update(bot4_ta *ta, double open, double high, double low, double close,
                   double volume, double *out);

/* Batch: in[0..4] = open, high, low, close, volume (NULL where the kind does not read it),
 * out[0..n_outputs-1] each n doubles. `level` is a bot4_simd_level, or -1 for the level set
 * by bot4_ta_dispatch_init. Same bits as n calls of bot4_ta_update on a fresh object. */
int bot4_ta_batch(int kind, const double *params, int64_t n, const double *const *in,
                  double *const *out, int level);

/* SIMD window kernels (ta_window.c). out[i] for i >= w-1 is the window ending at i, out[i]
 * for i < w-1 is NaN. Sums are left to right from the oldest element, so every body and
 * the streaming ring give the same bits. `level` as above. */
int bot4_ta_window_sum(int level, const double *x, int64_t n, int w, double *out);
/* sum_{k=1..w} k * x[i-w+k] */
int bot4_ta_window_wsum(int level, const double *x, int64_t n, int w, double *out);
/* mean = sum/w, stddev = sqrt(sum((x-mean)^2)/w) (population, two-pass) */
int bot4_ta_window_meanstd(int level, const double *x, int64_t n, int w, double *mean,
                           double *stddev);
int bot4_ta_window_max(int level, const double *x, int64_t n, int w, double *out);
int bot4_ta_window_min(int level, const double *x, int64_t n, int w, double *out);
/* Close-location value times volume: h > l ? ((c-l)-(h-c))/(h-l)*v : 0 (AD, CMF). */
int bot4_ta_clv_volume(int level, const double *h, const double *l, const double *c,
                       const double *v, int64_t n, double *out);

/* Set the level used when a caller passes level -1. Returns BOT4_TA_EINVAL for an unknown
 * level. Does not check CPU support: engine.simd does, once. */
int bot4_ta_dispatch_init(int level);
int bot4_ta_dispatch_level(void);

/* Shared scalar expressions, also used by the streaming code (so the bits match). */
static inline double bot4_ta_clv_term(double h, double l, double c, double v)
{
    return h > l ? ((c - l) - (h - c)) / (h - l) * v : 0.0;
}

#endif
