/* ta_window.c - rolling-window kernels for the TA family: scalar, AVX2 and AVX-512 bodies.
 *
 * Design: output i is a fresh reduction of x[i-w+1..i] taken left to right from the
 * oldest element (acc = x[i-w+1]; acc += x[i-w+2]; ...). The SIMD bodies compute 4 (AVX2)
 * or 8 (AVX-512) consecutive outputs at once, one per lane, each lane doing the very same
 * sequence of IEEE operations as the scalar body, so all bodies and the streaming ring in
 * ta.c agree bit for bit. No FMA is used (target attributes name avx2 / avx512*, not fma;
 * the file is compiled as ISO C11, where GCC does not contract a*b+c), because a fused
 * multiply-add rounds once where the scalar code rounds twice.
 * Invariants: 1 <= w <= BOT4_TA_MAX_WINDOW, n >= 0; out[i] = NaN for i < w-1.
 * Cost: O(w) per output, divided by the lane count; no allocation.
 */
#include "ta.h"

#include <math.h>
#include <stddef.h>

#include "simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define TA_X86 1
#else
#define TA_X86 0
#endif

static int g_level = BOT4_SIMD_SCALAR;

int bot4_ta_dispatch_init(int level)
{
    if (level != BOT4_SIMD_SCALAR && level != BOT4_SIMD_AVX2 && level != BOT4_SIMD_AVX512)
        return BOT4_TA_EINVAL;
    if (!TA_X86 && level != BOT4_SIMD_SCALAR) return BOT4_TA_EINVAL;
    g_level = level;
    return BOT4_TA_OK;
}

int bot4_ta_dispatch_level(void) { return g_level; }

static int resolve(int level)
{
    if (level < 0) return g_level;
    if (level != BOT4_SIMD_SCALAR && level != BOT4_SIMD_AVX2 && level != BOT4_SIMD_AVX512)
        return -1;
    if (!TA_X86 && level != BOT4_SIMD_SCALAR) return -1;
    return level;
}

static int check(const double *x, int64_t n, int w, const double *out)
{
    if (n < 0 || w < 1 || w > BOT4_TA_MAX_WINDOW) return BOT4_TA_EINVAL;
    if (n > 0 && (x == NULL || out == NULL)) return BOT4_TA_EINVAL;
    return BOT4_TA_OK;
}

static void nan_prefix(double *out, int64_t n, int w)
{
    for (int64_t i = 0; i < n && i < w - 1; i++) out[i] = NAN;
}

/* ---- scalar bodies: one window per output ------------------------------------------ */

static void sum_scalar(const double *x, int64_t from, int64_t n, int w, double *out)
{
    for (int64_t i = from; i < n; i++) {
        const double *p = x + i - w + 1;
        double acc = p[0];
        for (int k = 1; k < w; k++) acc += p[k];
        out[i] = acc;
    }
}

static void wsum_scalar(const double *x, int64_t from, int64_t n, int w, double *out)
{
    for (int64_t i = from; i < n; i++) {
        const double *p = x + i - w + 1;
        double acc = p[0];
        for (int k = 1; k < w; k++) acc += (double)(k + 1) * p[k];
        out[i] = acc;
    }
}

static void meanstd_scalar(const double *x, int64_t from, int64_t n, int w, double *mean,
                           double *sd)
{
    const double wd = (double)w;
    for (int64_t i = from; i < n; i++) {
        const double *p = x + i - w + 1;
        double acc = p[0];
        for (int k = 1; k < w; k++) acc += p[k];
        const double m = acc / wd;
        double d = p[0] - m;
        double sq = d * d;
        for (int k = 1; k < w; k++) {
            d = p[k] - m;
            sq += d * d;
        }
        mean[i] = m;
        sd[i] = sqrt(sq / wd);
    }
}

static void max_scalar(const double *x, int64_t from, int64_t n, int w, double *out)
{
    for (int64_t i = from; i < n; i++) {
        const double *p = x + i - w + 1;
        double acc = p[0];
        for (int k = 1; k < w; k++) acc = p[k] > acc ? p[k] : acc;
        out[i] = acc;
    }
}

static void min_scalar(const double *x, int64_t from, int64_t n, int w, double *out)
{
    for (int64_t i = from; i < n; i++) {
        const double *p = x + i - w + 1;
        double acc = p[0];
        for (int k = 1; k < w; k++) acc = p[k] < acc ? p[k] : acc;
        out[i] = acc;
    }
}

static void clv_scalar(const double *h, const double *l, const double *c, const double *v,
                       int64_t from, int64_t n, double *out)
{
    for (int64_t i = from; i < n; i++) out[i] = bot4_ta_clv_term(h[i], l[i], c[i], v[i]);
}

#if TA_X86
/* ---- AVX2 bodies: 4 consecutive windows per vector ------------------------------------ */
/* Each window is a serial chain of w adds, so one vector at a time is latency-bound; the
 * bodies run 4 vectors (16 windows) side by side, each lane still adding in the scalar
 * order, then single vectors, then the scalar tail. */

#define AVX2 __attribute__((target("avx2")))
#define LD4(p) _mm256_loadu_pd(p)

/* AVX2_WINDOW_BODY(NAME, INIT, STEP): accumulators a0..a3 over windows i..i+15, lane by lane
 * acc = INIT(oldest); acc = STEP(acc, next, k) for k = 1..w-1 */
#define AVX2_WINDOW_BODY(NAME, INIT, STEP)                                                 \
    AVX2 static int64_t NAME(const double *x, int64_t i, int64_t n, int w, double *out)    \
    {                                                                                      \
        for (; i + 16 <= n; i += 16) {                                                     \
            const double *p = x + i - w + 1;                                               \
            __m256d a0 = INIT(p), a1 = INIT(p + 4), a2 = INIT(p + 8), a3 = INIT(p + 12);   \
            for (int k = 1; k < w; k++) {                                                  \
                a0 = STEP(a0, p + k, k);                                                   \
                a1 = STEP(a1, p + k + 4, k);                                               \
                a2 = STEP(a2, p + k + 8, k);                                               \
                a3 = STEP(a3, p + k + 12, k);                                              \
            }                                                                              \
            _mm256_storeu_pd(out + i, a0);                                                 \
            _mm256_storeu_pd(out + i + 4, a1);                                             \
            _mm256_storeu_pd(out + i + 8, a2);                                             \
            _mm256_storeu_pd(out + i + 12, a3);                                            \
        }                                                                                  \
        for (; i + 4 <= n; i += 4) {                                                       \
            const double *p = x + i - w + 1;                                               \
            __m256d a0 = INIT(p);                                                          \
            for (int k = 1; k < w; k++) a0 = STEP(a0, p + k, k);                           \
            _mm256_storeu_pd(out + i, a0);                                                 \
        }                                                                                  \
        return i;                                                                          \
    }

#define SUM_STEP2(a, q, k) _mm256_add_pd((a), LD4(q))
#define WSUM_STEP2(a, q, k) \
    _mm256_add_pd((a), _mm256_mul_pd(_mm256_set1_pd((double)((k) + 1)), LD4(q)))
/* max_pd(a, b) returns b unless a > b, like the scalar `p > acc ? p : acc` with a = p:
 * identical for finite inputs. */
#define MAX_STEP2(a, q, k) _mm256_max_pd(LD4(q), (a))
#define MIN_STEP2(a, q, k) _mm256_min_pd(LD4(q), (a))

AVX2_WINDOW_BODY(sum_avx2, LD4, SUM_STEP2)
AVX2_WINDOW_BODY(wsum_avx2, LD4, WSUM_STEP2)
AVX2_WINDOW_BODY(max_avx2, LD4, MAX_STEP2)
AVX2_WINDOW_BODY(min_avx2, LD4, MIN_STEP2)

/* mean and stddev of one vector of windows starting at p (see meanstd_scalar) */
AVX2 static inline void meanstd4(const double *p, int w, __m256d wd, __m256d *m_out,
                                 __m256d *sd_out)
{
    __m256d acc = LD4(p);
    for (int k = 1; k < w; k++) acc = _mm256_add_pd(acc, LD4(p + k));
    const __m256d m = _mm256_div_pd(acc, wd);
    __m256d d = _mm256_sub_pd(LD4(p), m);
    __m256d sq = _mm256_mul_pd(d, d);
    for (int k = 1; k < w; k++) {
        d = _mm256_sub_pd(LD4(p + k), m);
        sq = _mm256_add_pd(sq, _mm256_mul_pd(d, d));
    }
    *m_out = m;
    *sd_out = _mm256_sqrt_pd(_mm256_div_pd(sq, wd));
}

AVX2 static int64_t meanstd_avx2(const double *x, int64_t i, int64_t n, int w, double *mean,
                                 double *sd)
{
    const __m256d wd = _mm256_set1_pd((double)w);
    for (; i + 8 <= n; i += 8) { /* two vectors interleaved (the compiler interleaves the
                                    inlined chains) */
        __m256d m0, s0, m1, s1;
        meanstd4(x + i - w + 1, w, wd, &m0, &s0);
        meanstd4(x + i - w + 5, w, wd, &m1, &s1);
        _mm256_storeu_pd(mean + i, m0);
        _mm256_storeu_pd(sd + i, s0);
        _mm256_storeu_pd(mean + i + 4, m1);
        _mm256_storeu_pd(sd + i + 4, s1);
    }
    for (; i + 4 <= n; i += 4) {
        __m256d m0, s0;
        meanstd4(x + i - w + 1, w, wd, &m0, &s0);
        _mm256_storeu_pd(mean + i, m0);
        _mm256_storeu_pd(sd + i, s0);
    }
    return i;
}

AVX2 static int64_t clv_avx2(const double *h, const double *l, const double *c,
                             const double *v, int64_t i, int64_t n, double *out)
{
    for (; i + 4 <= n; i += 4) {
        const __m256d hh = LD4(h + i), ll = LD4(l + i);
        const __m256d cc = LD4(c + i), vv = LD4(v + i);
        const __m256d num = _mm256_sub_pd(_mm256_sub_pd(cc, ll), _mm256_sub_pd(hh, cc));
        const __m256d t = _mm256_mul_pd(_mm256_div_pd(num, _mm256_sub_pd(hh, ll)), vv);
        const __m256d mask = _mm256_cmp_pd(hh, ll, _CMP_GT_OQ);
        _mm256_storeu_pd(out + i, _mm256_and_pd(mask, t));
    }
    return i;
}

/* ---- AVX-512 bodies: 8 consecutive windows per vector, 2 vectors side by side ---------- */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define LD8(p) _mm512_loadu_pd(p)

#define AVX512_WINDOW_BODY(NAME, INIT, STEP)                                               \
    AVX512 static int64_t NAME(const double *x, int64_t i, int64_t n, int w, double *out)  \
    {                                                                                      \
        for (; i + 16 <= n; i += 16) {                                                     \
            const double *p = x + i - w + 1;                                               \
            __m512d a0 = INIT(p), a1 = INIT(p + 8);                                        \
            for (int k = 1; k < w; k++) {                                                  \
                a0 = STEP(a0, p + k, k);                                                   \
                a1 = STEP(a1, p + k + 8, k);                                               \
            }                                                                              \
            _mm512_storeu_pd(out + i, a0);                                                 \
            _mm512_storeu_pd(out + i + 8, a1);                                             \
        }                                                                                  \
        for (; i + 8 <= n; i += 8) {                                                       \
            const double *p = x + i - w + 1;                                               \
            __m512d a0 = INIT(p);                                                          \
            for (int k = 1; k < w; k++) a0 = STEP(a0, p + k, k);                           \
            _mm512_storeu_pd(out + i, a0);                                                 \
        }                                                                                  \
        return i;                                                                          \
    }

#define SUM_STEP5(a, q, k) _mm512_add_pd((a), LD8(q))
#define WSUM_STEP5(a, q, k) \
    _mm512_add_pd((a), _mm512_mul_pd(_mm512_set1_pd((double)((k) + 1)), LD8(q)))
#define MAX_STEP5(a, q, k) _mm512_max_pd(LD8(q), (a))
#define MIN_STEP5(a, q, k) _mm512_min_pd(LD8(q), (a))

AVX512_WINDOW_BODY(sum_avx512, LD8, SUM_STEP5)
AVX512_WINDOW_BODY(wsum_avx512, LD8, WSUM_STEP5)
AVX512_WINDOW_BODY(max_avx512, LD8, MAX_STEP5)
AVX512_WINDOW_BODY(min_avx512, LD8, MIN_STEP5)

AVX512 static int64_t meanstd_avx512(const double *x, int64_t i, int64_t n, int w,
                                     double *mean, double *sd)
{
    const __m512d wd = _mm512_set1_pd((double)w);
    for (; i + 8 <= n; i += 8) {
        const double *p = x + i - w + 1;
        __m512d acc = LD8(p);
        for (int k = 1; k < w; k++) acc = _mm512_add_pd(acc, LD8(p + k));
        const __m512d m = _mm512_div_pd(acc, wd);
        __m512d d = _mm512_sub_pd(LD8(p), m);
        __m512d sq = _mm512_mul_pd(d, d);
        for (int k = 1; k < w; k++) {
            d = _mm512_sub_pd(LD8(p + k), m);
            sq = _mm512_add_pd(sq, _mm512_mul_pd(d, d));
        }
        _mm512_storeu_pd(mean + i, m);
        _mm512_storeu_pd(sd + i, _mm512_sqrt_pd(_mm512_div_pd(sq, wd)));
    }
    return i;
}

AVX512 static int64_t clv_avx512(const double *h, const double *l, const double *c,
                                 const double *v, int64_t i, int64_t n, double *out)
{
    for (; i + 8 <= n; i += 8) {
        const __m512d hh = LD8(h + i), ll = LD8(l + i);
        const __m512d cc = LD8(c + i), vv = LD8(v + i);
        const __m512d num = _mm512_sub_pd(_mm512_sub_pd(cc, ll), _mm512_sub_pd(hh, cc));
        const __m512d t = _mm512_mul_pd(_mm512_div_pd(num, _mm512_sub_pd(hh, ll)), vv);
        const __mmask8 mask = _mm512_cmp_pd_mask(hh, ll, _CMP_GT_OQ);
        _mm512_storeu_pd(out + i, _mm512_maskz_mov_pd(mask, t));
    }
    return i;
}
#endif

/* ---- dispatch: SIMD body for the full vectors, scalar body for the tail --------------- */

#if TA_X86
#define DISPATCH(lv, i, call_avx2, call_avx512)              \
    do {                                                     \
        if ((lv) == BOT4_SIMD_AVX512) (i) = call_avx512;     \
        else if ((lv) == BOT4_SIMD_AVX2) (i) = call_avx2;    \
    } while (0)
#else
#define DISPATCH(lv, i, call_avx2, call_avx512) ((void)(lv), (void)(i))
#endif

int bot4_ta_window_sum(int level, const double *x, int64_t n, int w, double *out)
{
    int lv = resolve(level);
    if (lv < 0 || check(x, n, w, out)) return BOT4_TA_EINVAL;
    nan_prefix(out, n, w);
    int64_t i = w - 1;
    DISPATCH(lv, i, sum_avx2(x, i, n, w, out), sum_avx512(x, i, n, w, out));
    sum_scalar(x, i, n, w, out);
    return BOT4_TA_OK;
}

int bot4_ta_window_wsum(int level, const double *x, int64_t n, int w, double *out)
{
    int lv = resolve(level);
    if (lv < 0 || check(x, n, w, out)) return BOT4_TA_EINVAL;
    nan_prefix(out, n, w);
    int64_t i = w - 1;
    DISPATCH(lv, i, wsum_avx2(x, i, n, w, out), wsum_avx512(x, i, n, w, out));
    wsum_scalar(x, i, n, w, out);
    return BOT4_TA_OK;
}

int bot4_ta_window_meanstd(int level, const double *x, int64_t n, int w, double *mean,
                           double *stddev)
{
    int lv = resolve(level);
    if (lv < 0 || check(x, n, w, mean) || (n > 0 && stddev == NULL)) return BOT4_TA_EINVAL;
    nan_prefix(mean, n, w);
    nan_prefix(stddev, n, w);
    int64_t i = w - 1;
    DISPATCH(lv, i, meanstd_avx2(x, i, n, w, mean, stddev),
             meanstd_avx512(x, i, n, w, mean, stddev));
    meanstd_scalar(x, i, n, w, mean, stddev);
    return BOT4_TA_OK;
}

int bot4_ta_window_max(int level, const double *x, int64_t n, int w, double *out)
{
    int lv = resolve(level);
    if (lv < 0 || check(x, n, w, out)) return BOT4_TA_EINVAL;
    nan_prefix(out, n, w);
    int64_t i = w - 1;
    DISPATCH(lv, i, max_avx2(x, i, n, w, out), max_avx512(x, i, n, w, out));
    max_scalar(x, i, n, w, out);
    return BOT4_TA_OK;
}

int bot4_ta_window_min(int level, const double *x, int64_t n, int w, double *out)
{
    int lv = resolve(level);
    if (lv < 0 || check(x, n, w, out)) return BOT4_TA_EINVAL;
    nan_prefix(out, n, w);
    int64_t i = w - 1;
    DISPATCH(lv, i, min_avx2(x, i, n, w, out), min_avx512(x, i, n, w, out));
    min_scalar(x, i, n, w, out);
    return BOT4_TA_OK;
}

int bot4_ta_clv_volume(int level, const double *h, const double *l, const double *c,
                       const double *v, int64_t n, double *out)
{
    int lv = resolve(level);
    if (lv < 0 || n < 0) return BOT4_TA_EINVAL;
    if (n > 0 && (!h || !l || !c || !v || !out)) return BOT4_TA_EINVAL;
    int64_t i = 0;
    DISPATCH(lv, i, clv_avx2(h, l, c, v, i, n, out), clv_avx512(h, l, c, v, i, n, out));
    clv_scalar(h, l, c, v, i, n, out);
    return BOT4_TA_OK;
}
