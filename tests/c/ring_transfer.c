/* ring_transfer.c - command-line front end to the ring_threads.h transfer checks, built
 * at -O3 (no sanitizers) by tests/test_ring.py to move millions of records between real
 * threads at full speed.
 *
 *   ring_transfer spsc N_ITEMS CAPACITY BATCH
 *   ring_transfer mpmc PRODUCERS CONSUMERS ITEMS_PER_PRODUCER CAPACITY BATCH
 *
 * Prints the report as one JSON object (with "ok": every item arrived exactly once and
 * in order). Exit status: 0 ok, 1 the check failed, 2 bad arguments or a failed start.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "ring_threads.h"

static int arg_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return 0;
    *out = v;
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: ring_transfer spsc N_ITEMS CAPACITY BATCH\n"
                    "       ring_transfer mpmc PRODUCERS CONSUMERS PER_PRODUCER CAPACITY BATCH\n");
    return 2;
}

int main(int argc, char **argv)
{
    uint64_t a[5];
    if (argc == 5 && strcmp(argv[1], "spsc") == 0) {
        for (int i = 0; i < 3; i++)
            if (!arg_u64(argv[2 + i], &a[i]))
                return usage();
        ring_spsc_report r;
        int st = ring_spsc_transfer(a[0], (size_t)a[1], (size_t)a[2], &r);
        if (st != BOT4_RING_OK) {
            fprintf(stderr, "ring_transfer: status %d\n", st);
            return 2;
        }
        int ok = r.sent == a[0] && r.received == a[0] && r.out_of_sequence == 0 &&
                 (a[0] == 0 || r.last_value == a[0] - 1);
        printf("{\"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", \"out_of_sequence\": %" PRIu64
               ", \"last_value\": %" PRIu64 ", \"producer_waits\": %" PRIu64
               ", \"consumer_waits\": %" PRIu64 ", \"elapsed_ns\": %" PRId64 ", \"ok\": %s}\n",
               r.sent, r.received, r.out_of_sequence, r.last_value, r.producer_waits,
               r.consumer_waits, r.elapsed_ns, ok ? "true" : "false");
        return ok ? 0 : 1;
    }
    if (argc == 7 && strcmp(argv[1], "mpmc") == 0) {
        for (int i = 0; i < 5; i++)
            if (!arg_u64(argv[2 + i], &a[i]))
                return usage();
        if (a[0] > 256 || a[1] > 256)
            return usage();
        ring_mpmc_report r;
        int st = ring_mpmc_transfer((unsigned)a[0], (unsigned)a[1], a[2], (size_t)a[3],
                                    (size_t)a[4], &r);
        if (st != BOT4_RING_OK) {
            fprintf(stderr, "ring_transfer: status %d\n", st);
            return 2;
        }
        int ok = r.sent == r.received && r.missing == 0 && r.duplicated == 0 &&
                 r.invalid == 0 && r.order_violations == 0;
        printf("{\"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", \"missing\": %" PRIu64
               ", \"duplicated\": %" PRIu64 ", \"invalid\": %" PRIu64
               ", \"order_violations\": %" PRIu64 ", \"elapsed_ns\": %" PRId64 ", \"ok\": %s}\n",
               r.sent, r.received, r.missing, r.duplicated, r.invalid, r.order_violations,
               r.elapsed_ns, ok ? "true" : "false");
        return ok ? 0 : 1;
    }
    return usage();
}
