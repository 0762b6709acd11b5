/* simd.c - CPUID/XGETBV feature detection; see simd.h for the design. */
#include "simd.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    /* xgetbv with ecx=0; encoded as bytes so no -mxsave is needed. */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void bot4_cpu_detect(bot4_cpu_features *out)
{
    unsigned int a, b, c, d;
    memset(out, 0, sizeof(*out));
    unsigned int max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 1) return;
    __cpuid(1, a, b, c, d);
    out->sse42 = (c >> 20) & 1;
    out->popcnt = (c >> 23) & 1;
    int osxsave = (c >> 27) & 1;
    int cpu_avx = (c >> 28) & 1;
    if (osxsave) {
        uint64_t xcr0 = read_xcr0();
        out->os_ymm = (xcr0 & 0x6) == 0x6;            /* XMM | YMM */
        out->os_zmm = out->os_ymm && (xcr0 & 0xe0) == 0xe0; /* opmask | ZMM_Hi256 | Hi16_ZMM */
    }
    out->avx = cpu_avx && out->os_ymm;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        out->avx2 = ((b >> 5) & 1) && out->avx;
        out->bmi2 = (b >> 8) & 1;
        out->avx512f = ((b >> 16) & 1) && out->os_zmm;
        out->avx512dq = ((b >> 17) & 1) && out->os_zmm;
        out->avx512bw = ((b >> 30) & 1) && out->os_zmm;
        out->avx512vl = ((b >> 31) & 1) && out->os_zmm;
    }
}
#else
void bot4_cpu_detect(bot4_cpu_features *out) { memset(out, 0, sizeof(*out)); }
#endif

int bot4_simd_supported(const bot4_cpu_features *f, bot4_simd_level level)
{
    switch (level) {
    case BOT4_SIMD_SCALAR: return 1;
    case BOT4_SIMD_AVX2: return f->avx2 && f->bmi2 && f->popcnt;
    case BOT4_SIMD_AVX512:
        return f->avx512f && f->avx512bw && f->avx512dq && f->avx512vl && f->bmi2 && f->popcnt;
    }
    return 0;
}

bot4_simd_level bot4_simd_best(const bot4_cpu_features *f)
{
    if (bot4_simd_supported(f, BOT4_SIMD_AVX512)) return BOT4_SIMD_AVX512;
    if (bot4_simd_supported(f, BOT4_SIMD_AVX2)) return BOT4_SIMD_AVX2;
    return BOT4_SIMD_SCALAR;
}

int bot4_simd_parse(const char *name, bot4_simd_level *out)
{
    if (strcmp(name, "scalar") == 0) { *out = BOT4_SIMD_SCALAR; return 0; }
    if (strcmp(name, "avx2") == 0) { *out = BOT4_SIMD_AVX2; return 0; }
    if (strcmp(name, "avx512") == 0) { *out = BOT4_SIMD_AVX512; return 0; }
    return -1;
}

const char *bot4_simd_name(bot4_simd_level level)
{
    switch (level) {
    case BOT4_SIMD_SCALAR: return "scalar";
    case BOT4_SIMD_AVX2: return "avx2";
    case BOT4_SIMD_AVX512: return "avx512";
    }
    return "unknown";
}
