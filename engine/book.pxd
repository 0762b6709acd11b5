from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from engine.events cimport bot4_event


cdef extern from "book.h":
    enum:
        BOT4_BOOK_OK
        BOT4_BOOK_ENOMEM
        BOT4_BOOK_EINVAL
        BOT4_BOOK_WAIT_SNAPSHOT
        BOT4_BOOK_SYNCING
        BOT4_BOOK_LIVE
        BOT4_BOOK_SEQ_AUTO
        BOT4_BOOK_SEQ_SPOT
        BOT4_BOOK_SEQ_FUTURES

    int64_t BOT4_BOOK_PRICE_MAX
    int64_t BOT4_BOOK_WINDOW_MIN
    int64_t BOT4_BOOK_WINDOW_MAX
    int64_t BOT4_BOOK_WINDOW_DEFAULT
    int64_t BOT4_BOOK_PENDING_DEFAULT

    ctypedef struct bot4_book_stats:
        int64_t rows
        int64_t level_updates
        int64_t snapshots
        int64_t diffs_applied
        int64_t diffs_stale
        int64_t diffs_buffered
        int64_t diffs_buffer_dropped
        int64_t diffs_no_snapshot
        int64_t gaps
        int64_t resyncs
        int64_t crossed
        int64_t rows_skipped
        int64_t bbo_written
        int64_t diffs_buffer_rows_copied

    ctypedef struct bot4_book_bbo:
        int64_t u
        int64_t ts_local
        int64_t bid_price
        int64_t bid_qty
        int64_t ask_price
        int64_t ask_qty

    ctypedef struct bot4_book:
        int64_t window
        int state
        int sequencing
        int needs_resync
        int64_t last_update_id
        int64_t pending_n
        int64_t pending_msgs
        int64_t pending_max
        bot4_book_stats stats

    ctypedef struct bot4_book_verr:
        int64_t row
        int reason
        int64_t value

    int bot4_book_init(bot4_book *b, int64_t window, int64_t pending_max) nogil
    void bot4_book_free(bot4_book *b) nogil
    void bot4_book_reset(bot4_book *b) nogil
    int bot4_book_set_sequencing(bot4_book *b, int mode) nogil
    int bot4_book_update(bot4_book *b, int side, int64_t price, int64_t qty) nogil
    int bot4_book_apply_snapshot(bot4_book *b, const int64_t *bid_px, const int64_t *bid_qty,
                                 int64_t n_bid, const int64_t *ask_px, const int64_t *ask_qty,
                                 int64_t n_ask, int64_t last_update_id, bot4_book_bbo *out,
                                 int64_t *n_out) nogil
    int bot4_book_validate_batch(const bot4_event *ev, int64_t n, bot4_book_verr *err,
                                 int64_t *n_diff_msgs) nogil
    int bot4_book_apply_batch(bot4_book *b, const bot4_event *ev, int64_t n, bot4_book_bbo *out,
                              int64_t *n_out) nogil
    int bot4_book_best(const bot4_book *b, int side, int64_t *px, int64_t *qty) nogil
    int64_t bot4_book_depth_at(const bot4_book *b, int side, int64_t price) nogil
    int64_t bot4_book_level_count(const bot4_book *b, int side) nogil
    int bot4_book_is_crossed(const bot4_book *b) nogil
    int64_t bot4_book_top(const bot4_book *b, int side, int64_t n, int64_t *px, int64_t *qty) nogil
    int bot4_book_check(const bot4_book *b) nogil
    int bot4_book_fill(const bot4_book *b, int side, int64_t qty, int64_t *filled,
                       int64_t *notional_hi, uint64_t *notional_lo, int64_t *levels) nogil


cdef class Book:
    """An L2 book; other Cython modules may use `self.b` with the C API directly."""
    cdef bot4_book b
    cdef bint ready
    cdef bint busy      # apply_batch/apply_snapshot running with the GIL released
