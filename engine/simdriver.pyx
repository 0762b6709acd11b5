# distutils: sources = csrc/simdriver.c csrc/simvenue.c csrc/book.c
"""Simulated venue driver over csrc/simdriver.c: scheduling, filters, fees, impact, report
ordering, order states, accounting and the decision loop, all in C.

``SimDriver(events, ...)`` replays an EVENT_DTYPE array through the venue core
(engine.simvenue) with the semantics of bot.sim.venue.SimVenue: requests reach the venue
entry latency after they are sent, reports reach the strategy ack latency after they
happen (never before the same order's previous report). Settings are integers: fee tiers
as (min_volume tick-lots, maker rate, taker rate) with rates in integer fee units per
tick-lot (fee_units = price * qty * rate; the caller picks the unit, e.g. one unit =
tick*lot / (10000 * R) quote for bps rates scaled by R), the percent-price band as
(num, den) or a Fraction, min notional in tick-lots (ceil(min_notional / (tick*lot))).

Reports are :data:`REPORT_DTYPE` rows; ``KINDS[kind]``, ``REASONS[reason]``,
``LIQUIDITY[liquidity]``, ``SIDES[side]`` name the codes. ``run(start, end, interval,
step)`` is the decision loop: each step advances the venue in C (without the GIL) and
calls ``step(t, reports)`` with a zero-copy view of the reports popped in this step (valid
only during the call); inside it ``submit`` / ``cancel`` / ``amend`` at ``act_ts`` (t plus
a market-data latency draw).
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport INT64_MAX, INT64_MIN, int32_t, int64_t, uint64_t
from libc.string cimport memcpy

from engine.args cimport check_int
from engine.book cimport BOT4_BOOK_OK, BOT4_BOOK_WINDOW_DEFAULT, bot4_book_top
from engine.events cimport bot4_event
from engine.simdriver cimport *

from engine.book import check_events
from engine.events import EVENT_DTYPE

cnp.import_array()


REPORT_DTYPE = np.dtype([
    ("ts", "<i8"), ("visible_ts", "<i8"), ("seq", "<i8"), ("id", "<i8"), ("price", "<i8"),
    ("qty", "<i8"), ("leaves", "<i8"), ("ahead", "<i8"), ("fee_units", "<i8"),
    ("kind", "u1"), ("side", "u1"), ("liquidity", "u1"), ("reason", "u1"), ("pad", "<u4"),
], align=True)
assert REPORT_DTYPE.itemsize == sizeof(bot4_sd_report)

KINDS = ("ack", "reject", "fill", "cancelled", "cancel_reject", "expired", "amended",
         "amend_reject")
REASONS = ("none", "rate_limited", "no_liquidity", "min_notional", "percent_price",
           "expired_on_arrival", "too_many_orders", "unknown_id", "post_only_would_take",
           "fok_unfillable", "duplicate_id", "not_working", "below_filled", "gtc", "ioc", "fok",
           "gtd", "stop_unfilled")
assert len(REASONS) == BOT4_SD_N_REASONS
LIQUIDITY = ("none", "maker", "taker")
STATES = ("new", "acknowledged", "partially_filled", "filled", "cancelled", "rejected",
          "expired")
TERMINAL_STATES = frozenset({"filled", "cancelled", "rejected", "expired"})
SIDES = ("buy", "sell")
_SIDE = {"buy": 0, "sell": 1}
TIFS = {"gtc": 0, "ioc": 1, "fok": 2, "gtd": 3}
_TIF_NAMES = tuple(TIFS)
QUEUE_MODELS = {"risk_averse": 0, "power": 1, "log": 2}

cdef int64_t I64_MAX = INT64_MAX
cdef int64_t I64_MIN = INT64_MIN


cdef _raise(int rc, str what):
    if rc == BOT4_SD_ENOMEM:
        raise MemoryError(f"{what}: out of memory")
    if rc == BOT4_SD_OVERFLOW:
        raise OverflowError(f"{what}: an int64 time, price or sum would overflow")
    if rc == BOT4_SD_EINVAL:
        raise ValueError(f"{what}: invalid argument")
    if rc == BOT4_SD_UNKNOWN:
        raise ValueError(f"{what}: unknown id")
    raise RuntimeError(f"{what}: the venue core failed (status {rc})")


def _latency(str name, value):
    """(median_ns, sigma) from an int median or a (median_ns, sigma) pair."""
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"{name} must be median_ns or (median_ns, sigma), got {value!r}")
        med, sigma = value
    else:
        med, sigma = value, 0.0
    med = check_int(med, f"{name} median_ns", 0, I64_MAX)
    sigma = float(sigma)
    if not (sigma >= 0 and sigma != float("inf")):
        raise ValueError(f"{name} sigma must be finite and >= 0, got {sigma!r}")
    return med, sigma


cdef class SimDriver:
    """The simulated venue and the strategy's side of it, in C.

    events: EVENT_DTYPE array (validated once). entry/ack/md_latency: median ns, or
    (median_ns, sigma) for lognormal draws from `seed`. fee_tiers: ((min_volume_ticklots,
    maker_rate, taker_rate), ...) starting at 0, strictly increasing. impact: gamma, sigma
    (daily), adv_lots. percent_price: (num, den) or Fraction. min_notional_ticklots,
    rate_limit_orders per rate_limit_window_ns, queue_model / queue_power / max_orders as
    engine.simvenue.VenueCore."""

    def __cinit__(self, events, *, entry_latency=1_000_000, ack_latency=1_000_000,
                  md_latency=0, fee_tiers=((0, 0, 0),), impact_gamma=0.0, impact_sigma=0.0,
                  impact_adv_lots=1, percent_price=(1, 5), min_notional_ticklots=0,
                  rate_limit_orders=50, rate_limit_window_ns=10 * 10**9,
                  queue_model="risk_averse", queue_power=2.0, max_orders=256, seed=7,
                  book_window=BOT4_BOOK_WINDOW_DEFAULT):
        self.ready = False
        if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE or events.ndim != 1:
            raise ValueError("events must be a 1-D numpy array of engine.events.EVENT_DTYPE")
        events = np.ascontiguousarray(events)
        cdef bot4_sd_config cfg
        cfg.entry.median_ns, cfg.entry.sigma = _latency("entry_latency", entry_latency)
        cfg.ack.median_ns, cfg.ack.sigma = _latency("ack_latency", ack_latency)
        cfg.md.median_ns, cfg.md.sigma = _latency("md_latency", md_latency)
        tiers = list(fee_tiers)
        if not 1 <= len(tiers) <= BOT4_SD_TIERS_MAX:
            raise ValueError(f"fee_tiers must hold 1 to {BOT4_SD_TIERS_MAX} tiers, got {len(tiers)}")
        cdef bot4_sd_fee_tier tier_buf[BOT4_SD_TIERS_MAX]
        prev = -1
        for k, tier in enumerate(tiers):
            if len(tier) != 3:
                raise ValueError(f"fee_tiers[{k}] must be (min_volume, maker_rate, taker_rate), got {tier!r}")
            tier_buf[k].min_volume = check_int(tier[0], f"fee_tiers[{k}] min_volume", 0, I64_MAX)
            tier_buf[k].maker_rate = check_int(tier[1], f"fee_tiers[{k}] maker_rate", I64_MIN, I64_MAX)
            tier_buf[k].taker_rate = check_int(tier[2], f"fee_tiers[{k}] taker_rate", I64_MIN, I64_MAX)
            if k == 0 and tier_buf[k].min_volume != 0:
                raise ValueError(f"fee_tiers must start at min_volume 0, got {tier_buf[k].min_volume}")
            if tier_buf[k].min_volume <= prev:
                raise ValueError(f"fee_tiers min_volume must be strictly increasing, got "
                                 f"{[t[0] for t in tiers]}")
            prev = tier_buf[k].min_volume
        cfg.tiers = tier_buf
        cfg.n_tiers = len(tiers)
        cfg.impact_gamma = float(impact_gamma)
        cfg.impact_sigma = float(impact_sigma)
        for name, v in (("impact_gamma", cfg.impact_gamma), ("impact_sigma", cfg.impact_sigma)):
            if not (v >= 0 and v != float("inf")):
                raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        cfg.impact_adv_lots = check_int(impact_adv_lots, "impact_adv_lots", 1, I64_MAX)
        if hasattr(percent_price, "numerator") and hasattr(percent_price, "denominator"):
            num, den = percent_price.numerator, percent_price.denominator
        elif isinstance(percent_price, tuple) and len(percent_price) == 2:
            num, den = percent_price
        else:
            raise ValueError(f"percent_price must be (num, den) or a Fraction, got {percent_price!r}")
        cfg.pct_num = check_int(num, "percent_price numerator", 1, I64_MAX)
        cfg.pct_den = check_int(den, "percent_price denominator", 1, I64_MAX)
        cfg.min_notional = check_int(min_notional_ticklots, "min_notional_ticklots", 0, I64_MAX)
        cfg.rate_limit_orders = check_int(rate_limit_orders, "rate_limit_orders", 1,
                                          BOT4_SD_RATE_ORDERS_MAX)
        cfg.rate_limit_window_ns = check_int(rate_limit_window_ns, "rate_limit_window_ns", 1,
                                             I64_MAX)
        if queue_model not in QUEUE_MODELS:
            raise ValueError(f"queue_model must be one of {', '.join(QUEUE_MODELS)}, got {queue_model!r}")
        cfg.queue_model = QUEUE_MODELS[queue_model]
        cfg.queue_power = float(queue_power)
        if not (cfg.queue_power > 0 and cfg.queue_power != float("inf")):
            raise ValueError(f"queue_power must be finite and > 0, got {queue_power!r}")
        cfg.max_orders = check_int(max_orders, "max_orders", 1, BOT4_SD_MAX_ORDERS_MAX)
        cfg.book_window = check_int(book_window, "book_window", 1, I64_MAX)
        cfg.seed = <uint64_t>check_int(seed, "seed", 0, (1 << 64) - 1)
        cdef cnp.ndarray ev = events
        cdef const bot4_event *p = <const bot4_event *>cnp.PyArray_DATA(ev)
        cdef int64_t n = ev.shape[0]
        cdef int rc
        check_events(ev)
        rc = bot4_sd_init(&self.d, &cfg, p, n)
        if rc == BOT4_SD_ENOMEM:
            raise MemoryError("cannot allocate the simulated venue")
        if rc != BOT4_SD_OK:
            raise ValueError(f"book_window must be a power of two in the book's range, got {book_window}")
        self.ready = True
        self.events = events
        self._out = np.zeros(1024, dtype=REPORT_DTYPE)
        self._out_p = <bot4_sd_report *>cnp.PyArray_DATA(<cnp.ndarray>self._out)
        self._out_cap = 1024
        self._empty = np.zeros(0, dtype=REPORT_DTYPE)
        self._empty.flags.writeable = False
        self._stepped = False
        self._act_drawn = False
        self._in_step = False

    def __dealloc__(self):
        if self.ready:
            bot4_sd_free(&self.d)
            self.ready = False

    # ---- requests -----------------------------------------------------------------------
    def submit(self, t, side, qty, price=0, tif="gtc", post_only=False, expire_ts=0,
               kind="limit"):
        """Send an order at strategy time t; returns its id (1, 2, ...). kind "limit" (price
        0: market, tif ioc or fok) or "stop" (a stop-market order; price is its trigger; tif
        gtc, or gtd with expire_ts). The argument rules are SimVenue.submit's."""
        cdef int64_t tt = check_int(t, "t", I64_MIN, I64_MAX)
        if kind not in ("limit", "stop"):
            raise ValueError(f"kind must be 'limit' or 'stop', got {kind!r}")
        if side not in _SIDE:
            raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
        cdef int64_t q = check_int(qty, "qty", 1, I64_MAX)
        cdef int64_t px = check_int(price, "price", 0, I64_MAX)
        cdef int64_t exp = check_int(expire_ts, "expire_ts", 0, I64_MAX)
        if kind == "stop" and (px < 1 or tif not in ("gtc", "gtd") or post_only):
            raise ValueError(f"a stop needs a trigger price >= 1 and tif gtc/gtd, got price "
                             f"{px!r} tif {tif!r}")
        if tif not in TIFS:
            raise ValueError(f"tif must be one of {', '.join(TIFS)}, got {tif!r}")
        if px == 0 and tif not in ("ioc", "fok"):
            raise ValueError(f"a market order (price 0) needs tif ioc or fok, got {tif!r}")
        if tif == "gtd" and exp <= tt:
            raise ValueError(f"expire_ts must be after the send time for gtd, got {exp}")
        if not isinstance(post_only, bool):
            raise ValueError(f"post_only must be a bool, got {post_only!r}")
        if post_only and (px == 0 or tif not in ("gtc", "gtd")):
            raise ValueError(f"post_only needs a limit price and tif gtc or gtd, got price "
                             f"{px} tif {tif!r}")
        cdef int64_t oid = 0
        cdef int rc = bot4_sd_submit(&self.d, tt, _SIDE[side], q, px, TIFS[tif], post_only,
                                     exp, BOT4_SD_STOP if kind == "stop" else BOT4_SD_LIMIT,
                                     &oid)
        if rc != BOT4_SD_OK:
            _raise(rc, "submit")
        return oid

    def cancel(self, t, id):
        """Ask the venue to cancel order `id` (sent at strategy time t)."""
        cdef int64_t tt = check_int(t, "t", I64_MIN, I64_MAX)
        cdef int64_t oid = self._known(id)
        cdef int rc = bot4_sd_cancel(&self.d, tt, oid)
        if rc != BOT4_SD_OK:
            _raise(rc, "cancel")

    def amend(self, t, id, price, qty):
        """Change order `id` to `price` and total quantity `qty` (filled included)."""
        cdef int64_t tt = check_int(t, "t", I64_MIN, I64_MAX)
        cdef int64_t oid = self._known(id)
        cdef int64_t px = check_int(price, "price", 1, I64_MAX)
        cdef int64_t q = check_int(qty, "qty", 1, I64_MAX)
        cdef int rc = bot4_sd_amend(&self.d, tt, oid, px, q)
        if rc != BOT4_SD_OK:
            _raise(rc, "amend")

    def _known(self, id):
        oid = check_int(id, "id", I64_MIN, I64_MAX)
        if oid < 1 or oid > self.d.n_ids:
            raise ValueError(f"unknown id {oid} (ids issued: 1..{self.d.n_ids})")
        return oid

    # ---- time ---------------------------------------------------------------------------
    cdef int64_t _pop(self, int64_t t, int rc, int64_t n) except -1:
        """After an advance: grow the buffer while reports are still due; returns n."""
        cdef cnp.ndarray bigger
        while rc == BOT4_SD_MORE:
            bigger = np.zeros(2 * self._out_cap, dtype=REPORT_DTYPE)
            memcpy(cnp.PyArray_DATA(bigger), self._out_p, n * sizeof(bot4_sd_report))
            self._out = bigger  # views handed out earlier keep the old buffer alive
            self._out_p = <bot4_sd_report *>cnp.PyArray_DATA(bigger)
            self._out_cap = 2 * self._out_cap
            rc = bot4_sd_pop(&self.d, t, self._out_p, self._out_cap, &n)
        if rc != BOT4_SD_OK:
            _raise(rc, "advance")
        self._step_t = t
        self._stepped = True
        self._act_drawn = False
        return n

    def _guard(self):
        if self._in_step:
            raise RuntimeError("advance/finish/run cannot be called from inside a step")

    def advance(self, t):
        """Run the venue to t; the reports the strategy sees by t (a new array)."""
        cdef int64_t tt = check_int(t, "t", I64_MIN, I64_MAX)
        self._guard()
        cdef int64_t n = 0
        cdef int rc
        self._step_lo = self.d.v.pos
        with nogil:
            rc = bot4_sd_advance(&self.d, tt, self._out_p, self._out_cap, &n)
        n = self._pop(tt, rc, n)
        return self._out[:n].copy()

    def finish(self):
        """Act everything pending, replay to the end of the data; every remaining report."""
        return self.advance(I64_MAX)

    def run(self, start_ns, end_ns, interval_ns, on_reports, on_step):
        """The decision loop. For t = start, start + interval, ... <= end: advance(t) in C;
        when reports became visible, on_reports(view) with a zero-copy REPORT_DTYPE view of
        them (valid only during the call); then on_step() (None: no step callback). The
        step's time is `step_t`, the rows it replayed `step_rows()`. Returns the number of
        steps. An exception from a callback ends the run and propagates; the driver stays
        usable (its reports were applied)."""
        cdef int64_t t = check_int(start_ns, "start_ns", I64_MIN, I64_MAX)
        cdef int64_t end = check_int(end_ns, "end_ns", I64_MIN, I64_MAX)
        cdef int64_t iv = check_int(interval_ns, "interval_ns", 1, I64_MAX)
        if not callable(on_reports):
            raise TypeError(f"on_reports must be callable, got {type(on_reports).__name__}")
        if on_step is not None and not callable(on_step):
            raise TypeError(f"on_step must be callable or None, got {type(on_step).__name__}")
        self._guard()
        cdef int64_t n, steps = 0
        cdef int rc
        cdef bint has_step = on_step is not None
        if t > end:
            return 0
        try:
            while True:
                n = 0
                self._step_lo = self.d.v.pos
                with nogil:
                    rc = bot4_sd_advance(&self.d, t, self._out_p, self._out_cap, &n)
                if rc != BOT4_SD_OK:
                    n = self._pop(t, rc, n)
                else:
                    self._step_t = t
                    self._stepped = True
                    self._act_drawn = False
                self._in_step = True
                try:
                    if n:
                        on_reports(self._out[:n])
                    if has_step:
                        on_step()
                finally:
                    self._in_step = False
                steps += 1
                if <uint64_t>end - <uint64_t>t < <uint64_t>iv:
                    break
                t += iv
        finally:
            self.steps += steps
        return steps

    @property
    def step_t(self):
        """The time of the last advance (the current decision step)."""
        if not self._stepped:
            raise RuntimeError("step_t: no advance yet")
        return self._step_t

    def step_rows(self):
        """(lo, hi): the event rows replayed by the last advance."""
        return self._step_lo, self.d.v.pos

    @property
    def act_ts(self):
        """When the strategy acts on the last advance: its t plus one market-data latency
        draw (drawn once per step, on first use)."""
        if not self._stepped:
            raise RuntimeError("act_ts: no advance yet")
        cdef int64_t lat
        if not self._act_drawn:
            lat = bot4_sd_md_latency(&self.d)
            if self._step_t > I64_MAX - lat:
                raise OverflowError(f"act_ts: {self._step_t} + {lat} overflows")
            self._act_ts = self._step_t + lat
            self._act_drawn = True
        return self._act_ts

    # ---- market view --------------------------------------------------------------------
    @property
    def touch(self):
        """(bid_px, bid_qty, ask_px, ask_qty) after the last advance; 0 for an empty side."""
        return self.d.bid_px, self.d.bid_qty, self.d.ask_px, self.d.ask_qty

    @property
    def bid_px(self):
        return self.d.bid_px

    @property
    def bid_qty(self):
        return self.d.bid_qty

    @property
    def ask_px(self):
        return self.d.ask_px

    @property
    def ask_qty(self):
        return self.d.ask_qty

    def depth(self, side, n):
        """Up to n best levels of a side of the venue's book now: (prices, qtys) arrays."""
        if side not in _SIDE:
            raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
        cdef int64_t k = check_int(n, "n", 0, 1 << 24)
        px = np.zeros(k, dtype=np.int64)
        q = np.zeros(k, dtype=np.int64)
        if k == 0:
            return px, q
        cdef int64_t[::1] pv = px
        cdef int64_t[::1] qv = q
        k = bot4_book_top(&self.d.v.book, _SIDE[side], k, &pv[0], &qv[0])
        return px[:k], q[:k]

    @property
    def pos(self):
        """Next event row to replay (events[pos_before:pos] were consumed in between)."""
        return self.d.v.pos

    @property
    def now(self):
        """ts_local of the last replayed row (None before the first)."""
        return None if self.d.v.now == I64_MIN else self.d.v.now

    @property
    def done(self):
        return self.d.v.pos >= self.d.n_ev and self.d.n_pend == 0

    @property
    def n_pending(self):
        return self.d.n_pend

    @property
    def n_in_flight(self):
        """Reports made at the venue but not yet visible."""
        return self.d.n_vis

    @property
    def n_orders(self):
        """Ids issued so far (1..n_orders)."""
        return self.d.n_ids

    # ---- orders and money ---------------------------------------------------------------
    def order(self, id):
        """The order as the strategy knows it (state, price, qty, filled) and as the venue
        does (venue_price, venue_qty, venue_filled)."""
        cdef const bot4_sd_order *o = bot4_sd_order_get(&self.d, self._known(id))
        return {"side": SIDES[o.side], "kind": "stop" if o.kind == BOT4_SD_STOP else "limit",
                "tif": _TIF_NAMES[o.tif], "state": STATES[o.state], "price": o.oms_price, "qty": o.oms_qty,
                "filled": o.oms_filled, "venue_price": o.price, "venue_qty": o.qty,
                "venue_filled": o.filled}

    def state(self, id):
        return STATES[bot4_sd_order_get(&self.d, self._known(id)).state]

    def live(self, id):
        """Not in a terminal state, as far as the strategy has been told."""
        return bot4_sd_order_get(&self.d, self._known(id)).state <= 2

    def price(self, id):
        """The order's price as the strategy has been told (its own price until amended)."""
        return bot4_sd_order_get(&self.d, self._known(id)).oms_price

    @property
    def position(self):
        return self.d.acct.position

    def account(self):
        """Exact integer books from the reports popped so far: position lots, cash
        tick-lots, fee units, volume tick-lots, fill counts, state_errors."""
        a = self.d.acct
        return {"position": a.position, "cash": a.cash, "fee_units": a.fee_units,
                "volume": a.volume, "fills": a.fills, "maker_fills": a.maker_fills,
                "taker_fills": a.taker_fills, "state_errors": a.state_errors}

    def fill_delays_ns(self):
        """Per order that had a maker fill: ns from its placement to the first one."""
        cdef int64_t k, n = self.d.queue.n_delays
        out = np.zeros(n, dtype=np.int64)
        cdef int64_t[::1] ov = out
        for k in range(n):
            ov[k] = self.d.queue.delays[k]
        return out

    def stats(self):
        s = self.d.v.stats
        return {"events": s.events, "book_msgs": s.book_msgs, "trades": s.trades,
                "trade_lots_at_our_levels": s.trade_lots_at_our_levels,
                "queue_advance_trades": s.queue_advance_trades,
                "queue_advance_cancels": s.queue_advance_cancels,
                "maker_fills": s.maker_fills, "maker_lots": s.maker_lots,
                "taker_fills": s.taker_fills, "taker_lots": s.taker_lots, "expired": s.expired}

    def queue_summary(self):
        """bot.sim.venue.SimVenue.queue_summary, key for key."""
        cdef bot4_sd_queue q = self.d.queue
        delays = sorted(self.fill_delays_ns().tolist())
        return {
            "orders_rested": q.orders_rested,
            "mean_ahead_at_place_lots": (q.ahead_at_place_total / <double>q.orders_rested) if q.orders_rested else 0.0,
            "rested_lots": q.rested_lots,
            "maker_lots": q.maker_lots,
            "maker_fill_ratio": (q.maker_lots / <double>q.rested_lots) if q.rested_lots else 0.0,
            "median_time_to_first_fill_ms": (delays[len(delays) // 2] / 1e6) if delays else None,
            **{f"core_{k}": v for k, v in self.stats().items()},
        }
