/* ta.h - technical-analysis indicators on OHLCV bars: one streaming state per indicator and
 * a batch driver over whole arrays.
 *
 * Design. Every indicator is a `bot4_ta` object (kind + parameters + state) that takes one
 * bar at a time (bot4_ta_update) and writes its current output(s), NaN until the
 * indicator's warm-up is over. The batch entry point (bot4_ta_batch) runs the very same
 * update code in one loop per kind over a local copy of the state (the code is inlined
 * there and the state kept in registers), so for every bar it produces exactly the bits
 * the streaming object would produce after that bar: one implementation of each formula.
 *
 * Cost per bar, streaming and batch alike: O(1) for every kind except CCI (O(n), as in
 * TA-Lib: its mean deviation needs every |tp - mean|, and its mean is summed in TA-Lib's
 * order because tp - mean cancels) and Hurst (O(n * max_lag)).
 * Recursive kinds (EMA family, RSI, ATR, ADX, SAR, OBV, AD, Force, TSI, MACD) keep O(1)
 * state. Window kinds (SMA, WMA, BBANDS, STOCH, WILLR, MFI, ULTOSC, AROON, Ichimoku,
 * Donchian, Garman-Klass, Parkinson, VWAP, CMF, EoM) use the two-stacks
 * window of ta.c: amortized O(1) (two adds or compares per value plus one per output; an
 * O(window) suffix pass once every `window` bars, so a single update can cost O(window)).
 *
 * Precision. A window sum is the sum of two fresh partial sums of at most `window` values
 * (never a running total with values added and later subtracted), so its error is bounded
 * by the window itself, as for a sum recomputed from scratch, and does not drift with the
 * history; max/min are exact. BBANDS' variance is one-pass about a shift (a recent value),
 * taken only where it is well conditioned (relative error below ~1e-10), two-pass over the
 * window otherwise (flat windows), so amortized O(1) on moving prices.
 *
 * Indicators that TA-Lib defines follow TA-Lib's definitions (the C library in the TA-Lib
 * >= 0.6 wheels, tested against 0.8.x; default "classic" compatibility, unstable period 0):
 * the same NaN prefix (lookback), the same seeding (EMA seeded with the SMA of its first n
 * inputs; Wilder averages seeded with plain means) and the same zero guards; values agree
 * to rounding (the tests bound the difference), not bit for bit: running sums and
 * recursions are reordered for precision or a shorter dependency chain. See ta.c.
 *
 * Invariants: a bot4_ta owns its buffers (allocated in bot4_ta_create, freed in
 * bot4_ta_destroy); windows are 1..BOT4_TA_MAX_WINDOW; update never fails on finite input
 * (callers check finiteness, and positivity for the log-based kinds, at the boundary).
 * Nothing here allocates after create except bot4_ta_batch's temporary object.
 */
#ifndef BOT4_TA_H
#define BOT4_TA_H

#include <stdint.h>

#define BOT4_TA_OK 0
#define BOT4_TA_EINVAL (-1)
#define BOT4_TA_ENOMEM (-2)
#define BOT4_TA_EINPUT (-3) /* bot4_ta_batch: an input is not finite (or not > 0 for a log) */

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
 * out[0..n_outputs-1] each n doubles. Same bits as n calls of bot4_ta_update on a fresh
 * object. The inputs are checked first: BOT4_TA_EINPUT, and no output written, if one is
 * not finite (or not > 0 where the kind takes its logarithm); the caller finds the value
 * with bot4_ta_first_bad to name it. */
int bot4_ta_batch(int kind, const double *params, int64_t n, const double *const *in,
                  double *const *out);

/* Index of the first element of x[0..n) that is not finite (or, if positive, not > 0); -1 if
 * none. The boundary check before a batch: a few tenths of a ns per value. */
int64_t bot4_ta_first_bad(const double *x, int64_t n, int positive);

/* Close-location value times volume: h > l ? ((c-l)-(h-c))/(h-l)*v : 0 (AD, CMF). */
static inline double bot4_ta_clv_term(double h, double l, double c, double v)
{
    return h > l ? ((c - l) - (h - c)) / (h - l) * v : 0.0;
}

#endif
