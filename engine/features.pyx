# distutils: sources = csrc/micro_features.c csrc/book.c csrc/simd.c
"""Streaming microstructure features over csrc/micro_features.c (formulas and sources in
that header; names and units in engine.feature_layout).

Two drivers over one C implementation:

- :class:`Features` for live use: the caller applies each event to its ``engine.book.Book``,
  then calls :meth:`Features.update` with the same rows; :meth:`Features.sample` returns
  the vector at a decision point.
- :func:`compute` for a whole recorded/synthetic array: it validates the array, applies each
  book message to a private book and samples every N rows or every interval.
"""

import numpy as np
cimport numpy as cnp
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t
from libc.stdlib cimport free, malloc

from engine.args cimport check_int64

from engine.book cimport (
    BOT4_BOOK_OK, BOT4_BOOK_PENDING_DEFAULT, BOT4_BOOK_WINDOW_DEFAULT, Book, bot4_book,
    bot4_book_free, bot4_book_init, bot4_book_validate_batch, bot4_book_verr, bot4_event,
)

from engine.events import EVENT_DTYPE
from engine.feature_layout import LEVELS, N_FEATURES, NAMES, FeatureParams

cnp.import_array()

from engine import simd as _simd

if bot4_features_dispatch_init(_simd.LEVEL) != BOT4_FEATURES_OK:
    raise ImportError(f"engine.features: unknown SIMD level {_simd.LEVEL}")

if BOT4_F_N != N_FEATURES or BOT4_FEATURES_LEVELS != LEVELS:
    raise ImportError(f"csrc/micro_features.h has {BOT4_F_N} features/{BOT4_FEATURES_LEVELS} levels, "
                      f"engine.feature_layout {N_FEATURES}/{LEVELS}: rebuild engine.features")

# Top levels after each book message (mirrors bot4_features_levels).
LEVELS_DTYPE = np.dtype([("ts", "<i8"), ("bid_px", "<i8", (LEVELS,)), ("bid_qty", "<i8", (LEVELS,)),
                         ("ask_px", "<i8", (LEVELS,)), ("ask_qty", "<i8", (LEVELS,))])
assert LEVELS_DTYPE.itemsize == sizeof(bot4_features_levels)

from engine.book import _VERR  # the book's names for its validation reasons (one table)


def touch_volume(px, side, qty, price, side_value, level=None):
    """The SIMD kernel of the queue fill rate: sum of qty[i] where px[i] == price and
    side[i] == side_value (int64 arrays of one length). `level` names the body to run
    (scalar|avx2|avx512; default: the one engine.simd chose), so tests can compare them."""
    cdef int64_t px_value = check_int64(price, "price", INT64_MIN, INT64_MAX)
    cdef int64_t side_code = check_int64(side_value, "side_value", INT64_MIN, INT64_MAX)
    cdef int code
    if level is None:
        code = _simd.LEVEL
    else:
        if level not in _simd.LEVELS:
            raise ValueError(f"level must be one of {_simd.LEVELS} or None, got {level!r}")
        if not _simd.supported(level):
            raise ValueError(f"level {level!r} cannot run on this CPU (best: {_simd.best()})")
        code = _simd.level_code(level)
    arrs = [np.ascontiguousarray(a, dtype=np.int64) for a in (px, side, qty)]
    if not (arrs[0].ndim == arrs[1].ndim == arrs[2].ndim == 1) or not (len(arrs[0]) == len(arrs[1]) == len(arrs[2])):
        raise ValueError(f"px, side, qty must be 1-D of one length, got shapes "
                         f"{arrs[0].shape}, {arrs[1].shape}, {arrs[2].shape}")
    cdef const int64_t[::1] p = arrs[0]
    cdef const int64_t[::1] s = arrs[1]
    cdef const int64_t[::1] q = arrs[2]
    cdef int64_t n = p.shape[0]
    if n == 0:
        return 0
    return bot4_features_touch_volume_level(code, &p[0], &s[0], &q[0], n, px_value, side_code)


class FeatureInputError(ValueError):
    """The event array handed to the features is malformed (names the row, field, value)."""


cdef bot4_features_params _params(object params) except *:
    if params is None:
        params = FeatureParams()
    if not isinstance(params, FeatureParams):
        raise TypeError(f"params must be a bot.features.FeatureParams, got {type(params).__name__}")
    cdef bot4_features_params p
    p.ofi_window = params.ofi_window
    p.kyle_window = params.kyle_window
    p.rv_window = params.rv_window
    p.cancel_short = params.cancel_short
    p.cancel_long = params.cancel_long
    p.trade_window = params.trade_window
    p.bvc_window = params.bvc_window
    p.vpin_bucket = params.vpin_bucket
    p.vpin_buckets = params.vpin_buckets
    p.momentum_lag = params.momentum_lag
    if bot4_features_params_check(&p) != BOT4_FEATURES_OK:
        raise ValueError(f"invalid feature params {params!r}")
    return p


def _events(events, str what="events"):
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE or events.ndim != 1:
        raise FeatureInputError(f"{what} must be a 1-D EVENT_DTYPE array, got "
                                f"{getattr(events, 'dtype', type(events).__name__)}")
    return np.ascontiguousarray(events)


def _event_error(int64_t row, int reason, int64_t value):
    field, why = _VERR.get(reason, ("?", f"reason {reason}"))
    return FeatureInputError(f"events row {row}: bad {field}, value {value} ({why})")


def validate(events):
    """Raise FeatureInputError naming the first malformed row, field and value."""
    ev = _events(events)
    cdef const unsigned char[::1] raw = ev.view(np.uint8)
    cdef bot4_book_verr err
    cdef int64_t ndiff = 0
    cdef int rc
    cdef int64_t n = ev.shape[0]
    with nogil:
        rc = bot4_book_validate_batch(<const bot4_event *>&raw[0] if n else NULL, n, &err, &ndiff)
    if rc != BOT4_BOOK_OK:
        raise _event_error(err.row, err.reason, err.value)
    return ev


cdef class Features:
    """Streaming features for a live driver (see the module docstring)."""

    def __cinit__(self, params=None):
        cdef bot4_features_params p = _params(params)
        self.ready = False
        if bot4_features_init(&self.f, &p) != BOT4_FEATURES_OK:
            raise MemoryError("bot4_features_init failed")
        self.ready = True

    def __dealloc__(self):
        if self.ready:
            bot4_features_free(&self.f)

    def process(self, Book book not None, events):
        """Apply `events` (whole messages, validated) to `book` message by message and
        update the features after each: the live driver's loop, the same C as compute()."""
        ev = validate(events)
        cdef const unsigned char[::1] raw = ev.view(np.uint8) if ev.shape[0] else np.zeros(64, np.uint8)
        cdef int64_t n = ev.shape[0], n_out = 0
        cdef int rc
        cdef double dummy[1]
        cdef int64_t dummy_row[1]
        with nogil:
            rc = bot4_features_run(&self.f, &book.b, <const bot4_event *>&raw[0], n, 0, 0,
                                   dummy, dummy_row, 0, &n_out, NULL, 0, NULL, NULL)
        if rc == BOT4_FEATURES_ENOMEM:
            raise MemoryError("the book ran out of memory")
        if rc != BOT4_FEATURES_OK:
            raise RuntimeError(f"bot4_features_run returned {rc}")

    def update(self, Book book, events):
        """Feed rows that `book` has already applied. A book message's features are read
        from the book as it stands when its END row arrives, so call this after each
        message is applied (or use :meth:`process`, which applies and updates). `book` may
        be None when the rows hold no book message (trades and quotes beside a
        partial-depth feed given to :meth:`update_levels`)."""
        ev = _events(events)
        if book is None and ev.shape[0] and ((ev["kind"] == 1) | (ev["kind"] == 2)).any():
            bad = int(np.flatnonzero((ev["kind"] == 1) | (ev["kind"] == 2))[0])
            raise FeatureInputError(f"events row {bad}: a book row needs the book it was applied to (book is None)")
        kinds = ev["kind"]
        if ev.shape[0] and (kinds.min() < 1 or kinds.max() > 4):
            bad = int(np.flatnonzero((kinds < 1) | (kinds > 4))[0])
            raise FeatureInputError(f"events row {bad}: bad kind, value {int(kinds[bad])}")
        sides = ev["side"]
        if ev.shape[0] and sides.max() > 2:
            bad = int(np.flatnonzero(sides > 2)[0])
            raise FeatureInputError(f"events row {bad}: bad side, value {int(sides[bad])}")
        cdef const unsigned char[::1] raw = ev.view(np.uint8)
        cdef const bot4_event *p = <const bot4_event *>&raw[0] if ev.shape[0] else NULL
        cdef int64_t i, n = ev.shape[0]
        cdef const bot4_book *bp = &book.b if book is not None else NULL
        with nogil:
            for i in range(n):
                bot4_features_on_event(&self.f, bp, p + i)

    def update_levels(self, levels):
        """The top levels after each message of a feed that delivers them itself (a
        partial-depth stream: Binance depth5/10/20, Tardis book_snapshot_5), no book kept:
        LEVELS_DTYPE rows in order, each with its message's ts_local. Rows are checked
        (validate_levels, and ts not before the last event seen) before any is applied."""
        lv = validate_levels(levels)
        cdef int64_t n = lv.shape[0]
        if n:
            ts = lv["ts"]
            if int(ts[0]) < self.f.now or (n > 1 and (np.diff(ts) < 0).any()):
                bad = 0 if int(ts[0]) < self.f.now else int(np.flatnonzero(np.diff(ts) < 0)[0]) + 1
                raise FeatureInputError(f"levels row {bad}: bad ts, value {int(ts[bad])} "
                                        f"(before the previous event, ts {self.f.now if bad == 0 else int(ts[bad - 1])})")
        cdef const unsigned char[::1] raw = lv.view(np.uint8) if n else np.zeros(LEVELS_DTYPE.itemsize, np.uint8)
        cdef const bot4_features_levels *p = <const bot4_features_levels *>&raw[0]
        cdef int64_t i
        with nogil:
            for i in range(n):
                bot4_features_on_levels(&self.f, p + i)

    def vector(self):
        """The current feature vector (float64[N_FEATURES]); no decision point is marked."""
        out = np.empty(N_FEATURES, dtype=np.float64)
        cdef double[::1] o = out
        bot4_features_vector(&self.f, &o[0])
        return out

    def sample(self):
        """The vector at a decision point (advances the microprice momentum ring)."""
        out = np.empty(N_FEATURES, dtype=np.float64)
        cdef double[::1] o = out
        bot4_features_sample(&self.f, &o[0])
        return out

    def reset(self):
        bot4_features_reset(&self.f)

    @property
    def messages(self):
        return self.f.msgs

    @property
    def trades(self):
        return self.f.trades

    @property
    def samples(self):
        return self.f.samples


cdef int64_t _book_messages(ev):
    """Book messages in a validated event array (rows of kind snapshot/update with END)."""
    cdef const unsigned char[::1] raw = ev.view(np.uint8) if ev.shape[0] else np.zeros(64, np.uint8)
    cdef const bot4_event *p = <const bot4_event *>&raw[0]
    cdef int64_t i, count = 0, n = ev.shape[0]
    with nogil:
        for i in range(n):
            count += (p[i].kind == 1 or p[i].kind == 2) and (p[i].flags & 2) != 0
    return count


def _levels_array(levels):
    if not isinstance(levels, np.ndarray) or levels.dtype != LEVELS_DTYPE or levels.ndim != 1:
        raise FeatureInputError(f"levels must be a 1-D LEVELS_DTYPE array, got "
                                f"{getattr(levels, 'dtype', type(levels).__name__)}")
    return np.ascontiguousarray(levels)


def validate_levels(levels, n_messages=-1):
    """Raise FeatureInputError naming the first malformed row of a LEVELS_DTYPE array (the
    top levels after each book message): per side a prefix of levels with qty > 0 and
    price > 0, strictly worse level by level (bids descending, asks ascending), then (0, 0)
    for the missing ones. With n_messages >= 0, the row count must equal it."""
    cdef int64_t n_msgs = check_int64(n_messages, "n_messages", INT64_MIN, INT64_MAX)
    lv = _levels_array(levels)
    if n_msgs >= 0 and lv.shape[0] != n_msgs:
        raise FeatureInputError(f"levels has {lv.shape[0]} rows for {n_messages} book messages")
    cdef const unsigned char[::1] raw = lv.view(np.uint8) if lv.shape[0] else np.zeros(LEVELS_DTYPE.itemsize, np.uint8)
    cdef int64_t row = 0, n = lv.shape[0]
    cdef int side = 0, level = 0, reason = 0, rc
    with nogil:
        rc = bot4_features_levels_check(<const bot4_features_levels *>&raw[0], n, &row, &side, &level, &reason)
    if rc != BOT4_FEATURES_OK:
        raise _levels_error(lv, row, side, level, reason)
    return lv


def _levels_error(lv, int64_t row, int side, int level, int reason):
    name = ("bid", "ask")[side]
    field = f"{name}_qty" if reason in (BOT4_FEATURES_LV_QTY, BOT4_FEATURES_LV_GAP) else f"{name}_px"
    value = int(lv[field][row, level])
    return FeatureInputError(f"levels row {row}: bad {field}[{level}], value {value} ({_LV_WHY[reason]})")


_LV_WHY = {
    BOT4_FEATURES_LV_QTY: "negative quantity",
    BOT4_FEATURES_LV_PRICE: "price out of range at a level with quantity",
    BOT4_FEATURES_LV_MISSING_PRICE: "price of a missing level is not 0",
    BOT4_FEATURES_LV_GAP: "a level after a missing one",
    BOT4_FEATURES_LV_ORDER: "not strictly worse than the level before it",
}


def compute(events, params=None, every=0, interval_ns=0, bint trace=False, levels=None):
    """Feature time series of a whole event array.

    Samples after the row closing a message (or a trade) once `every` rows have passed, or
    `interval_ns` has elapsed (ts_local), since the last sample; give exactly one of them.
    Returns a dict: ``row`` (int64, the row sampled after), ``ts`` (its ts_local),
    ``values`` (float64 [samples, N_FEATURES], columns in engine.feature_layout.NAMES order)
    and, with trace=True, ``levels`` (LEVELS_DTYPE, top levels after every book message).

    With ``levels`` (LEVELS_DTYPE, one row per book message, e.g. a previous trace or a
    partial-depth feed's top levels) no book is kept: each message's state is taken from
    it (its ts from the message's END row), and the book rows' own contents are not read.
    """
    cdef int64_t every_rows = check_int64(every, "every", INT64_MIN, INT64_MAX)
    cdef int64_t every_ns = check_int64(interval_ns, "interval_ns", INT64_MIN, INT64_MAX)
    if (every_rows > 0) == (every_ns > 0) or every_rows < 0 or every_ns < 0:
        raise ValueError(f"give exactly one of every={every} (rows) or interval_ns={interval_ns} (> 0)")
    if trace and levels is not None:
        raise ValueError("trace=True records the book's levels; with levels given there is no book")
    cdef bot4_features_params p = _params(params)
    # the rows (and given levels) are checked inside the run, piece by piece just before
    # use (one pass over memory); a malformed one raises here and the private state is dropped
    ev = _events(events)
    cdef int64_t n = ev.shape[0]
    cdef int64_t cap
    if every_rows > 0:
        cap = n // every_rows + 1
    else:
        span = int(ev["ts_local"][n - 1] - ev["ts_local"][0]) if n else 0
        cap = min(n, span // every_ns + 2)
    cap = max(cap, 1)
    values = np.empty((cap, N_FEATURES), dtype=np.float64)
    rows = np.empty(cap, dtype=np.int64)
    cdef int64_t book_msgs = 0
    if trace:
        book_msgs = _book_messages(ev)
    if levels is not None:
        given = _levels_array(levels)
        # the run stops when the levels run out; one left over is caught after it (the
        # message count then comes from the run, not from another pass over the rows)
        book_msgs = given.shape[0]
        trace_out = None
    else:
        given = None
        trace_out = np.zeros(max(book_msgs, 1), dtype=LEVELS_DTYPE)
    lv = given if given is not None else trace_out
    cdef double[:, ::1] vo = values
    cdef int64_t[::1] ro = rows
    cdef const unsigned char[::1] lraw = lv.view(np.uint8) if lv.shape[0] else np.zeros(LEVELS_DTYPE.itemsize, np.uint8)
    cdef const unsigned char[::1] raw = ev.view(np.uint8) if n else np.zeros(64, np.uint8)
    cdef bot4_features f
    cdef bot4_book b
    cdef int64_t n_out = 0, n_trace = 0, f_msgs = 0
    cdef int rc
    cdef bot4_features_fault fault
    cdef bint use_book = given is None
    cdef bot4_features_levels *lvp = <bot4_features_levels *>&lraw[0]
    cdef bot4_features_levels *tr = lvp if trace else NULL
    if bot4_features_init(&f, &p) != BOT4_FEATURES_OK:
        raise MemoryError("bot4_features_init failed")
    if use_book and bot4_book_init(&b, BOT4_BOOK_WINDOW_DEFAULT, BOT4_BOOK_PENDING_DEFAULT) != BOT4_BOOK_OK:
        bot4_features_free(&f)
        raise MemoryError("bot4_book_init failed")
    try:
        with nogil:
            if use_book:
                rc = bot4_features_run(&f, &b, <const bot4_event *>&raw[0], n, every_rows, every_ns,
                                       &vo[0, 0], &ro[0], cap, &n_out, tr, book_msgs, &n_trace, &fault)
            else:
                rc = bot4_features_run_levels(&f, <const bot4_event *>&raw[0], n, lvp, book_msgs,
                                              every_rows, every_ns, &vo[0, 0], &ro[0], cap, &n_out, &fault)
        f_msgs = f.msgs
    finally:
        if use_book:
            bot4_book_free(&b)
        bot4_features_free(&f)
    if given is not None and (rc == BOT4_FEATURES_EINVAL and f_msgs == book_msgs or
                              rc == BOT4_FEATURES_OK and f_msgs != book_msgs):
        raise FeatureInputError(f"levels has {book_msgs} rows for {_book_messages(ev)} book messages")
    if rc == BOT4_FEATURES_EBADINPUT:
        if fault.source == BOT4_FEATURES_FAULT_LEVELS:
            raise _levels_error(given, fault.row, fault.side, fault.level, fault.reason)
        raise _event_error(fault.row, fault.reason, fault.value)
    if rc == BOT4_FEATURES_ENOMEM:
        raise MemoryError("the book ran out of memory while replaying the events")
    if rc != BOT4_FEATURES_OK:
        raise RuntimeError(f"bot4_features_run returned {rc} (output capacity {cap})")
    # views, not copies: the arrays were sized for the samples (a copy would only fault in
    # fresh pages for the same data)
    out = {"row": rows[:n_out], "ts": ev["ts_local"][rows[:n_out]], "values": values[:n_out]}
    if trace:
        out["levels"] = trace_out[:n_trace].copy()
    return out
