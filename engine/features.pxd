from libc.stdint cimport int64_t, uint8_t

from engine.book cimport bot4_book, bot4_event


cdef extern from "micro_features.h":
    enum:
        BOT4_FEATURES_LEVELS
        BOT4_F_N
        BOT4_FEATURES_OK
        BOT4_FEATURES_ENOMEM
        BOT4_FEATURES_EINVAL
        BOT4_FEATURES_EBADINPUT
        BOT4_FEATURES_FAULT_NONE
        BOT4_FEATURES_FAULT_EVENTS
        BOT4_FEATURES_FAULT_LEVELS
        BOT4_FEATURES_LV_QTY
        BOT4_FEATURES_LV_PRICE
        BOT4_FEATURES_LV_MISSING_PRICE
        BOT4_FEATURES_LV_GAP
        BOT4_FEATURES_LV_ORDER

    ctypedef struct bot4_features_params:
        int64_t ofi_window, kyle_window, rv_window, cancel_short, cancel_long
        int64_t trade_window, bvc_window
        int64_t vpin_bucket
        int64_t vpin_buckets
        int64_t momentum_lag

    ctypedef struct bot4_features_levels:
        int64_t ts
        int64_t bid_px[5]
        int64_t bid_qty[5]
        int64_t ask_px[5]
        int64_t ask_qty[5]

    ctypedef struct bot4_features_fault:
        int source
        int64_t row
        int reason
        int64_t value
        int side, level

    ctypedef struct bot4_features:
        bot4_features_params p
        int64_t now
        int64_t msgs
        int64_t trades
        int64_t samples

    int bot4_features_dispatch_init(int level) nogil
    int64_t bot4_features_touch_volume_level(int level, const int64_t *px, const int64_t *side,
                                             const int64_t *qty, int64_t n, int64_t price,
                                             int64_t side_value) nogil
    int bot4_features_params_check(const bot4_features_params *p) nogil
    int bot4_features_init(bot4_features *f, const bot4_features_params *p) nogil
    void bot4_features_free(bot4_features *f) nogil
    void bot4_features_reset(bot4_features *f) nogil
    void bot4_features_on_event(bot4_features *f, const bot4_book *b, const bot4_event *ev) nogil
    void bot4_features_vector(const bot4_features *f, double *out) nogil
    void bot4_features_sample(bot4_features *f, double *out) nogil
    int bot4_features_levels_check(const bot4_features_levels *lv, int64_t n, int64_t *row,
                                   int *side, int *level, int *reason) nogil
    void bot4_features_on_levels(bot4_features *f, const bot4_features_levels *lv) nogil
    int bot4_features_run(bot4_features *f, bot4_book *b, const bot4_event *ev, int64_t n,
                          int64_t every, int64_t interval_ns, double *out, int64_t *out_row,
                          int64_t cap, int64_t *n_out, bot4_features_levels *trace,
                          int64_t trace_cap, int64_t *n_trace, bot4_features_fault *fault) nogil
    int bot4_features_run_levels(bot4_features *f, const bot4_event *ev, int64_t n,
                                 const bot4_features_levels *levels, int64_t n_levels,
                                 int64_t every, int64_t interval_ns, double *out,
                                 int64_t *out_row, int64_t cap, int64_t *n_out,
                                 bot4_features_fault *fault) nogil


cdef class Features:
    cdef bot4_features f
    cdef bint ready
