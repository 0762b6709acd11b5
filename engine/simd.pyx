# distutils: sources = csrc/simd.c
"""SIMD path selection, made once at import.

The level comes from CPUID/XGETBV, or from ``BOT4_SIMD=scalar|avx2|avx512``. Forcing a
level the machine cannot run is an error, never a silent fallback. Kernel families read
:data:`LEVEL` (an int) at their own import and set their dispatch tables from it.
"""

import os

from engine.simd cimport (
    bot4_cpu_detect, bot4_cpu_features, bot4_simd_best, bot4_simd_level, bot4_simd_name,
    bot4_simd_parse, bot4_simd_supported,
)

LEVELS = ("scalar", "avx2", "avx512")


class SimdUnsupportedError(RuntimeError):
    """BOT4_SIMD names a path this machine cannot run, or no path at all."""


cdef bot4_cpu_features _features


def cpu_features():
    """What the CPU and OS support, as a dict of flag name -> bool."""
    return {k: bool(v) for k, v in (<dict>_features).items()}


def supported(str name):
    """True if the named path can run here."""
    cdef bot4_simd_level lvl
    if bot4_simd_parse(name.encode(), &lvl) != 0:
        raise ValueError(f"unknown SIMD level {name!r}; expected one of {', '.join(LEVELS)}")
    return bool(bot4_simd_supported(&_features, lvl))


def best():
    """The best path this machine can run."""
    return bot4_simd_name(bot4_simd_best(&_features)).decode()


def level_code(str name):
    """The C enum value for a level name (what *_dispatch_init() takes)."""
    cdef bot4_simd_level lvl
    if bot4_simd_parse(name.encode(), &lvl) != 0:
        raise ValueError(f"unknown SIMD level {name!r}; expected one of {', '.join(LEVELS)}")
    return int(lvl)


def _choose():
    forced = os.environ.get("BOT4_SIMD", "").strip()
    if not forced:
        return best()
    if forced not in LEVELS:
        raise SimdUnsupportedError(
            f"BOT4_SIMD={forced!r} is not a SIMD level; expected one of {', '.join(LEVELS)}")
    if not supported(forced):
        raise SimdUnsupportedError(
            f"BOT4_SIMD={forced!r} but this CPU/OS does not support it (best here: {best()})")
    return forced


bot4_cpu_detect(&_features)
NAME = _choose()
LEVEL = level_code(NAME)


def simd_level():
    """The SIMD path in use: 'scalar', 'avx2' or 'avx512'."""
    return NAME
