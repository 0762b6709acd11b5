# distutils: sources = csrc/feed_binance.c
"""Recorded Binance feeds -> ``EVENT_DTYPE`` rows, in C (csrc/feed_binance.c).

:func:`parse_binance` turns the decompressed bytes of a recorded file (lines
``<ns ts> <json>``) into the rows ``bot.data.binance.parse_file`` produces, bit for bit,
at millions of messages per second; that Python reader is its reference in the tests.
The scan runs with the GIL released. Arguments are checked here, so the C can trust them.
Where the C is stricter than the Python reader, see csrc/feed_binance.h.
"""

from engine.args cimport check_int
import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t
from libc.string cimport strlen

from engine.events import EVENT_DTYPE


cnp.import_array()


class FeedParseError(ValueError):
    """A line of the feed is bad. ``str()`` is ``"line N: reason (column C)"``; the
    attributes ``line`` (1-based), ``column`` (1-based byte column) and ``reason`` let a
    caller name the file its own way."""

    def __init__(self, line, column, reason):
        super().__init__(f"line {line}: {reason} (column {column})")
        self.line = line
        self.column = column
        self.reason = reason

    def __reduce__(self):  # picklable (e.g. across a process pool)
        return (FeedParseError, (self.line, self.column, self.reason))




cdef bot4_feed_grid _grid(price_scale, tick_units, qty_scale, lot_units) except *:
    cdef bot4_feed_grid g
    g.price_scale = check_int(price_scale, "price_scale", 0, BOT4_FEED_MAX_SCALE)
    g.tick_units = check_int(tick_units, "tick_units", 1, 2**63 - 1)
    g.qty_scale = check_int(qty_scale, "qty_scale", 0, BOT4_FEED_MAX_SCALE)
    g.lot_units = check_int(lot_units, "lot_units", 1, 2**63 - 1)
    return g


cdef const unsigned char[::1] _bytes_view(object data, str name) except *:
    if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, bytearray or memoryview, got {type(data).__name__}")
    cdef const unsigned char[::1] view
    try:
        view = data if not isinstance(data, memoryview) else data.cast("B")
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a C-contiguous byte buffer ({e})") from None
    return view


def parse_binance(data, price_scale, tick_units, qty_scale, lot_units):
    """Rows and statistics of a recorded Binance feed (decompressed bytes).

    ``price_scale``/``tick_units`` and ``qty_scale``/``lot_units`` are the instrument grid
    (``Instrument._price_scale``, ``_tick_units``, ``_qty_scale``, ``_lot_units``).
    Returns ``(events, stats)``: a 1-D ``EVENT_DTYPE`` array in receive order, and a dict
    with ``lines, messages, snapshots, diffs, trades, quotes, skipped`` as
    ``bot.data.binance.ParseStats``. Raises :class:`FeedParseError` (a ``ValueError``)
    ``"line N: reason (column C)"`` for the first bad line; nothing is returned then.
    """
    cdef bot4_feed_grid g = _grid(price_scale, tick_units, qty_scale, lot_units)
    cdef const unsigned char[::1] view = _bytes_view(data, "data")
    cdef size_t n = view.shape[0]
    cdef const char *buf = <const char *>&view[0] if n else NULL
    cdef bot4_feed_result res
    cdef int st
    cdef int64_t cap = <int64_t>(n // 32) + 64  # rows: the recorded files run 46-58 bytes a row
    cdef bot4_event *ptr
    bot4_feed_result_init(&res)
    out = np.empty(cap, dtype=EVENT_DTYPE)
    while True:
        ptr = <bot4_event *>cnp.PyArray_DATA(out)
        with nogil:
            st = bot4_feed_binance_parse(buf, n, &g, ptr, cap, &res)
        if st != BOT4_FEED_NEED_ROOM:
            break
        cap = max(cap * 2, res.need_rows)
        out.resize(cap, refcheck=False)  # realloc keeps rows [0, res.rows)
    if st == BOT4_FEED_EPARSE:
        raise FeedParseError(res.err_line, res.err_col, res.reason[:strlen(res.reason)].decode("utf-8", "replace"))
    if st == BOT4_FEED_ENOMEM:
        raise MemoryError("parse_binance: out of memory copying the last line")
    if st != BOT4_FEED_OK:
        raise ValueError(f"parse_binance: invalid arguments (status {st})")
    out.resize(res.rows, refcheck=False)
    stats = {"lines": res.lines, "messages": res.messages, "snapshots": res.snapshots,
             "diffs": res.diffs, "trades": res.trades, "quotes": res.quotes, "skipped": res.skipped}
    return out, stats


def decimal_steps(text, scale, step_units):
    """Plain decimal text -> steps of ``step_units * 10**-scale`` by the scanner's exact
    (128-bit) path, or None when the text is not a non-negative decimal on that grid or
    the steps overflow int64. For tests against ``bot.data.instruments.decimal_text_units``."""
    cdef const unsigned char[::1] view = _bytes_view(text, "text")
    cdef int32_t sc = check_int(scale, "scale", 0, BOT4_FEED_MAX_SCALE)
    cdef int64_t step = check_int(step_units, "step_units", 1, 2**63 - 1)
    cdef int64_t v = 0
    cdef size_t n = view.shape[0]
    cdef const char *p = <const char *>&view[0] if n else NULL
    if bot4_feed_decimal_steps(p, n, sc, step, &v) != BOT4_FEED_OK:
        return None
    return v
