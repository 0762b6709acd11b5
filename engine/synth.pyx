# distutils: sources = csrc/synth.c csrc/book.c
"""Seeded synthetic L2 market over csrc/synth.c (design, regimes and determinism rules in
csrc/synth.h): the embedded default data source, so the engine runs with no data at hand.
"""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t

from engine.args cimport check_choice, check_int
from engine.book cimport bot4_event

from engine.events import EVENT_DTYPE

cnp.import_array()

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
    n_events = check_int(n_events, "n_events", MIN_EVENTS, MAX_EVENTS)
    seed = check_int(seed, "seed", 0, (1 << 64) - 1, ValueError)
    cdef int reg = check_choice(REGIMES, "regime", regime)
    ev = np.empty(int(n_events), dtype=EVENT_DTYPE)
    cdef unsigned char[::1] raw = ev.view(np.uint8)
    cdef bot4_synth g
    cdef int rc
    cdef int64_t n = n_events
    if bot4_synth_init(&g, <uint64_t>seed, reg) != BOT4_SYNTH_OK:
        raise MemoryError("bot4_synth_init failed")
    try:
        with nogil:
            rc = bot4_synth_generate(&g, <bot4_event *>&raw[0], n)
    finally:
        bot4_synth_free(&g)
    if rc != BOT4_SYNTH_OK:
        raise MemoryError(f"bot4_synth_generate failed ({rc})")
    return ev


def prng(seed, n):
    """The first n outputs of the generator's xoshiro256** PRNG seeded by splitmix64."""
    cdef uint64_t s[4]
    cdef int64_t count = check_int(n, "n", 0, MAX_EVENTS)
    bot4_synth_seed(s, <uint64_t>check_int(seed, "seed", 0, (1 << 64) - 1, ValueError))
    out = np.empty(count, dtype=np.uint64)
    cdef uint64_t[::1] o = out
    cdef int64_t i
    for i in range(count):
        o[i] = bot4_synth_next(s)
    return out
