# distutils: sources = csrc/simvenue.c csrc/book.c
"""Simulated venue core over csrc/simvenue.c: our orders against a recorded L2 market.

``VenueCore(events)`` replays an EVENT_DTYPE array (validated once, whole, at construction:
a bad row raises ValueError naming the row, field and value) through the L2 book of
csrc/book.h and tracks our resting orders' queue positions; see csrc/simvenue.h for the
queue model. Reports are :data:`REPORT_DTYPE` rows (``KINDS[kind]`` names them). Latency,
fees, impact, filters and rate limits live in bot.sim.venue above this core.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport INT32_MAX, INT64_MAX, INT64_MIN, int32_t, int64_t

from engine.book cimport (
    BOT4_BOOK_OK, BOT4_BOOK_WINDOW_DEFAULT, bot4_book_best, bot4_book_depth_at, bot4_book_top,
    bot4_event,
)
from engine.args cimport check_choice, check_int64
from engine.simvenue cimport *

from engine.book import check_events
from engine.events import EVENT_DTYPE

cnp.import_array()


REPORT_DTYPE = np.dtype([
    ("ts", "<i8"), ("id", "<i8"), ("price", "<i8"), ("qty", "<i8"), ("leaves", "<i8"),
    ("ahead", "<i8"), ("event_row", "<i8"), ("kind", "u1"), ("side", "u1"), ("pad", "<u2"),
    ("reserved", "<u4"),
], align=True)
assert REPORT_DTYPE.itemsize == sizeof(bot4_sv_report)

KINDS = ("maker_trade", "maker_through", "maker_cross", "taker", "expired", "triggered",
         "dropped")
QUEUE_MODELS = {"risk_averse": BOT4_SV_QUEUE_RISK_AVERSE, "power": BOT4_SV_QUEUE_PROB_POWER,
                "log": BOT4_SV_QUEUE_PROB_LOG}
TIFS = {"gtc": BOT4_SV_GTC, "ioc": BOT4_SV_IOC, "fok": BOT4_SV_FOK, "gtd": BOT4_SV_GTD}
STATUS = {BOT4_SV_OK: "ok", BOT4_SV_FULL: "too_many_orders", BOT4_SV_UNKNOWN: "unknown_id",
          BOT4_SV_WOULD_TAKE: "post_only_would_take", BOT4_SV_FOK_UNFILLED: "fok_unfillable",
          BOT4_SV_NO_LIQUIDITY: "no_liquidity", BOT4_SV_DUPLICATE: "duplicate_id"}
SIDES = {"buy": 0, "sell": 1}

cdef int64_t I64_MAX = INT64_MAX
cdef int64_t I64_MIN = INT64_MIN


cdef inline int64_t _int(str field, value, int64_t lo=INT64_MIN, int64_t hi=INT64_MAX) except? -1:
    return check_int64(value, field, lo, hi, ValueError)


cdef class VenueCore:
    """Market replay plus our resting orders. max_orders bounds our working orders."""

    def __cinit__(self, events, max_orders=256, queue_model="risk_averse",
                  double queue_power=2.0, window=BOT4_BOOK_WINDOW_DEFAULT):
        self.ready = False
        if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE or events.ndim != 1:
            raise ValueError("events must be a 1-D numpy array of engine.events.EVENT_DTYPE")
        events = np.ascontiguousarray(events)
        qm = check_choice(QUEUE_MODELS, "queue_model", queue_model)
        cdef int64_t n_orders_max = _int("max_orders", max_orders, 1, INT32_MAX)
        cdef int64_t win = _int("window", window)
        if not (queue_power > 0):
            raise ValueError(f"queue_power must be > 0, got {queue_power}")
        cdef cnp.ndarray ev = events
        cdef int rc
        cdef const bot4_event *p = <const bot4_event *>cnp.PyArray_DATA(ev)
        cdef int64_t n = ev.shape[0]
        check_events(ev)
        rc = bot4_sv_init(&self.v, <int32_t>n_orders_max, qm, queue_power, win)
        if rc == BOT4_SV_ENOMEM:
            raise MemoryError("cannot allocate the simulated venue")
        if rc != BOT4_SV_OK:
            raise ValueError(f"window must be a power of two in the book's range, got {win}")
        self.ready = True
        self.events = events
        # one message can report each order twice, and each stop its trigger, its levels
        # and a remainder (see bot4_sv_run)
        self._buf = np.zeros(max(4096, (BOT4_SV_STOP_LEVELS_MAX + 4) * n_orders_max + 8),
                             dtype=REPORT_DTYPE)

    def __dealloc__(self):
        if self.ready:
            bot4_sv_free(&self.v)
            self.ready = False

    def reset(self):
        bot4_sv_reset(&self.v)

    @property
    def pos(self):
        """Next event row to replay."""
        return self.v.pos

    @property
    def done(self):
        return self.v.pos >= self.events.shape[0]

    @property
    def now(self):
        """ts_local of the last replayed row (None before the first)."""
        return None if self.v.now == I64_MIN else self.v.now

    @property
    def n_orders(self):
        return self.v.n

    def next_ts(self):
        """ts_local of the next row, or None at the end."""
        return None if self.done else int(self.events[self.v.pos]["ts_local"])

    def run_until(self, t_stop):
        """Replay every message whose first row has ts_local < t_stop; returns the reports."""
        cdef int64_t t = _int("t_stop", t_stop)
        cdef cnp.ndarray ev = self.events
        cdef cnp.ndarray buf = self._buf
        cdef const bot4_event *p = <const bot4_event *>cnp.PyArray_DATA(ev)
        cdef bot4_sv_report *out = <bot4_sv_report *>cnp.PyArray_DATA(buf)
        cdef int64_t n = ev.shape[0], cap = buf.shape[0], n_out
        cdef int rc
        chunks = []
        while True:
            n_out = 0
            with nogil:
                rc = bot4_sv_run(&self.v, p, n, t, out, cap, &n_out)
            if n_out:
                chunks.append(self._buf[:n_out].copy())
            if rc == BOT4_SV_OK:
                break
            if rc != BOT4_SV_OUT_FULL:
                raise MemoryError("book ran out of memory while replaying")
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=REPORT_DTYPE)

    def run_all(self):
        return self.run_until(I64_MAX)

    def place(self, now, id, side, price, qty, tif="gtc", post_only=False, expire_ts=0):
        """Our order arrives at `now`. price 0 = market. Returns (status, reports, resting, ahead)."""
        cdef int64_t t = _int("now", now)
        if self.v.now != I64_MIN and t < self.v.now:
            raise ValueError(f"now {t} is before the last replayed event {self.v.now}")
        cdef int64_t oid = _int("id", id)
        cdef int s = check_choice(SIDES, "side", side)
        cdef int64_t px = _int("price", price, 0)
        cdef int64_t q = _int("qty", qty, 1)
        cdef int tf = check_choice(TIFS, "tif", tif)
        cdef int64_t exp = _int("expire_ts", expire_ts, 0)
        if tf == BOT4_SV_GTD and exp <= t:
            raise ValueError(f"expire_ts must be after now for gtd, got {exp}")
        if px == 0 and tf in (BOT4_SV_GTC, BOT4_SV_GTD):
            raise ValueError("a market order (price 0) needs tif ioc or fok")
        if not isinstance(post_only, bool):
            raise ValueError(f"post_only must be a bool, got {post_only!r}")
        if post_only and (px == 0 or tf != BOT4_SV_GTC and tf != BOT4_SV_GTD):
            raise ValueError("post_only needs a limit price and tif gtc or gtd")
        cdef int po = post_only
        cdef cnp.ndarray buf = self._buf
        cdef int64_t n_out = 0, resting = 0, ahead = 0
        cdef int rc = bot4_sv_place(&self.v, t, oid, s, px, q, tf, po, exp,
                                    <bot4_sv_report *>cnp.PyArray_DATA(buf), buf.shape[0],
                                    &n_out, &resting, &ahead)
        if rc == BOT4_SV_OUT_FULL:
            raise RuntimeError("order would take more levels than the report buffer holds")
        if rc == BOT4_SV_EINVAL:
            raise ValueError("invalid order")
        return STATUS[rc], self._buf[:n_out].copy(), resting, ahead

    def place_stop(self, id, side, trigger, qty, expire_ts=0):
        """A stop-market order waiting for a trade at or through `trigger`; returns status."""
        cdef int rc = bot4_sv_place_stop(&self.v, _int("id", id), check_choice(SIDES, "side", side),
                                         _int("trigger", trigger, 1), _int("qty", qty, 1),
                                         _int("expire_ts", expire_ts, 0))
        return STATUS[rc]

    def amend(self, now, id, price, leaves):
        """New price / leaves for a working order. Returns (status, reports, resting, ahead);
        a limit at the same price with leaves not above the current keeps its queue place."""
        cdef int64_t t = _int("now", now)
        if self.v.now != I64_MIN and t < self.v.now:
            raise ValueError(f"now {t} is before the last replayed event {self.v.now}")
        cdef cnp.ndarray buf = self._buf
        cdef int64_t n_out = 0, resting = 0, ahead = 0
        cdef int rc = bot4_sv_amend(&self.v, t, _int("id", id), _int("price", price, 1),
                                    _int("leaves", leaves, 1),
                                    <bot4_sv_report *>cnp.PyArray_DATA(buf), buf.shape[0],
                                    &n_out, &resting, &ahead)
        if rc == BOT4_SV_OUT_FULL:
            raise RuntimeError("order would take more levels than the report buffer holds")
        return STATUS[rc], self._buf[:n_out].copy(), resting, ahead

    def cancel(self, id):
        """Leaves of the cancelled order, or None if it is not resting."""
        cdef int64_t leaves = 0
        if bot4_sv_cancel(&self.v, _int("id", id), &leaves) != BOT4_SV_OK:
            return None
        return leaves

    def get(self, id):
        """(price, leaves, ahead) of a resting order, or None."""
        cdef int64_t px, leaves, ahead
        if bot4_sv_get(&self.v, _int("id", id), &px, &leaves, &ahead) != BOT4_SV_OK:
            return None
        return px, leaves, ahead

    def best(self, side):
        """(price, qty) at the market's touch of a side, or None."""
        cdef int64_t px, q
        if not bot4_book_best(&self.v.book, check_choice(SIDES, "side", side), &px, &q):
            return None
        return px, q

    def depth_at(self, side, price):
        return bot4_book_depth_at(&self.v.book, check_choice(SIDES, "side", side), _int("price", price, 1))

    def top(self, side, n_):
        cdef int64_t n = _int("n", n_, INT64_MIN, INT32_MAX)
        cdef cnp.ndarray px = np.zeros(max(n, 0), dtype=np.int64)
        cdef cnp.ndarray q = np.zeros(max(n, 0), dtype=np.int64)
        if n <= 0:
            return px, q
        k = bot4_book_top(&self.v.book, check_choice(SIDES, "side", side), n,
                          <int64_t *>cnp.PyArray_DATA(px), <int64_t *>cnp.PyArray_DATA(q))
        return px[:k], q[:k]

    def stats(self):
        s = self.v.stats
        return {"events": s.events, "book_msgs": s.book_msgs, "trades": s.trades,
                "trade_lots_at_our_levels": s.trade_lots_at_our_levels,
                "queue_advance_trades": s.queue_advance_trades,
                "queue_advance_cancels": s.queue_advance_cancels,
                "maker_fills": s.maker_fills, "maker_lots": s.maker_lots,
                "taker_fills": s.taker_fills, "taker_lots": s.taker_lots, "expired": s.expired}
