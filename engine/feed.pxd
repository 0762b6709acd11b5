from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t
from engine.events cimport bot4_event


cdef extern from "feed_binance.h":
    enum:
        BOT4_FEED_OK
        BOT4_FEED_NEED_ROOM
        BOT4_FEED_EPARSE
        BOT4_FEED_EINVAL
        BOT4_FEED_ENOMEM
        BOT4_FEED_MAX_SCALE

    ctypedef struct bot4_feed_grid:
        int32_t price_scale
        int32_t qty_scale
        int64_t tick_units
        int64_t lot_units

    ctypedef struct bot4_feed_result:
        size_t offset
        int64_t line_no
        int64_t rows
        int64_t need_rows
        int64_t lines
        int64_t messages
        int64_t snapshots
        int64_t diffs
        int64_t trades
        int64_t quotes
        int64_t skipped
        int64_t err_line
        int64_t err_col
        char reason[192]

    void bot4_feed_result_init(bot4_feed_result *res) nogil
    int bot4_feed_grid_check(const bot4_feed_grid *grid) nogil
    int bot4_feed_binance_parse(const char *buf, size_t len, const bot4_feed_grid *grid,
                                bot4_event *out, int64_t out_cap, bot4_feed_result *res) nogil
    int bot4_feed_decimal_steps(const char *text, size_t n, int32_t scale, int64_t step_units,
                                int64_t *steps) nogil
