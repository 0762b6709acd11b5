/* garch_bench.c - cost of one online GARCH(1,1) update (csrc/garch.c), built at the
 * extension's flags and run by bench/bench_garch.py.
 *
 *   garch_bench RETURNS_FILE OMEGA ALPHA BETA SIGMA2 ROUNDS
 *
 * RETURNS_FILE holds the demeaned returns as raw little-endian float64. One filter starts
 * from (OMEGA, ALPHA, BETA, SIGMA2); each round feeds it every return with
 * bot4_garch_update in a loop (the state carries over from round to round) and prints
 * one JSON line: {"elapsed_ns": wall time of the loop, "cpu_ns": this thread's CPU time,
 * "checksum": the bits of sigma2 after the round (the same as GarchFilter.filter run
 * over the returns as many times)}.
 * Exit status 0, or 2 on bad arguments, an unreadable file or a rejected update.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_main.h"
#include "clock.h"
#include "garch.h"

static int arg_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return 0;
    *out = strtod(s, &end);
    return !*end;
}

/* The file's float64 values in a new array, *n of them; NULL on failure. */
static double *read_returns(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    double *r = NULL;
    long bytes = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        bytes = ftell(f);
    if (bytes > 0 && bytes % (long)sizeof(double) == 0 && fseek(f, 0, SEEK_SET) == 0) {
        *n = (size_t)bytes / sizeof(double);
        r = malloc((size_t)bytes);
        if (r && fread(r, sizeof(double), *n, f) != *n) {
            free(r);
            r = NULL;
        }
    }
    fclose(f);
    return r;
}

int main(int argc, char **argv)
{
    double omega, alpha, beta, sigma2;
    uint64_t rounds;
    if (argc != 7 || !arg_double(argv[2], &omega) || !arg_double(argv[3], &alpha) ||
        !arg_double(argv[4], &beta) || !arg_double(argv[5], &sigma2) ||
        !arg_u64(argv[6], &rounds)) {
        fprintf(stderr, "usage: garch_bench RETURNS_FILE OMEGA ALPHA BETA SIGMA2 ROUNDS\n");
        return 2;
    }
    bot4_garch g;
    int st = bot4_garch_init(&g, omega, alpha, beta, sigma2);
    if (st != BOT4_GARCH_OK) {
        fprintf(stderr, "garch_bench: bad parameters (status %d)\n", st);
        return 2;
    }
    size_t n = 0;
    double *r = read_returns(argv[1], &n);
    if (!r) {
        fprintf(stderr, "garch_bench: cannot read %s as float64 values\n", argv[1]);
        return 2;
    }
    int rc = 0;
    for (uint64_t k = 0; k < rounds && rc == 0; k++) {
        int bad = 0;
        double s;
        int64_t t0 = bot4_now_ns(), c0 = bot4_thread_cpu_ns();
        for (size_t i = 0; i < n; i++)
            bad |= bot4_garch_update(&g, r[i], &s);
        round_result res = {bot4_now_ns() - t0, bot4_thread_cpu_ns() - c0, 0};
        if (bad) {
            fprintf(stderr, "garch_bench: a return was rejected\n");
            rc = 2;
            break;
        }
        memcpy(&res.checksum, &g.sigma2, sizeof res.checksum);
        print_round(&res);
    }
    free(r);
    return rc;
}
