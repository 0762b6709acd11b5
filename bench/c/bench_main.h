/* bench_main.h - what the C benchmark programs in bench/c/ share: parsing a decimal
 * count from argv and printing one round's figures as a JSON line.
 */
#ifndef BOT4_BENCH_MAIN_H
#define BOT4_BENCH_MAIN_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* *out = s as an unsigned decimal; 0 (and *out untouched) unless s is all digits. */
static int arg_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return 0;
    *out = v;
    return 1;
}

/* One round: wall and thread-CPU nanoseconds, and a checksum that keeps the work
 * observable (so the compiler cannot drop it). */
typedef struct round_result {
    int64_t elapsed_ns, cpu_ns;
    uint64_t checksum;
} round_result;

static void print_round(const round_result *r)
{
    printf("{\"elapsed_ns\": %" PRId64 ", \"cpu_ns\": %" PRId64 ", \"checksum\": %" PRIu64 "}\n",
           r->elapsed_ns, r->cpu_ns, r->checksum);
    fflush(stdout);
}

#endif
