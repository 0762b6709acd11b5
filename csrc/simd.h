/* simd.h - CPU feature detection and the process-wide choice of SIMD path.
 *
 * Design: detection reads CPUID leaves 1 and 7 and, where the CPU advertises OSXSAVE,
 * XGETBV(0) to confirm the OS saves the YMM (AVX/AVX2) and opmask/ZMM (AVX-512) state.
 * A path is usable only if both the CPU and the OS support it. The choice is made once
 * (engine.simd at import) and handed to each kernel family's *_dispatch_init(); kernels
 * never re-detect. Every AVX2/AVX-512 body is compiled with function-level target
 * attributes, so the same binary runs on CPUs without them.
 * Cost: detection is a handful of CPUID instructions, run once.
 */
#ifndef BOT4_SIMD_H
#define BOT4_SIMD_H

#include <stddef.h>
#include <stdint.h>

typedef enum bot4_simd_level {
    BOT4_SIMD_SCALAR = 0,
    BOT4_SIMD_AVX2 = 2,
    BOT4_SIMD_AVX512 = 3,
} bot4_simd_level;

typedef struct bot4_cpu_features {
    int sse42;
    int avx;
    int avx2;
    int bmi2;
    int popcnt;
    int avx512f;
    int avx512bw;
    int avx512dq;
    int avx512vl;
    int os_ymm;  /* XCR0 says the OS saves SSE+AVX state */
    int os_zmm;  /* XCR0 says the OS saves opmask + ZMM state */
} bot4_cpu_features;

/* Fill *out with what the CPU and OS support. Always succeeds (zeros off x86-64). */
void bot4_cpu_detect(bot4_cpu_features *out);

/* The best level usable on this machine. */
bot4_simd_level bot4_simd_best(const bot4_cpu_features *f);

/* 1 if `level` can run on this machine, else 0. */
int bot4_simd_supported(const bot4_cpu_features *f, bot4_simd_level level);

/* Parse "scalar" | "avx2" | "avx512" into *out. Returns 0, or -1 for an unknown name. */
int bot4_simd_parse(const char *name, bot4_simd_level *out);

const char *bot4_simd_name(bot4_simd_level level);

#endif
