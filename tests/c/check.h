/* check.h - the assertion harness every C unit test (tests/c/test_*.c) shares.
 *
 * Each test is its own program, so the counters are file-static. CHECK counts a pass or
 * reports the failed condition with its file and line and keeps going, so one run lists
 * every failure. A test ends with a line "<name>: N passed, M failed" and exits non-zero
 * when M > 0.
 */
#ifndef BOT4_TEST_CHECK_H
#define BOT4_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

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
