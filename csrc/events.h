/* events.h - the columnar market-event row shared by every reader and the engine.
 *
 * One row is one price level, one trade, or one side of an L1 quote, 64 bytes (one cache
 * line), laid out exactly like engine.events.EVENT_DTYPE so a numpy structured array
 * is passed to C without a copy. Rows of one exchange message (a snapshot, a depth diff,
 * a bookTicker) are contiguous; the first carries BOT4_EVF_BEGIN and the last
 * BOT4_EVF_END. A message with no levels is one row with side BOT4_SIDE_NONE, so its
 * sequence ids are never lost.
 * Invariants (checked at the Cython boundary): price > 0 for level/trade/quote rows,
 * qty >= 0, kind and side in range.
 */
#ifndef BOT4_EVENTS_H
#define BOT4_EVENTS_H

#include <stdint.h>

enum {
    BOT4_EV_SNAPSHOT = 1, /* one level of a full book snapshot; seq_last = lastUpdateId */
    BOT4_EV_UPDATE = 2,   /* one level of a diff; qty 0 deletes; seq_first/last/prev = U/u/pu */
    BOT4_EV_TRADE = 3,    /* side = aggressor (BID: buyer took); seq_last = trade id */
    BOT4_EV_QUOTE = 4,    /* one side of an L1 quote (bookTicker); seq_last = u */
};

enum { BOT4_SIDE_BID = 0, BOT4_SIDE_ASK = 1, BOT4_SIDE_NONE = 2 };

enum { BOT4_EVF_BEGIN = 1, BOT4_EVF_END = 2 };

#define BOT4_SEQ_NONE (-1)

typedef struct bot4_event {
    int64_t ts_exch;   /* exchange time, ns since epoch; -1 when the venue gives none */
    int64_t ts_local;  /* local receive time, ns since epoch */
    int64_t price;     /* ticks */
    int64_t qty;       /* lots */
    int64_t seq_first; /* Binance U; BOT4_SEQ_NONE when absent */
    int64_t seq_last;  /* Binance u, lastUpdateId, or trade id */
    int64_t seq_prev;  /* Binance pu (futures); BOT4_SEQ_NONE when absent */
    uint8_t kind;
    uint8_t side;
    uint16_t flags;
    uint32_t reserved;
} bot4_event;

_Static_assert(sizeof(bot4_event) == 64, "bot4_event must be one cache line");

#endif
