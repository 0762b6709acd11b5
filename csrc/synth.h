/* synth.h - seeded synthetic L2 market: snapshot, level updates and trades.
 *
 * Design: the generator owns an L2 book (book.h, the one book implementation) and emits
 * one message per step into the caller's EVENT rows, applying each level change to its
 * book as it emits it, so every row it writes is consistent with the book a consumer
 * rebuilds from the stream. A latent fair value follows a GARCH(1,1) process (Bollerslev
 * 1986): at a "news" step it moves by mu + sqrt(h)*z and h <- omega + alpha*(move-mu)^2 +
 * beta*h, which clusters volatility; z is a scale mixture of near-normals (Irwin-Hall of
 * 4 uniforms, times 3 with small probability) for heavy tails. Order flow per step:
 *   - a market order (Binance-style: one trade row per level taken, then one depth diff
 *     of the levels it changed), chasing the fair value when it is outside the touch, or
 *     random with Pareto-like size otherwise; it walks the book but never empties a side;
 *   - a limit order at a geometric distance from the fair value on its side, clipped so
 *     it never crosses (liquidity follows the fair value, so the spread is mostly one tick);
 *   - a cancel at a geometric distance from the touch (limit arrivals and cancels are
 *     concentrated near the touch), never taking a side below its minimum depth.
 * Regimes (bull, bear, sideways, crisis) set drift, GARCH parameters, flow mix, sizes and
 * arrival rate. Bids are only added below the best ask and asks above the best bid, and
 * market orders only remove, so the book never crosses. Diffs are numbered u = 1, 2, ...
 * after a snapshot with lastUpdateId 0 (U = u, spot rule), so a replay has no gaps.
 *
 * Determinism: the PRNG is xoshiro256** seeded through splitmix64 (Blackman & Vigna);
 * floating point uses only +, -, *, / and sqrt (IEEE-754 correctly rounded; C11 strict
 * mode, no FMA contraction), no libm, so the same (seed, regime, n) gives the same stream
 * on any x86-64 machine. The stream is a function of (seed, regime, n): the last few steps
 * before n rows are single-row messages so that exactly n rows are written.
 * Cost per step: O(1) book updates, plus O(levels walked) for a market order.
 */
#ifndef BOT4_SYNTH_H
#define BOT4_SYNTH_H

#include <stdint.h>

#include "book.h"
#include "events.h"

enum { BOT4_SYNTH_BULL = 0, BOT4_SYNTH_BEAR = 1, BOT4_SYNTH_SIDEWAYS = 2, BOT4_SYNTH_CRISIS = 3 };
enum { BOT4_SYNTH_OK = 0, BOT4_SYNTH_ENOMEM = -1, BOT4_SYNTH_EINVAL = -2 };

#define BOT4_SYNTH_SNAPSHOT_LEVELS 25 /* per side */
#define BOT4_SYNTH_SWEEP_MAX 8        /* levels a market order may take */
#define BOT4_SYNTH_MAX_MSG_ROWS (2 * BOT4_SYNTH_SWEEP_MAX)
#define BOT4_SYNTH_START_PRICE 3000000 /* ticks */
#define BOT4_SYNTH_START_NS 1700000000000000000LL

typedef struct bot4_synth_regime {
    double drift;        /* mean fair-value move per news step, ticks */
    double omega, alpha, beta; /* GARCH(1,1) on news moves, ticks^2 */
    double p_news;       /* probability a step moves the fair value */
    double p_market, p_limit; /* flow mix; cancel is the rest */
    double p_refill;     /* a spread wider than one tick is improved this step */
    double jump_p;       /* probability an innovation is scaled by 3 */
    int64_t limit_lots;  /* mean limit order size */
    int64_t market_lots; /* base market order size */
    int64_t dt_ns;       /* mean time between steps */
    int64_t min_levels;  /* depth kept per side */
} bot4_synth_regime;

typedef struct bot4_synth {
    uint64_t s[4];       /* xoshiro256** state */
    bot4_book book;
    bot4_synth_regime r;
    double fair, h;
    double dist_cdf[16]; /* geometric distance from the touch */
    int64_t ts, seq, trade_id, steps;
    int started;         /* snapshot emitted */
} bot4_synth;

/* Regime parameters; EINVAL for an unknown regime. */
int bot4_synth_regime_params(int regime, bot4_synth_regime *out);
int bot4_synth_init(bot4_synth *g, uint64_t seed, int regime);
void bot4_synth_free(bot4_synth *g);

/* Write exactly n rows (n >= 2 * SNAPSHOT_LEVELS on the first call, which starts with the
 * snapshot). Returns OK, EINVAL (n too small) or ENOMEM (book). */
int bot4_synth_generate(bot4_synth *g, bot4_event *out, int64_t n);

/* The PRNG alone (for tests of its reference values). */
void bot4_synth_seed(uint64_t s[4], uint64_t seed);
uint64_t bot4_synth_next(uint64_t s[4]);

#endif
