/* test_garch.c - C unit tests for csrc/garch.c: parameter validation, the recursion against
 * a direct evaluation, streaming == batch bit for bit, error paths leave state unchanged,
 * and the closed-form forecast against iterating the expectation. */
#include "garch.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>

#include "check.h"

static double uniform(void) { return (double)(check_rand() >> 11) / 9007199254740992.0; }

static void test_params(void)
{
    bot4_garch g;
    CHECK(bot4_garch_check_params(1e-6, 0.1, 0.85) == BOT4_GARCH_OK);
    CHECK(bot4_garch_check_params(0.0, 0.1, 0.85) == BOT4_GARCH_EOMEGA);
    CHECK(bot4_garch_check_params(-1.0, 0.1, 0.85) == BOT4_GARCH_EOMEGA);
    CHECK(bot4_garch_check_params(NAN, 0.1, 0.85) == BOT4_GARCH_EOMEGA);
    CHECK(bot4_garch_check_params(1e-6, -0.01, 0.85) == BOT4_GARCH_EALPHA);
    CHECK(bot4_garch_check_params(1e-6, INFINITY, 0.0) == BOT4_GARCH_EALPHA);
    CHECK(bot4_garch_check_params(1e-6, 0.1, -0.1) == BOT4_GARCH_EBETA);
    CHECK(bot4_garch_check_params(1e-6, 0.1, NAN) == BOT4_GARCH_EBETA);
    CHECK(bot4_garch_check_params(1e-6, 0.2, 0.8) == BOT4_GARCH_ENONSTATIONARY);
    CHECK(bot4_garch_check_params(1e-6, 0.0, 0.0) == BOT4_GARCH_OK);
    CHECK(bot4_garch_init(&g, 1e-6, 0.1, 0.85, 0.0) == BOT4_GARCH_ESIGMA2);
    CHECK(bot4_garch_init(&g, 1e-6, 0.1, 0.85, INFINITY) == BOT4_GARCH_ESIGMA2);
    CHECK(bot4_garch_init(&g, 1e-6, 0.1, 0.85, 2e-5) == BOT4_GARCH_OK);
}

static void test_recursion_and_stream_equals_batch(void)
{
    enum { N = 5000 };
    static double r[N], out[N], direct[N];
    bot4_garch a, b;
    double omega = 2e-6, alpha = 0.08, beta = 0.9, s0 = 4e-5;
    CHECK(bot4_garch_init(&a, omega, alpha, beta, s0) == BOT4_GARCH_OK);
    CHECK(bot4_garch_init(&b, omega, alpha, beta, s0) == BOT4_GARCH_OK);
    for (int i = 0; i < N; i++)
        r[i] = (uniform() - 0.5) * 0.02;
    double s = s0;
    for (int i = 0; i < N; i++) {
        direct[i] = s;
        s = omega + alpha * (r[i] * r[i]) + beta * s;
    }
    CHECK(bot4_garch_filter(&a, r, N, out, NULL) == BOT4_GARCH_OK);
    int same_direct = 1, same_stream = 1;
    for (int i = 0; i < N; i++)
        if (out[i] != direct[i])
            same_direct = 0;
    CHECK(same_direct);
    CHECK(a.sigma2 == s);
    for (int i = 0; i < N; i++) {
        double next;
        if (out[i] != b.sigma2)
            same_stream = 0;
        if (bot4_garch_update(&b, r[i], &next) != BOT4_GARCH_OK) same_stream = 0;
        if (next != b.sigma2)
            same_stream = 0;
    }
    CHECK(same_stream);
    CHECK(a.sigma2 == b.sigma2);
}

static void test_errors_leave_state(void)
{
    bot4_garch g;
    double r[4] = {0.01, -0.02, NAN, 0.01}, out[4];
    int64_t bad = -1;
    CHECK(bot4_garch_init(&g, 1e-6, 0.1, 0.8, 1e-4) == BOT4_GARCH_OK);
    CHECK(bot4_garch_update(&g, NAN, NULL) == BOT4_GARCH_ERETURN);
    CHECK(bot4_garch_update(&g, INFINITY, NULL) == BOT4_GARCH_ERETURN);
    CHECK(bot4_garch_update(&g, 1e200, NULL) == BOT4_GARCH_ERETURN);
    CHECK(g.sigma2 == 1e-4);
    CHECK(bot4_garch_filter(&g, r, 4, out, &bad) == BOT4_GARCH_ERETURN);
    CHECK(bad == 2);
    CHECK(g.sigma2 == 1e-4);
    CHECK(bot4_garch_filter(&g, r, 0, out, &bad) == BOT4_GARCH_OK);
    CHECK(g.sigma2 == 1e-4);
}

static void test_forecast(void)
{
    bot4_garch g;
    double out[50];
    CHECK(bot4_garch_init(&g, 3e-6, 0.07, 0.9, 9e-5) == BOT4_GARCH_OK);
    CHECK(bot4_garch_forecast(&g, 0, out) == BOT4_GARCH_EHORIZON);
    CHECK(bot4_garch_forecast(&g, 50, out) == BOT4_GARCH_OK);
    /* iterate E[sigma2_{t+h}] = omega + (alpha + beta) * sigma2_{t+h-1} */
    double s = g.sigma2;
    double worst = 0.0;
    for (int h = 0; h < 50; h++) {
        double rel = fabs(out[h] - s) / s;
        if (rel > worst)
            worst = rel;
        s = g.omega + (g.alpha + g.beta) * s;
    }
    CHECK(worst < 1e-12);
    CHECK(out[0] == g.sigma2);
    double sbar = bot4_garch_unconditional(&g);
    CHECK(fabs(sbar - 3e-6 / 0.03) < 1e-15);
    /* far horizons approach the unconditional variance */
    double far[2000];
    CHECK(bot4_garch_forecast(&g, 2000, far) == BOT4_GARCH_OK);
    CHECK(fabs(far[1999] - sbar) / sbar < 1e-12);
}

int main(void)
{
    test_params();
    test_recursion_and_stream_equals_batch();
    test_errors_leave_state();
    test_forecast();
    printf("garch: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
