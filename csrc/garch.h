/* garch.h - online GARCH(1,1) conditional-variance filter and closed-form forecasts.
 *
 * Design. A bot4_garch holds the fitted parameters (omega, alpha, beta) and one number of
 * state, `sigma2`: the conditional variance of the NEXT return given everything seen so
 * far (sigma2_{t+1|t}). Observing a return r_t moves it by the GARCH(1,1) recursion
 * (Bollerslev 1986, "Generalized autoregressive conditional heteroskedasticity", J. of
 * Econometrics 31, eq. 2 with p = q = 1):
 *
 *     sigma2_{t+1} = omega + alpha * r_t^2 + beta * sigma2_t
 *
 * r_t is the demeaned return (the caller subtracts the mean model's mu). The batch filter
 * writes, for each return, the variance that was in force BEFORE it arrived (out[t] =
 * sigma2_{t|t-1}, what `arch` reports as conditional_volatility^2), so streaming updates
 * and the batch produce the same bits: out[t+1] == value returned by update(r[t]).
 *
 * The h-step forecast (h >= 1, h = 1 is the current state) is the closed form of iterating
 * E[r^2] = sigma2 forward, with persistence p = alpha + beta:
 *
 *     sigma2_{t+h|t} = omega * (1 - p^(h-1)) / (1 - p) + p^(h-1) * sigma2_{t+1|t}
 *
 * Invariants: omega > 0, alpha >= 0, beta >= 0, alpha + beta < 1 (covariance
 * stationarity), all finite; sigma2 > 0 and finite. Every entry point validates what it is
 * given and returns a status; on error the state is unchanged. Nothing allocates, prints
 * or aborts.
 * Cost: update O(1) (two multiply-adds and a finiteness test); batch O(n), no allocation;
 * forecast O(1) per horizon (one pow()).
 */
#ifndef BOT4_GARCH_H
#define BOT4_GARCH_H

#include <stdint.h>

#define BOT4_GARCH_OK 0
#define BOT4_GARCH_EOMEGA (-1)       /* omega not finite or <= 0 */
#define BOT4_GARCH_EALPHA (-2)       /* alpha not finite or < 0 */
#define BOT4_GARCH_EBETA (-3)        /* beta not finite or < 0 */
#define BOT4_GARCH_ENONSTATIONARY (-4) /* alpha + beta >= 1 */
#define BOT4_GARCH_ESIGMA2 (-5)      /* variance not finite or <= 0 */
#define BOT4_GARCH_ERETURN (-6)      /* a return is not finite */
#define BOT4_GARCH_EHORIZON (-7)     /* horizon < 1 */

typedef struct bot4_garch {
    double omega;
    double alpha;
    double beta;
    double sigma2; /* variance of the next return */
} bot4_garch;

/* Status of a parameter set (BOT4_GARCH_OK or the first failing check). */
int bot4_garch_check_params(double omega, double alpha, double beta);

/* Initialise g with the parameters and the variance of the first return to come. */
int bot4_garch_init(bot4_garch *g, double omega, double alpha, double beta, double sigma2);

/* Observe one demeaned return; *sigma2_next (may be NULL) gets the new state. */
int bot4_garch_update(bot4_garch *g, double r, double *sigma2_next);

/* Filter n returns: out[t] = variance in force before r[t]. On success g->sigma2 is the
 * variance of the return after r[n-1]. A non-finite r[i] stops the filter with
 * BOT4_GARCH_ERETURN, *bad_index = i (if not NULL) and g unchanged (out[0..i-1] written). */
int bot4_garch_filter(bot4_garch *g, const double *r, int64_t n, double *out, int64_t *bad_index);

/* sigma2_{t+h|t} for h = 1..H into out[0..H-1] (out[0] = g->sigma2). */
int bot4_garch_forecast(const bot4_garch *g, int64_t horizons, double *out);

/* The unconditional variance omega / (1 - alpha - beta). */
double bot4_garch_unconditional(const bot4_garch *g);

#endif
