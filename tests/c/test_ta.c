/* test_ta.c - C unit tests for the TA family (csrc/ta.c): hand-computed values, parameter
 * and argument errors, streaming == batch bit for bit for every kind, reset, the O(1)
 * sliding windows against windows recomputed from scratch (across many block flips and
 * window lengths), and the boundary scan for non-finite input.
 * Standalone program: exits non-zero on failure, last line "ta: N passed, M failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ta.h"

#include "check.h"

/* Same bits, NaN equal to NaN. */
static int same(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

#define NBARS 700

static double O[NBARS], H[NBARS], L[NBARS], C[NBARS], V[NBARS];

/* xorshift64*: deterministic bars without libc rand */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static double urand(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static void make_bars(void)
{
    double c = 30000.0;
    for (int i = 0; i < NBARS; i++) {
        const double o = c;
        c *= exp((urand() - 0.5) * 0.02);
        if (urand() < 0.1) c = o; /* ties */
        const double hi = (o > c ? o : c) * (1.0 + 0.004 * urand());
        const double lo = (o < c ? o : c) * (1.0 - 0.004 * urand());
        O[i] = o;
        H[i] = hi;
        L[i] = lo;
        C[i] = c;
        V[i] = urand() < 0.05 ? 0.0 : 100.0 * urand();
    }
}

static void default_params(int kind, double *p)
{
    p[0] = 14; p[1] = 3; p[2] = 3; p[3] = 0;
    switch (kind) {
    case BOT4_TA_MACD: p[0] = 12; p[1] = 26; p[2] = 9; break;
    case BOT4_TA_STOCH: p[0] = 5; break;
    case BOT4_TA_TSI: p[0] = 25; p[1] = 13; break;
    case BOT4_TA_ULTOSC: p[0] = 7; p[1] = 14; p[2] = 28; break;
    case BOT4_TA_SAR: p[0] = 0.02; p[1] = 0.2; break;
    case BOT4_TA_SUPERTREND: p[0] = 10; p[1] = 3.0; break;
    case BOT4_TA_ICHIMOKU: p[0] = 9; p[1] = 26; p[2] = 52; break;
    case BOT4_TA_BBANDS: p[0] = 20; p[1] = 2.0; p[2] = 2.0; break;
    case BOT4_TA_KELTNER: p[0] = 20; p[1] = 10; p[2] = 2.0; break;
    case BOT4_TA_CHAIKIN_VOL: p[0] = 10; p[1] = 10; break;
    case BOT4_TA_EOM: p[0] = 14; p[1] = 1e4; break;
    case BOT4_TA_HURST: p[0] = 60; p[1] = 10; break;
    default: break;
    }
}

static void test_known_values(void)
{
    const double x[6] = {1, 2, 3, 4, 5, 6};
    const double *in[5] = {NULL, NULL, NULL, x, NULL};
    double sma[6], ema[6];
    double *out_sma[1] = {sma}, *out_ema[1] = {ema};
    double p[1] = {3};
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, 6, in, out_sma) == BOT4_TA_OK);
    CHECK(isnan(sma[0]) && isnan(sma[1]));
    CHECK(sma[2] == 2.0 && sma[3] == 3.0 && sma[5] == 5.0);
    CHECK(bot4_ta_batch(BOT4_TA_EMA, p, 6, in, out_ema) == BOT4_TA_OK);
    /* seed = mean(1,2,3) = 2, k = 0.5: 2 -> 3 -> 4 -> 5 */
    CHECK(isnan(ema[1]) && ema[2] == 2.0 && ema[3] == 3.0 && ema[5] == 5.0);

    /* OBV: starts at volume[0], +v on up close, -v on down close, unchanged on a tie */
    const double c[4] = {10, 11, 11, 9}, v[4] = {5, 7, 3, 2};
    const double *in2[5] = {NULL, NULL, NULL, c, v};
    double obv[4];
    double *out_obv[1] = {obv};
    CHECK(bot4_ta_batch(BOT4_TA_OBV, NULL, 4, in2, out_obv) == BOT4_TA_OK);
    CHECK(obv[0] == 5 && obv[1] == 12 && obv[2] == 12 && obv[3] == 10);

}

static void test_errors(void)
{
    bot4_ta *ta = (bot4_ta *)1;
    double p[4] = {0, 0, 0, 0};
    CHECK(bot4_ta_create(&ta, BOT4_TA_SMA, p) == BOT4_TA_EINVAL && ta == NULL);
    p[0] = 2.5;
    CHECK(bot4_ta_create(&ta, BOT4_TA_SMA, p) == BOT4_TA_EINVAL);
    p[0] = 1;
    CHECK(bot4_ta_create(&ta, BOT4_TA_RSI, p) == BOT4_TA_EINVAL);
    CHECK(bot4_ta_create(&ta, -1, p) == BOT4_TA_EINVAL);
    CHECK(bot4_ta_create(&ta, BOT4_TA_NKINDS, p) == BOT4_TA_EINVAL);
    p[0] = 10; p[1] = 9;
    CHECK(bot4_ta_create(&ta, BOT4_TA_HURST, p) == BOT4_TA_EINVAL); /* max_lag > n - 2 */
    p[0] = NAN;
    CHECK(bot4_ta_check(BOT4_TA_SAR, p) == BOT4_TA_EINVAL);
    CHECK(bot4_ta_n_outputs(BOT4_TA_ICHIMOKU) == 4 && bot4_ta_n_outputs(99) == -1);
    CHECK(bot4_ta_update(NULL, 1, 1, 1, 1, 1, p) == BOT4_TA_EINVAL);
    double x[4] = {1, 2, 3, 4}, out[4];
    const double *in[5] = {NULL, NULL, NULL, NULL, NULL};
    double *outs[1] = {out};
    p[0] = 2;
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, 4, in, outs) == BOT4_TA_EINVAL); /* close missing */
    in[3] = x;
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, -1, in, outs) == BOT4_TA_EINVAL);
    CHECK(bot4_ta_batch(BOT4_TA_NKINDS, p, 4, in, outs) == BOT4_TA_EINVAL);
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, 4, in, outs) == BOT4_TA_OK && out[3] == 3.5);
    x[2] = NAN; /* checked before use: EINPUT, nothing written */
    out[0] = 42.0;
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, 4, in, outs) == BOT4_TA_EINPUT && out[0] == 42.0);
    x[2] = 0.0; /* fine for an SMA, not for Parkinson's logarithm */
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, 4, in, outs) == BOT4_TA_OK);
    const double *in_hl[5] = {NULL, x, x, NULL, NULL};
    CHECK(bot4_ta_batch(BOT4_TA_PARKINSON, p, 4, in_hl, outs) == BOT4_TA_EINPUT);
    x[2] = 3.0;
    CHECK(bot4_ta_batch(BOT4_TA_PARKINSON, p, 4, in_hl, outs) == BOT4_TA_OK);
}

static void test_stream_equals_batch(void)
{
    const double *in[5] = {O, H, L, C, V};
    for (int kind = 0; kind < BOT4_TA_NKINDS; kind++) {
        double p[4];
        default_params(kind, p);
        const int no = bot4_ta_n_outputs(kind);
        double *outs[4] = {NULL, NULL, NULL, NULL};
        for (int k = 0; k < no; k++) outs[k] = (double *)malloc(sizeof(double) * NBARS);
        CHECK(bot4_ta_batch(kind, p, NBARS, in, outs) == BOT4_TA_OK);
        bot4_ta *ta;
        CHECK(bot4_ta_create(&ta, kind, p) == BOT4_TA_OK);
        int mismatches = 0, defined = 0;
        for (int pass = 0; pass < 2; pass++) { /* second pass after reset */
            for (int i = 0; i < NBARS; i++) {
                double row[4];
                bot4_ta_update(ta, O[i], H[i], L[i], C[i], V[i], row);
                for (int k = 0; k < no; k++) {
                    mismatches += !same(row[k], outs[k][i]);
                    defined += !isnan(row[k]);
                }
            }
            CHECK(bot4_ta_count(ta) == NBARS);
            bot4_ta_reset(ta);
        }
        if (mismatches) fprintf(stderr, "kind %d: %d mismatches\n", kind, mismatches);
        CHECK(mismatches == 0);
        CHECK(defined > 0);
        /* nothing is defined before the lookback; everything (first output) from it on */
        const int64_t lb = bot4_ta_lookback(ta);
        CHECK(lb >= 0 && lb < NBARS);
        CHECK(kind == BOT4_TA_ICHIMOKU || lb == 0 || isnan(outs[0][lb - 1]));
        CHECK(kind == BOT4_TA_VWAP || kind == BOT4_TA_HURST || !isnan(outs[0][lb]));
        bot4_ta_destroy(ta);
        for (int k = 0; k < no; k++) free(outs[k]);
    }
}

/* Sliding windows against the same windows recomputed from scratch: SMA (sum), WMA
 * (weighted sum), Donchian (max, min), AROON (positions of the extremes), BBANDS (mean,
 * population sd), for lengths that put the window across 0, 1 and many block flips. */
static void test_windows_from_scratch(void)
{
    const int lens[7] = {1, 2, 3, 5, 8, 20, 67};
    for (int li = 0; li < 7; li++) {
        const int w = lens[li];
        double p[4] = {w, 2.0, 2.0, 0};
        const double *in[5] = {O, H, L, C, V};
        double sma[NBARS], wma[NBARS], up[NBARS], mid[NBARS], lo[NBARS], bu[NBARS], bm[NBARS],
            bl[NBARS], adn[NBARS], aup[NBARS];
        double *o1[1] = {sma}, *o2[1] = {wma}, *o3[3] = {up, mid, lo}, *o4[3] = {bu, bm, bl};
        double *o5[2] = {adn, aup};
        CHECK(bot4_ta_batch(BOT4_TA_SMA, p, NBARS, in, o1) == BOT4_TA_OK);
        CHECK(bot4_ta_batch(BOT4_TA_WMA, p, NBARS, in, o2) == BOT4_TA_OK);
        CHECK(bot4_ta_batch(BOT4_TA_DONCHIAN, p, NBARS, in, o3) == BOT4_TA_OK);
        CHECK(bot4_ta_batch(BOT4_TA_BBANDS, p, NBARS, in, o4) == BOT4_TA_OK);
        CHECK(bot4_ta_batch(BOT4_TA_AROON, p, NBARS, in, o5) == BOT4_TA_OK);
        int bad = 0;
        for (int i = 0; i < NBARS; i++) {
            if (i < w - 1) {
                bad += !isnan(sma[i]) + !isnan(wma[i]) + !isnan(up[i]) + !isnan(bu[i]);
                continue;
            }
            double s = 0, ws = 0, hh = H[i], ll = L[i];
            for (int k = 0; k < w; k++) {
                const double x = C[i - w + 1 + k];
                s += x;
                ws += (k + 1) * x;
                if (H[i - w + 1 + k] > hh) hh = H[i - w + 1 + k];
                if (L[i - w + 1 + k] < ll) ll = L[i - w + 1 + k];
            }
            const double mean = s / w;
            double sq = 0;
            for (int k = 0; k < w; k++) sq += (C[i - w + 1 + k] - mean) * (C[i - w + 1 + k] - mean);
            const double sd = sqrt(sq / w);
            /* prices near 3e4: sums of w terms agree to a few ulp of the window */
            bad += fabs(sma[i] - mean) > 1e-12 * mean;
            bad += fabs(wma[i] - ws / (w * (w + 1) / 2.0)) > 1e-12 * mean;
            bad += up[i] != hh || lo[i] != ll;
            bad += fabs(bm[i] - mean) > 1e-12 * mean;
            bad += fabs((bu[i] - bm[i]) / 2.0 - sd) > 1e-9 * sd + 1e-11 * mean;
            if (i >= w) { /* AROON over w + 1 bars: the latest extreme wins ties */
                int khi = 0, klo = 0;
                for (int k = 1; k <= w; k++) {
                    if (H[i - w + k] >= H[i - w + khi]) khi = k;
                    if (L[i - w + k] <= L[i - w + klo]) klo = k;
                }
                bad += aup[i] != (100.0 / w) * khi || adn[i] != (100.0 / w) * klo;
            }
        }
        if (bad) fprintf(stderr, "window %d: %d mismatches\n", w, bad);
        CHECK(bad == 0);
    }
}

/* A flat window after a noisy stretch: BBANDS' sd is 0 (the two-pass fallback), and the
 * window sum keeps no residue of the large values that left it. */
static void test_flat_after_spike(void)
{
    enum { N = 200 };
    double c[N];
    for (int i = 0; i < N; i++) c[i] = i < 100 ? 50000.0 + 37.0 * ((i * 7919) % 13) : 0.001234;
    const double *in[5] = {NULL, NULL, NULL, c, NULL};
    double p[4] = {20, 2.0, 2.0, 0};
    double up[N], mid[N], lo[N], sma[N];
    double *o1[3] = {up, mid, lo}, *o2[1] = {sma};
    CHECK(bot4_ta_batch(BOT4_TA_BBANDS, p, N, in, o1) == BOT4_TA_OK);
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, N, in, o2) == BOT4_TA_OK);
    int bad = 0;
    for (int i = 119; i < N; i++) {
        bad += fabs(sma[i] - 0.001234) > 4e-16 * 0.001234 * 20;
        /* a flat window's mean is the price to within a few ulp; its sd is that noise */
        bad += fabs(up[i] - mid[i]) > 8 * 2.3e-16 * 0.001234 || fabs(lo[i] - mid[i]) > 8 * 2.3e-16 * 0.001234;
    }
    if (bad) fprintf(stderr, "flat after spike: %d bad (sma[119] %.17g, bbands %.17g %.17g)\n", bad, sma[119], up[119], mid[119]);
    CHECK(bad == 0);
}

static void test_first_bad(void)
{
    double x[600];
    for (int i = 0; i < 600; i++) x[i] = 1.0 + i;
    CHECK(bot4_ta_first_bad(x, 600, 1) == -1 && bot4_ta_first_bad(x, 0, 0) == -1);
    x[517] = INFINITY;
    CHECK(bot4_ta_first_bad(x, 600, 0) == 517 && bot4_ta_first_bad(x, 517, 0) == -1);
    x[300] = NAN;
    CHECK(bot4_ta_first_bad(x, 600, 0) == 300);
    x[3] = 0.0;
    CHECK(bot4_ta_first_bad(x, 600, 1) == 3 && bot4_ta_first_bad(x, 600, 0) == 300);
    x[2] = -0.0;
    CHECK(bot4_ta_first_bad(x, 600, 1) == 2);
    x[1] = -1e-300;
    CHECK(bot4_ta_first_bad(x, 600, 1) == 1 && bot4_ta_first_bad(x, 2, 0) == -1);
    x[0] = 4.9e-324; /* the smallest subnormal is > 0 */
    CHECK(bot4_ta_first_bad(x, 1, 1) == -1);
}

int main(void)
{
    make_bars();
    test_known_values();
    test_errors();
    test_stream_equals_batch();
    test_windows_from_scratch();
    test_flat_after_spike();
    test_first_bad();
    printf("ta: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
