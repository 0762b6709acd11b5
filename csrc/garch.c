/* garch.c - GARCH(1,1) variance filter; design, invariants and costs in garch.h.
 *
 * The update is written as omega + alpha*r*r + beta*s in that order in both update and
 * filter so the two paths round identically (streaming == batch, bit for bit).
 */
#include "garch.h"

#include <math.h>

int bot4_garch_check_params(double omega, double alpha, double beta)
{
    if (!isfinite(omega) || !(omega > 0.0))
        return BOT4_GARCH_EOMEGA;
    if (!isfinite(alpha) || !(alpha >= 0.0))
        return BOT4_GARCH_EALPHA;
    if (!isfinite(beta) || !(beta >= 0.0))
        return BOT4_GARCH_EBETA;
    if (!(alpha + beta < 1.0))
        return BOT4_GARCH_ENONSTATIONARY;
    return BOT4_GARCH_OK;
}

int bot4_garch_init(bot4_garch *g, double omega, double alpha, double beta, double sigma2)
{
    int rc = bot4_garch_check_params(omega, alpha, beta);
    if (rc != BOT4_GARCH_OK)
        return rc;
    if (!isfinite(sigma2) || !(sigma2 > 0.0))
        return BOT4_GARCH_ESIGMA2;
    g->omega = omega;
    g->alpha = alpha;
    g->beta = beta;
    g->sigma2 = sigma2;
    return BOT4_GARCH_OK;
}

static inline double step(const bot4_garch *g, double s, double r)
{
    return g->omega + g->alpha * (r * r) + g->beta * s;
}

int bot4_garch_update(bot4_garch *g, double r, double *sigma2_next)
{
    if (!isfinite(r))
        return BOT4_GARCH_ERETURN;
    double s = step(g, g->sigma2, r);
    /* A finite r can still overflow r*r (|r| > ~1e154): refuse rather than store inf. */
    if (!isfinite(s))
        return BOT4_GARCH_ERETURN;
    g->sigma2 = s;
    if (sigma2_next)
        *sigma2_next = s;
    return BOT4_GARCH_OK;
}

int bot4_garch_filter(bot4_garch *g, const double *r, int64_t n, double *out, int64_t *bad_index)
{
    double s = g->sigma2;
    for (int64_t i = 0; i < n; i++) {
        out[i] = s;
        double next = step(g, s, r[i]);
        if (!isfinite(r[i]) || !isfinite(next)) {
            if (bad_index)
                *bad_index = i;
            return BOT4_GARCH_ERETURN;
        }
        s = next;
    }
    g->sigma2 = s;
    return BOT4_GARCH_OK;
}

int bot4_garch_forecast(const bot4_garch *g, int64_t horizons, double *out)
{
    if (horizons < 1)
        return BOT4_GARCH_EHORIZON;
    double p = g->alpha + g->beta;
    double sbar = g->omega / (1.0 - p);
    for (int64_t h = 1; h <= horizons; h++) {
        /* omega*(1-p^(h-1))/(1-p) + p^(h-1)*s == sbar + p^(h-1)*(s - sbar) */
        double ph = pow(p, (double)(h - 1));
        out[h - 1] = sbar + ph * (g->sigma2 - sbar);
    }
    return BOT4_GARCH_OK;
}

double bot4_garch_unconditional(const bot4_garch *g)
{
    return g->omega / (1.0 - (g->alpha + g->beta));
}
