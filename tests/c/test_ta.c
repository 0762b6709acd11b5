/* test_ta.c - C unit tests for the TA family (csrc/ta.c, csrc/ta_window.c): hand-computed
 * values, parameter and argument errors, streaming == batch bit for bit for every kind,
 * reset, and every SIMD body the CPU runs against the scalar body, bit for bit.
 * Standalone program: exits non-zero on failure, last line "ta: N passed, M failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"
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
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, 6, in, out_sma, -1) == BOT4_TA_OK);
    CHECK(isnan(sma[0]) && isnan(sma[1]));
    CHECK(sma[2] == 2.0 && sma[3] == 3.0 && sma[5] == 5.0);
    CHECK(bot4_ta_batch(BOT4_TA_EMA, p, 6, in, out_ema, -1) == BOT4_TA_OK);
    /* seed = mean(1,2,3) = 2, k = 0.5: 2 -> 3 -> 4 -> 5 */
    CHECK(isnan(ema[1]) && ema[2] == 2.0 && ema[3] == 3.0 && ema[5] == 5.0);

    /* OBV: starts at volume[0], +v on up close, -v on down close, unchanged on a tie */
    const double c[4] = {10, 11, 11, 9}, v[4] = {5, 7, 3, 2};
    const double *in2[5] = {NULL, NULL, NULL, c, v};
    double obv[4];
    double *out_obv[1] = {obv};
    CHECK(bot4_ta_batch(BOT4_TA_OBV, NULL, 4, in2, out_obv, -1) == BOT4_TA_OK);
    CHECK(obv[0] == 5 && obv[1] == 12 && obv[2] == 12 && obv[3] == 10);

    /* window kernels on a tiny series */
    double s[6], mx[6], mn[6], ws[6];
    CHECK(bot4_ta_window_sum(BOT4_SIMD_SCALAR, x, 6, 2, s) == BOT4_TA_OK);
    CHECK(isnan(s[0]) && s[1] == 3 && s[5] == 11);
    CHECK(bot4_ta_window_max(BOT4_SIMD_SCALAR, x, 6, 4, mx) == BOT4_TA_OK && mx[5] == 6);
    CHECK(bot4_ta_window_min(BOT4_SIMD_SCALAR, x, 6, 4, mn) == BOT4_TA_OK && mn[5] == 3);
    CHECK(bot4_ta_window_wsum(BOT4_SIMD_SCALAR, x, 6, 3, ws) == BOT4_TA_OK);
    CHECK(ws[2] == 1 * 1 + 2 * 2 + 3 * 3 && ws[5] == 4 + 2 * 5 + 3 * 6);
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
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, 4, in, outs, -1) == BOT4_TA_EINVAL); /* close missing */
    in[3] = x;
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, 4, in, outs, 7) == BOT4_TA_EINVAL);  /* bad level */
    CHECK(bot4_ta_batch(BOT4_TA_EMA, p, 4, in, outs, 1) == BOT4_TA_EINVAL);
    CHECK(bot4_ta_batch(BOT4_TA_SMA, p, -1, in, outs, -1) == BOT4_TA_EINVAL);
    CHECK(bot4_ta_window_sum(BOT4_SIMD_SCALAR, x, 4, 0, out) == BOT4_TA_EINVAL);
    CHECK(bot4_ta_dispatch_init(1) == BOT4_TA_EINVAL);
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
        CHECK(bot4_ta_batch(kind, p, NBARS, in, outs, -1) == BOT4_TA_OK);
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

static void test_simd_bodies(void)
{
    bot4_cpu_features f;
    bot4_cpu_detect(&f);
    const int levels[2] = {BOT4_SIMD_AVX2, BOT4_SIMD_AVX512};
    const int widths[6] = {1, 2, 3, 5, 20, 67};
    double *a = (double *)malloc(sizeof(double) * NBARS);
    double *b = (double *)malloc(sizeof(double) * NBARS);
    double *a2 = (double *)malloc(sizeof(double) * NBARS);
    double *b2 = (double *)malloc(sizeof(double) * NBARS);
    for (int li = 0; li < 2; li++) {
        if (!bot4_simd_supported(&f, (bot4_simd_level)levels[li])) continue;
        const int lv = levels[li];
        for (int wi = 0; wi < 6; wi++) {
            const int w = widths[wi];
            for (int n = 0; n <= NBARS; n += (n < 80 ? 1 : 157)) {
                int bad = 0;
                bot4_ta_window_sum(BOT4_SIMD_SCALAR, C, n, w, a);
                bot4_ta_window_sum(lv, C, n, w, b);
                for (int i = 0; i < n; i++) bad += !same(a[i], b[i]);
                bot4_ta_window_wsum(BOT4_SIMD_SCALAR, C, n, w, a);
                bot4_ta_window_wsum(lv, C, n, w, b);
                for (int i = 0; i < n; i++) bad += !same(a[i], b[i]);
                bot4_ta_window_max(BOT4_SIMD_SCALAR, H, n, w, a);
                bot4_ta_window_max(lv, H, n, w, b);
                for (int i = 0; i < n; i++) bad += !same(a[i], b[i]);
                bot4_ta_window_min(BOT4_SIMD_SCALAR, L, n, w, a);
                bot4_ta_window_min(lv, L, n, w, b);
                for (int i = 0; i < n; i++) bad += !same(a[i], b[i]);
                bot4_ta_window_meanstd(BOT4_SIMD_SCALAR, C, n, w, a, a2);
                bot4_ta_window_meanstd(lv, C, n, w, b, b2);
                for (int i = 0; i < n; i++) bad += !same(a[i], b[i]) + !same(a2[i], b2[i]);
                bot4_ta_clv_volume(BOT4_SIMD_SCALAR, H, L, C, V, n, a);
                bot4_ta_clv_volume(lv, H, L, C, V, n, b);
                for (int i = 0; i < n; i++) bad += !same(a[i], b[i]);
                CHECK(bad == 0);
            }
        }
    }
    free(a);
    free(b);
    free(a2);
    free(b2);
}

int main(void)
{
    make_bars();
    test_known_values();
    test_errors();
    test_stream_equals_batch();
    test_simd_bodies();
    printf("ta: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
