cdef extern from "simd.h":
    ctypedef enum bot4_simd_level:
        BOT4_SIMD_SCALAR
        BOT4_SIMD_AVX2
        BOT4_SIMD_AVX512

    ctypedef struct bot4_cpu_features:
        int sse42
        int avx
        int avx2
        int bmi2
        int popcnt
        int avx512f
        int avx512bw
        int avx512dq
        int avx512vl
        int os_ymm
        int os_zmm

    void bot4_cpu_detect(bot4_cpu_features *out)
    bot4_simd_level bot4_simd_best(const bot4_cpu_features *f)
    int bot4_simd_supported(const bot4_cpu_features *f, bot4_simd_level level)
    int bot4_simd_parse(const char *name, bot4_simd_level *out)
    const char *bot4_simd_name(bot4_simd_level level)
