# distutils: sources = csrc/synth.c csrc/book.c
"""Seeded synthetic L2 market over csrc/synth.c (design, regimes and determinism rules in
csrc/synth.h): the embedded default data source, so the engine runs with no data at hand.
"""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t

from engine.book cimport bot4_event

from engine.events import EVENT_DTYPE

cnp.import_array()

cdef extern from "clock.h":
    int64_t bot4_now_ns() nogil

REGIMES = {"bull": BOT4_SYNTH_BULL, "bear": BOT4_SYNTH_BEAR, "sideways": BOT4_SYNTH_SIDEWAYS,
           "crisis": BOT4_SYNTH_CRISIS}
MIN_EVENTS = 2 * BOT4_SYNTH_SNAPSHOT_LEVELS
MAX_EVENTS = 1 << 31

# The synthetic instrument's spec (decimal text; bot.data.synthetic makes it an Instrument):
# BTC-like tick and lot; the stream starts at 30000.00.
SPEC = {"venue": "synthetic", "symbol": "SYNTH-USD", "tick_size": "0.01", "lot_size": "0.001",
        "min_notional": "5"}


def generate(n_events, seed=0, regime="sideways"):
    """Exactly `n_events` EVENT_DTYPE rows (a snapshot, then level
    diffs and trades) from `seed` (0 <= seed < 2^64) in `regime` (bull|bear|sideways|crisis).
    Same arguments, same rows, on any machine."""
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)):
        raise TypeError(f"n_events must be an int, got {type(n_events).__name__}")
    if not MIN_EVENTS <= n_events <= MAX_EVENTS:
        raise ValueError(f"n_events must be in [{MIN_EVENTS}, {MAX_EVENTS}], got {n_events}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 1 << 64:
        raise ValueError(f"seed must be an int in [0, 2^64), got {seed!r}")
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {', '.join(REGIMES)}, got {regime!r}")
    ev = np.empty(int(n_events), dtype=EVENT_DTYPE)
    cdef unsigned char[::1] raw = ev.view(np.uint8)
    cdef bot4_synth g
    cdef int rc
    cdef int64_t n = n_events
    if bot4_synth_init(&g, <uint64_t>int(seed), REGIMES[regime]) != BOT4_SYNTH_OK:
        raise MemoryError("bot4_synth_init failed")
    try:
        with nogil:
            rc = bot4_synth_generate(&g, <bot4_event *>&raw[0], n)
    finally:
        bot4_synth_free(&g)
    if rc != BOT4_SYNTH_OK:
        raise MemoryError(f"bot4_synth_generate failed ({rc})")
    return ev


def prng(seed, int n):
    """The first n outputs of the generator's xoshiro256** PRNG seeded by splitmix64."""
    cdef uint64_t s[4]
    bot4_synth_seed(s, <uint64_t>int(seed))
    out = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] o = out
    cdef int i
    for i in range(n):
        o[i] = bot4_synth_next(s)
    return out


def perf_stages(int samples):
    """{"synth.event": ...}: one sample generates a batch of 256 rows (on one generator,
    continuing its stream) and divides the time by 256; `samples` batches are timed."""
    cdef int64_t batch = 256, s, t0, t1, total = 0
    ev = np.empty(batch, dtype=EVENT_DTYPE)
    cdef unsigned char[::1] raw = ev.view(np.uint8)
    lat = np.empty(samples, dtype=np.float64)
    cdef double[::1] lo = lat
    cdef bot4_synth g
    if bot4_synth_init(&g, 1, BOT4_SYNTH_SIDEWAYS) != BOT4_SYNTH_OK:
        raise MemoryError("bot4_synth_init failed")
    try:
        with nogil:
            for s in range(samples):
                t0 = bot4_now_ns()
                bot4_synth_generate(&g, <bot4_event *>&raw[0], batch)
                t1 = bot4_now_ns()
                lo[s] = <double>(t1 - t0) / batch
                total += t1 - t0
    finally:
        bot4_synth_free(&g)
    return {"synth.event": {"latency_ns": lat, "ops_per_sample": int(batch),
                            "throughput_per_s": samples * batch / (total * 1e-9)}}
