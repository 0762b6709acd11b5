/* check.h - the assertion harness every C unit test (tests/c/test_*.c) shares.
 *
 * Each test is its own program, so the counters are file-static. CHECK counts a pass or
 * reports the failed condition with its file and line and keeps going, so one run lists
 * every failure. A test ends with a line "<name>: N passed, M failed" and exits non-zero
 * when M > 0. check_rand() is the tests' deterministic random source (Marsaglia's
 * xorshift64, shifts 13/7/17); a test may reseed check_rng.
 */
#ifndef BOT4_TEST_CHECK_H
#define BOT4_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int passed, failed;

static uint64_t check_rng = 88172645463325252ULL;

static inline uint64_t check_rand(void)
{
    check_rng ^= check_rng << 13;
    check_rng ^= check_rng >> 7;
    check_rng ^= check_rng << 17;
    return check_rng;
}

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            passed++;                                                                \
        } else {                                                                     \
            failed++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#endif
