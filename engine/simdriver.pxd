from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t

from engine.events cimport bot4_event
from engine.simvenue cimport bot4_simvenue, bot4_sv_report


cdef extern from "simdriver.h" nogil:
    enum:
        BOT4_SD_OK
        BOT4_SD_MORE
        BOT4_SD_ENOMEM
        BOT4_SD_EINVAL
        BOT4_SD_OVERFLOW
        BOT4_SD_UNKNOWN
        BOT4_SD_ECORE
        BOT4_SD_LIMIT
        BOT4_SD_STOP
        BOT4_SD_TIERS_MAX
        BOT4_SD_MAX_ORDERS_MAX
        BOT4_SD_RATE_ORDERS_MAX
        BOT4_SD_N_REASONS

    ctypedef struct bot4_sd_report:
        int64_t ts
        int64_t visible_ts
        int64_t seq
        int64_t id
        int64_t price
        int64_t qty
        int64_t leaves
        int64_t ahead
        int64_t fee_units
        uint8_t kind
        uint8_t side
        uint8_t liquidity
        uint8_t reason
        uint32_t pad

    ctypedef struct bot4_sd_fee_tier:
        int64_t min_volume
        int64_t maker_rate
        int64_t taker_rate

    ctypedef struct bot4_sd_latency:
        int64_t median_ns
        double sigma

    ctypedef struct bot4_sd_config:
        bot4_sd_latency entry
        bot4_sd_latency ack
        bot4_sd_latency md
        const bot4_sd_fee_tier *tiers
        int32_t n_tiers
        double impact_gamma
        double impact_sigma
        int64_t impact_adv_lots
        int64_t pct_num
        int64_t pct_den
        int64_t min_notional
        int32_t rate_limit_orders
        int64_t rate_limit_window_ns
        int queue_model
        double queue_power
        int32_t max_orders
        int64_t book_window
        uint64_t seed

    ctypedef struct bot4_sd_order:
        int64_t price
        int64_t qty
        int64_t filled
        int64_t placed_ts
        int64_t ahead_at_place
        int64_t expire_ts
        int64_t last_visible
        uint8_t side
        uint8_t kind
        uint8_t tif
        uint8_t post_only
        uint8_t maker_filled
        uint8_t state
        int64_t oms_price
        int64_t oms_qty
        int64_t oms_filled

    ctypedef struct bot4_sd_account:
        int64_t position
        int64_t cash
        int64_t fee_units
        int64_t volume
        int64_t fills
        int64_t maker_fills
        int64_t taker_fills
        int64_t state_errors

    ctypedef struct bot4_sd_queue:
        int64_t orders_rested
        int64_t ahead_at_place_total
        int64_t maker_lots
        int64_t rested_lots
        int64_t *delays
        int64_t n_delays

    ctypedef struct bot4_simdriver:
        bot4_simvenue v
        int64_t n_ev
        int64_t n_pend
        int64_t n_vis
        int64_t n_ids
        bot4_sd_account acct
        bot4_sd_queue queue
        int64_t bid_px
        int64_t bid_qty
        int64_t ask_px
        int64_t ask_qty
        int failed

    int bot4_sd_init(bot4_simdriver *d, const bot4_sd_config *cfg, const bot4_event *ev,
                     int64_t n_ev)
    void bot4_sd_free(bot4_simdriver *d)
    int bot4_sd_submit(bot4_simdriver *d, int64_t t, int side, int64_t qty, int64_t price,
                       int tif, int post_only, int64_t expire_ts, int kind, int64_t *id)
    int bot4_sd_cancel(bot4_simdriver *d, int64_t t, int64_t id)
    int bot4_sd_amend(bot4_simdriver *d, int64_t t, int64_t id, int64_t price, int64_t qty)
    int bot4_sd_advance(bot4_simdriver *d, int64_t t, bot4_sd_report *out, int64_t cap,
                        int64_t *n_out)
    int bot4_sd_pop(bot4_simdriver *d, int64_t t, bot4_sd_report *out, int64_t cap,
                    int64_t *n_out)
    int64_t bot4_sd_md_latency(bot4_simdriver *d)
    const bot4_sd_order *bot4_sd_order_get(const bot4_simdriver *d, int64_t id)


cdef class SimDriver:
    cdef bot4_simdriver d
    cdef bint ready
    cdef object events
    cdef object _out             # REPORT_DTYPE buffer the popped reports land in
    cdef bot4_sd_report *_out_p
    cdef int64_t _out_cap
    cdef object _empty           # the zero-length view handed to steps with no reports
    cdef int64_t _step_t
    cdef int64_t _step_lo         # first event row replayed by the current step
    cdef readonly int64_t steps   # decision steps run by run()
    cdef int64_t _act_ts
    cdef bint _stepped
    cdef bint _act_drawn
    cdef bint _in_step
    cdef int64_t _pop(self, int64_t t, int rc, int64_t n) except -1
