from libc.stdint cimport int64_t, uint64_t

from engine.book cimport bot4_book, bot4_event


cdef extern from "synth.h":
    enum:
        BOT4_SYNTH_BULL
        BOT4_SYNTH_BEAR
        BOT4_SYNTH_SIDEWAYS
        BOT4_SYNTH_CRISIS
        BOT4_SYNTH_OK
        BOT4_SYNTH_ENOMEM
        BOT4_SYNTH_EINVAL
        BOT4_SYNTH_SNAPSHOT_LEVELS

    ctypedef struct bot4_synth:
        int64_t steps
        int64_t seq
        int64_t trade_id

    int bot4_synth_init(bot4_synth *g, uint64_t seed, int regime) nogil
    void bot4_synth_free(bot4_synth *g) nogil
    int bot4_synth_generate(bot4_synth *g, bot4_event *out, int64_t n) nogil
    void bot4_synth_seed(uint64_t s[4], uint64_t seed) nogil
    uint64_t bot4_synth_next(uint64_t s[4]) nogil
