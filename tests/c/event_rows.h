/* event_rows.h - building bot4_event rows by hand for the C tests that replay constructed
 * markets (simvenue, simdriver): one row per call, ts_exch = ts_local, no previous id. */
#ifndef BOT4_TEST_EVENT_ROWS_H
#define BOT4_TEST_EVENT_ROWS_H

#include <stdint.h>
#include <string.h>

#include "events.h"

static inline void event_row(bot4_event *e, int64_t ts, int kind, int side, int64_t px,
                             int64_t qty, int flags, int64_t first, int64_t last)
{
    memset(e, 0, sizeof *e);
    e->ts_exch = ts;
    e->ts_local = ts;
    e->kind = (uint8_t)kind;
    e->side = (uint8_t)side;
    e->price = px;
    e->qty = qty;
    e->flags = (uint16_t)flags;
    e->seq_first = first;
    e->seq_last = last;
    e->seq_prev = BOT4_SEQ_NONE;
}

#endif
