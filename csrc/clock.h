/* clock.h - monotonic nanosecond clock for latency sampling (perf-manifest, benches).
 * clock_gettime(CLOCK_MONOTONIC) through the vDSO: ~20 ns a call, no syscall. Samplers
 * time a small batch of operations per sample and divide, so the clock's own cost is
 * amortized; they say in their docstring how many operations one sample covers.
 */
#ifndef BOT4_CLOCK_H
#define BOT4_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t bot4_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CPU time this thread has used: benches report it beside wall time, since on a shared
 * machine wall time also counts the time other processes held the core. */
static inline int64_t bot4_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif
