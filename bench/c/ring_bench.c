/* ring_bench.c - one-thread throughput of csrc/ring.c, built at the extension's flags and
 * run by bench/bench_ring.py.
 *
 *   ring_bench spsc|mpmc N BATCH ROUNDS
 *
 * Each round pushes BATCH 8-byte records into a 4096-record ring (SPSC ring or MPMC queue)
 * and pops them back, until N records have made the round trip, and prints one JSON line:
 * {"elapsed_ns": wall time, "cpu_ns": this thread's CPU time (the machine is shared: CPU
 * time leaves out time spent descheduled), "checksum": the sum of the first and last
 * popped value of each batch (so the work is observable)}. BATCH: 1..4096.
 * Exit status 0, or 2 on bad arguments or a failed allocation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_main.h"
#include "clock.h"
#include "ring.h"

enum { RING = 4096 };

static int spsc_round(bot4_ring_spsc *r, uint64_t n, size_t batch, const uint64_t *src,
                      uint64_t *dst, round_result *out)
{
    uint64_t sum = 0, done = 0;
    int64_t t0 = bot4_now_ns(), c0 = bot4_thread_cpu_ns();
    while (done < n) {
        size_t k = n - done < batch ? (size_t)(n - done) : batch;
        size_t pushed = bot4_ring_spsc_push_n(r, src, k);
        size_t popped = bot4_ring_spsc_pop_n(r, dst, pushed);
        if (popped == 0)
            return 0; /* cannot happen: the ring is drained every batch */
        sum += dst[0] + dst[popped - 1];
        done += popped;
    }
    out->elapsed_ns = bot4_now_ns() - t0;
    out->cpu_ns = bot4_thread_cpu_ns() - c0;
    out->checksum = sum;
    return 1;
}

static int mpmc_round(bot4_ring_mpmc *q, uint64_t n, size_t batch, const uint64_t *src,
                      uint64_t *dst, round_result *out)
{
    uint64_t sum = 0, done = 0;
    int64_t t0 = bot4_now_ns(), c0 = bot4_thread_cpu_ns();
    while (done < n) {
        size_t k = n - done < batch ? (size_t)(n - done) : batch;
        size_t pushed = bot4_ring_mpmc_push_n(q, src, k);
        size_t popped = bot4_ring_mpmc_pop_n(q, dst, pushed);
        if (popped == 0)
            return 0; /* cannot happen: the queue is drained every batch */
        sum += dst[0] + dst[popped - 1];
        done += popped;
    }
    out->elapsed_ns = bot4_now_ns() - t0;
    out->cpu_ns = bot4_thread_cpu_ns() - c0;
    out->checksum = sum;
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t n, batch, rounds;
    int spsc = argc == 5 && strcmp(argv[1], "spsc") == 0;
    int mpmc = argc == 5 && strcmp(argv[1], "mpmc") == 0;
    if (!(spsc || mpmc) || !arg_u64(argv[2], &n) || !arg_u64(argv[3], &batch) ||
        !arg_u64(argv[4], &rounds) || n == 0 || batch == 0 || batch > RING) {
        fprintf(stderr, "usage: ring_bench spsc|mpmc N BATCH(1..%d) ROUNDS\n", RING);
        return 2;
    }
    bot4_ring_spsc *r = NULL;
    bot4_ring_mpmc *q = NULL;
    uint64_t *src = malloc(batch * sizeof *src), *dst = malloc(batch * sizeof *dst);
    int st = spsc ? bot4_ring_spsc_create(&r, RING, sizeof(uint64_t), 0)
                  : bot4_ring_mpmc_create(&q, RING, sizeof(uint64_t));
    int rc = 0;
    if (!src || !dst || st != BOT4_RING_OK) {
        fprintf(stderr, "ring_bench: cannot allocate (status %d)\n", st);
        rc = 2;
        goto out;
    }
    for (size_t i = 0; i < batch; i++)
        src[i] = i;
    for (uint64_t i = 0; i < rounds; i++) {
        round_result res;
        int ok = spsc ? spsc_round(r, n, (size_t)batch, src, dst, &res)
                      : mpmc_round(q, n, (size_t)batch, src, dst, &res);
        if (!ok) {
            fprintf(stderr, "ring_bench: a batch popped nothing\n");
            rc = 2;
            goto out;
        }
        print_round(&res);
    }
out:
    bot4_ring_spsc_destroy(r);
    bot4_ring_mpmc_destroy(q);
    free(src);
    free(dst);
    return rc;
}
