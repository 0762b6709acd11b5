# The event row of csrc/events.h, declared once for every engine module that reads or
# writes event arrays (engine.events.EVENT_DTYPE is the same layout on the numpy side).
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t


cdef extern from "events.h":
    ctypedef struct bot4_event:
        int64_t ts_exch
        int64_t ts_local
        int64_t price
        int64_t qty
        int64_t seq_first
        int64_t seq_last
        int64_t seq_prev
        uint8_t kind
        uint8_t side
        uint16_t flags
        uint32_t reserved
