from libc.stdint cimport int64_t, int32_t, uint8_t, uint16_t, uint32_t

from engine.book cimport bot4_book, bot4_event


cdef extern from "simvenue.h" nogil:
    enum:
        BOT4_SV_OK
        BOT4_SV_ENOMEM
        BOT4_SV_EINVAL
        BOT4_SV_FULL
        BOT4_SV_UNKNOWN
        BOT4_SV_WOULD_TAKE
        BOT4_SV_FOK_UNFILLED
        BOT4_SV_NO_LIQUIDITY
        BOT4_SV_DUPLICATE
        BOT4_SV_OUT_FULL
        BOT4_SV_QUEUE_RISK_AVERSE
        BOT4_SV_QUEUE_PROB_POWER
        BOT4_SV_QUEUE_PROB_LOG
        BOT4_SV_GTC
        BOT4_SV_IOC
        BOT4_SV_FOK
        BOT4_SV_GTD
        BOT4_SV_STOP_LEVELS_MAX

    ctypedef struct bot4_sv_report:
        int64_t ts
        int64_t id
        int64_t price
        int64_t qty
        int64_t leaves
        int64_t ahead
        int64_t event_row
        uint8_t kind
        uint8_t side
        uint16_t pad
        uint32_t reserved

    ctypedef struct bot4_sv_stats:
        int64_t events
        int64_t book_msgs
        int64_t trades
        int64_t trade_lots_at_our_levels
        int64_t queue_advance_trades
        int64_t queue_advance_cancels
        int64_t maker_fills
        int64_t maker_lots
        int64_t taker_fills
        int64_t taker_lots
        int64_t expired

    ctypedef struct bot4_simvenue:
        bot4_book book
        int32_t n
        int32_t cap
        int64_t pos
        int64_t now
        bot4_sv_stats stats

    int bot4_sv_init(bot4_simvenue *v, int32_t max_orders, int queue_model, double queue_power,
                     int64_t window)
    void bot4_sv_free(bot4_simvenue *v)
    void bot4_sv_reset(bot4_simvenue *v)
    int bot4_sv_run(bot4_simvenue *v, const bot4_event *ev, int64_t n, int64_t t_stop,
                    bot4_sv_report *out, int64_t cap, int64_t *n_out)
    int bot4_sv_place(bot4_simvenue *v, int64_t now, int64_t id, int side, int64_t price,
                      int64_t qty, int tif, int post_only, int64_t expire_ts,
                      bot4_sv_report *out, int64_t cap, int64_t *n_out, int64_t *resting,
                      int64_t *ahead)
    int bot4_sv_place_stop(bot4_simvenue *v, int64_t id, int side, int64_t trigger, int64_t qty,
                           int64_t expire_ts)
    int bot4_sv_amend(bot4_simvenue *v, int64_t now, int64_t id, int64_t price, int64_t leaves,
                      bot4_sv_report *out, int64_t cap, int64_t *n_out, int64_t *resting,
                      int64_t *ahead)
    int bot4_sv_cancel(bot4_simvenue *v, int64_t id, int64_t *leaves)
    int bot4_sv_get(const bot4_simvenue *v, int64_t id, int64_t *price, int64_t *leaves,
                    int64_t *ahead)


cdef class VenueCore:
    cdef bot4_simvenue v
    cdef bint ready
    cdef object events
    cdef object _buf
