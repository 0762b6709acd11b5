/* pool_bench.c - acquire+release throughput of csrc/pool.c, built at the extension's flags
 * and run by bench/bench_pool.py.
 *
 *   pool_bench N OUTSTANDING ROUNDS
 *
 * Each round makes N acquire+release pairs on a fresh pool of 4096 slots of 64 bytes,
 * through the single-slot calls bot4_pool_acquire and bot4_pool_release: OUTSTANDING
 * slots are acquired, then released in acquisition order (so beyond 1 the free list is
 * reordered, not just popped and pushed at its head), until N pairs are done. It prints
 * one JSON line: {"elapsed_ns": wall time, "cpu_ns": this thread's CPU time (the machine
 * is shared), "checksum": the sum of the acquired indices}. OUTSTANDING: 1..4096.
 * Exit status 0, or 2 on bad arguments, a failed allocation or a call that failed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_main.h"
#include "clock.h"
#include "pool.h"

enum { CAPACITY = 4096, SLOT = 64 };

static int pool_round(uint64_t n, size_t outstanding, uint32_t *held, round_result *out)
{
    bot4_pool *p;
    if (bot4_pool_create(&p, CAPACITY, SLOT) != BOT4_POOL_OK)
        return 0;
    uint64_t sum = 0, done = 0;
    int bad = 0;
    int64_t t0 = bot4_now_ns(), c0 = bot4_thread_cpu_ns();
    while (done < n) {
        size_t k = n - done < outstanding ? (size_t)(n - done) : outstanding;
        for (size_t i = 0; i < k; i++) {
            bad |= bot4_pool_acquire(p, &held[i]);
            sum += held[i];
        }
        for (size_t i = 0; i < k; i++)
            bad |= bot4_pool_release(p, held[i]);
        done += k;
    }
    out->elapsed_ns = bot4_now_ns() - t0;
    out->cpu_ns = bot4_thread_cpu_ns() - c0;
    out->checksum = sum;
    bot4_pool_destroy(p);
    return !bad;
}

int main(int argc, char **argv)
{
    uint64_t n, outstanding, rounds;
    if (argc != 4 || !arg_u64(argv[1], &n) || !arg_u64(argv[2], &outstanding) ||
        !arg_u64(argv[3], &rounds) || outstanding == 0 || outstanding > CAPACITY) {
        fprintf(stderr, "usage: pool_bench N OUTSTANDING(1..%d) ROUNDS\n", CAPACITY);
        return 2;
    }
    uint32_t *held = malloc(outstanding * sizeof *held);
    if (!held) {
        fprintf(stderr, "pool_bench: cannot allocate\n");
        return 2;
    }
    int rc = 0;
    for (uint64_t i = 0; i < rounds; i++) {
        round_result res;
        if (!pool_round(n, (size_t)outstanding, held, &res)) {
            fprintf(stderr, "pool_bench: pool creation or an acquire/release failed\n");
            rc = 2;
            break;
        }
        print_round(&res);
    }
    free(held);
    return rc;
}
