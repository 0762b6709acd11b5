from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t


cdef extern from "match.h" nogil:
    enum:
        BOT4_MATCH_BUY
        BOT4_MATCH_SELL
        BOT4_MATCH_OP_ADD
        BOT4_MATCH_OP_CANCEL
        BOT4_MATCH_OP_MODIFY
        BOT4_MATCH_LIMIT
        BOT4_MATCH_MARKET
        BOT4_MATCH_GTC
        BOT4_MATCH_IOC
        BOT4_MATCH_FOK
        BOT4_MATCH_PO_NONE
        BOT4_MATCH_PO_REJECT
        BOT4_MATCH_PO_REPRICE
        BOT4_MATCH_STP_NONE
        BOT4_MATCH_STP_CANCEL_NEWEST
        BOT4_MATCH_STP_CANCEL_OLDEST
        BOT4_MATCH_STP_DECREMENT_BOTH
        BOT4_MATCH_FILL
        BOT4_MATCH_STP_CANCEL_MAKER
        BOT4_MATCH_STP_DECREMENT

    ctypedef enum bot4_match_reason:
        BOT4_MATCH_OK
        BOT4_MATCH_R_FILL_BUFFER_FULL
        BOT4_MATCH_R_COUNT

    ctypedef struct bot4_match_op:
        int64_t id
        int64_t owner
        int64_t price
        int64_t qty
        int64_t position
        uint8_t op
        uint8_t side
        uint8_t type
        uint8_t tif
        uint8_t post_only
        uint8_t stp
        uint8_t reduce_only
        uint8_t pad

    ctypedef struct bot4_match_result:
        int64_t id
        int64_t filled
        int64_t resting
        int64_t cancelled
        int64_t price
        uint8_t reason
        uint32_t nfills

    ctypedef struct bot4_match_fill:
        int64_t taker_id
        int64_t maker_id
        int64_t taker_owner
        int64_t maker_owner
        int64_t price
        int64_t qty
        int64_t maker_remaining
        uint8_t kind
        uint8_t taker_side
        uint16_t pad
        uint32_t op_index

    ctypedef struct bot4_match:
        pass

    bot4_match *bot4_match_create(uint32_t max_orders)
    void bot4_match_destroy(bot4_match *m)
    void bot4_match_clear(bot4_match *m)
    int bot4_match_run(bot4_match *m, const bot4_match_op *ops, uint32_t n,
                       bot4_match_result *results, bot4_match_fill *fills, uint32_t fills_cap,
                       uint32_t *n_done, uint32_t *n_fills)
    int bot4_match_get(const bot4_match *m, int64_t id, int64_t *owner, uint8_t *side,
                       int64_t *price, int64_t *qty)
    int bot4_match_best(const bot4_match *m, int side, int64_t *price, int64_t *qty)
    uint32_t bot4_match_depth(const bot4_match *m, int side, uint32_t n, int64_t *prices,
                              int64_t *qtys, uint32_t *counts)
    uint32_t bot4_match_level_orders(const bot4_match *m, int side, int64_t price, uint32_t n,
                                     int64_t *ids)
    uint32_t bot4_match_order_count(const bot4_match *m)
    uint32_t bot4_match_level_count(const bot4_match *m, int side)
    uint32_t bot4_match_capacity(const bot4_match *m)
    int bot4_match_check(const bot4_match *m)
    const char *bot4_match_reason_name(int reason)


cdef class MatchingEngine:
    cdef bot4_match *m
    cdef object _fills  # reusable fill buffer (numpy, FILL_DTYPE)
