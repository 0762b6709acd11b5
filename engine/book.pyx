# distutils: sources = csrc/book.c
"""L2 order book on int64 ticks and lots, over csrc/book.c.

Representation and costs: see csrc/book.h (dense window + occupancy bitmap around the
touch, sorted overflow for far-away levels). Sides are ``SIDE_BID = 0`` and
``SIDE_ASK = 1`` (engine.events).

Everything entering here is checked before the book is touched; a bad argument raises
``ValueError``/``TypeError`` naming the field, row and value and leaves the book as it
was. The C below trusts what passes.

Batch input is a 1-D C-contiguous array of exactly ``engine.events.EVENT_DTYPE``:
  * rows must be in non-decreasing ``ts_local`` (an unsorted batch is rejected);
  * snapshot and diff messages are runs of rows framed by EVF_BEGIN .. EVF_END sharing
    their sequence ids; a batch holds whole messages (a message never spans two batches);
  * snapshot bids strictly descending, asks strictly ascending (best first, as Binance
    sends them), quantities > 0, not crossed;
  * trade and quote rows are validated for range and counted as skipped.
Diffs that arrive before the first snapshot (or after a gap) are BUFFERED, as Binance's
procedure says, and run through the sequence rules (spot or futures) when the next
snapshot arrives; see ``Book.apply_batch``.
"""

from collections import namedtuple

import numpy as np

cimport numpy as cnp
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint64_t
from libc.string cimport memset

from engine.args cimport check_int, check_int64

from engine.book cimport *

from engine.events import EVENT_DTYPE


cdef _check_event_layout():
    """engine.events.EVENT_DTYPE must be csrc/events.h's bot4_event, field for field."""
    cdef bot4_event e
    cdef char *base = <char *>&e
    c_offsets = {"ts_exch": <char *>&e.ts_exch - base, "ts_local": <char *>&e.ts_local - base,
                 "price": <char *>&e.price - base, "qty": <char *>&e.qty - base,
                 "seq_first": <char *>&e.seq_first - base, "seq_last": <char *>&e.seq_last - base,
                 "seq_prev": <char *>&e.seq_prev - base, "kind": <char *>&e.kind - base,
                 "side": <char *>&e.side - base, "flags": <char *>&e.flags - base,
                 "reserved": <char *>&e.reserved - base}
    py_offsets = {name: EVENT_DTYPE.fields[name][1] for name in EVENT_DTYPE.names}
    if sizeof(bot4_event) != EVENT_DTYPE.itemsize or c_offsets != py_offsets:
        raise ImportError(f"engine.events.EVENT_DTYPE ({EVENT_DTYPE.itemsize} bytes, {py_offsets}) "
                          f"differs from csrc/events.h bot4_event ({sizeof(bot4_event)} bytes, "
                          f"{c_offsets}): rebuild the engine")


_check_event_layout()

cnp.import_array()

SIDE_BID = 0
SIDE_ASK = 1

PRICE_MAX = BOT4_BOOK_PRICE_MAX
WINDOW_DEFAULT = BOT4_BOOK_WINDOW_DEFAULT
PENDING_DEFAULT = BOT4_BOOK_PENDING_DEFAULT

#: One row per applied diff message: its u and the top of book after it (0, 0 = empty side).
BBO_DTYPE = np.dtype([
    ("u", "<i8"), ("ts_local", "<i8"),
    ("bid_price", "<i8"), ("bid_qty", "<i8"), ("ask_price", "<i8"), ("ask_qty", "<i8"),
])
assert BBO_DTYPE.itemsize == sizeof(bot4_book_bbo)

STATS_FIELDS = ("rows", "level_updates", "snapshots", "diffs_applied", "diffs_stale",
                "diffs_buffered", "diffs_buffer_dropped", "diffs_no_snapshot", "gaps", "resyncs",
                "crossed", "rows_skipped", "bbo_written", "diffs_buffer_rows_copied")

#: Book(sequencing=...): which Binance rule checks sequenced diffs (see Book.apply_batch).
SEQUENCING = {"auto": BOT4_BOOK_SEQ_AUTO, "spot": BOT4_BOOK_SEQ_SPOT,
              "futures": BOT4_BOOK_SEQ_FUTURES}
_SEQUENCING_NAMES = {v: k for k, v in SEQUENCING.items()}

FillCost = namedtuple("FillCost", "filled notional vwap levels complete")
FillCost.__doc__ = """Walking one side from the touch to take `qty` lots.
filled: lots taken (< qty when the side runs out: complete is False);
notional: exact sum of price_ticks * lots (int); vwap: notional / filled in ticks (float,
None when nothing filled); levels: price levels touched."""

_STATE_NAMES = {BOT4_BOOK_WAIT_SNAPSHOT: "waiting_snapshot", BOT4_BOOK_SYNCING: "syncing",
                BOT4_BOOK_LIVE: "live"}

# reason code -> (field, explanation)
_VERR = {
    1: ("kind", "kind must be 1..4 (snapshot, update, trade, quote)"),
    2: ("side", "side must be 0 (bid), 1 (ask) or 2 (none)"),
    3: ("price", f"price must be in 1..{BOT4_BOOK_PRICE_MAX} ticks"),
    4: ("qty", "qty must be >= 0 lots"),
    5: ("ts_local", "rows must be in non-decreasing ts_local (unsorted batch)"),
    6: ("flags", "snapshot/update row outside a message (no EVF_BEGIN)"),
    7: ("flags", "EVF_BEGIN while the previous message is still open"),
    8: ("flags", "message not closed by EVF_END before this kind / the batch end"),
    9: ("seq_first", "seq_first differs within one message"),
    10: ("seq_last", "seq_last differs within one message"),
    11: ("seq_prev", "seq_prev differs within one message"),
    12: ("seq_first", "diff seq_first (U) must be in 0..seq_last, or -1 when seq_last is -1"),
    13: ("seq_last", "seq_last must be >= 0, or -1 (SEQ_NONE) for an unsequenced message"),
    14: ("side", "side NONE is only allowed as the single row of an empty message"),
    15: ("qty", "snapshot levels must have qty > 0"),
    16: ("price", "snapshot bids must strictly descend and asks strictly ascend (sorted, no duplicates)"),
    17: ("price", "snapshot is crossed (best bid >= best ask)"),
}


_INVARIANTS = {
    1: "summary bit disagrees with its bitmap word",
    2: "a window quantity and its occupancy bit disagree",
    3: "negative quantity in the window",
    4: "window level count is wrong",
    5: "best index is not the highest occupied slot",
    6: "overflow level at/above the window base or with qty <= 0",
    7: "overflow keys not strictly ascending",
    8: "window empty while the overflow is not",
}


cdef inline object _stats_dict(const bot4_book_stats *s):
    return {
        "rows": s.rows, "level_updates": s.level_updates, "snapshots": s.snapshots,
        "diffs_applied": s.diffs_applied, "diffs_stale": s.diffs_stale,
        "diffs_buffered": s.diffs_buffered, "diffs_buffer_dropped": s.diffs_buffer_dropped,
        "diffs_no_snapshot": s.diffs_no_snapshot,
        "gaps": s.gaps, "resyncs": s.resyncs, "crossed": s.crossed,
        "rows_skipped": s.rows_skipped, "bbo_written": s.bbo_written,
        "diffs_buffer_rows_copied": s.diffs_buffer_rows_copied,
    }


cdef inline int64_t _int64(object v, str name) except? -1:
    """v as int64, or TypeError/ValueError naming the field: no silent float truncation."""
    return check_int64(v, name, INT64_MIN, INT64_MAX)


cdef inline int _idle(Book book) except -1:
    if book.busy:
        raise RuntimeError("book is being updated by apply_batch/apply_snapshot in another "
                           "thread; a Book is not thread-safe (guard it with a lock)")
    return 0


cdef int _sequencing_mode(object name) except -1:
    if not isinstance(name, str) or name not in SEQUENCING:
        raise ValueError(f"sequencing must be one of {', '.join(map(repr, SEQUENCING))}, got {name!r}")
    return SEQUENCING[name]


cdef inline int _check_side(int64_t side) except -1:
    if side != SIDE_BID and side != SIDE_ASK:
        raise ValueError(f"side must be 0 (bid) or 1 (ask), got {side}")
    return 0


def check_events(events):
    """Validate an event batch once for a replayer that keeps it (the simulated venue and
    its driver): `events` must be a contiguous EVENT_DTYPE array that passes
    bot4_book_validate_batch; ValueError naming the row, field and value otherwise.
    Returns the number of diff messages in it."""
    cdef cnp.ndarray ev = events
    cdef const bot4_event *p = <const bot4_event *>cnp.PyArray_DATA(ev)
    cdef int64_t n = ev.shape[0], n_diffs = 0
    cdef bot4_book_verr err
    cdef int rc
    with nogil:
        rc = bot4_book_validate_batch(p, n, &err, &n_diffs)
    if rc != BOT4_BOOK_OK:
        field, why = _VERR.get(err.reason, ("?", f"reason {err.reason}"))
        raise ValueError(f"events row {err.row}: {field} = {err.value}: {why}")
    return n_diffs


def _level_array(name, x, check_price):
    """x as a 1-D C-contiguous int64 array, or a ValueError/TypeError naming name."""
    if isinstance(x, np.ndarray):
        a = x
    else:
        a = np.asarray(x)
        if a.size == 0:
            a = a.astype(np.int64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.dtype.kind == "f":
        bad = np.flatnonzero(np.isnan(a))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] is NaN")
        raise TypeError(f"{name} must be int64 (ticks/lots), got {a.dtype}")
    if a.dtype != np.int64:
        if a.dtype.kind in "iu" and a.size and (a.min() < -2**63 or a.max() > 2**63 - 1):
            raise ValueError(f"{name} does not fit int64")
        if a.dtype.kind not in "iu":
            raise TypeError(f"{name} must be int64 (ticks/lots), got {a.dtype}")
        a = a.astype(np.int64)
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if check_price:
        bad = np.flatnonzero((a <= 0) | (a > BOT4_BOOK_PRICE_MAX))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] = {a[bad[0]]}: price must be in 1..{BOT4_BOOK_PRICE_MAX} ticks")
    else:
        bad = np.flatnonzero(a <= 0)
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] = {a[bad[0]]}: snapshot qty must be > 0 lots")
    return a


cdef cnp.ndarray _int64_vector(str name, object x):
    """x as a 1-D C-contiguous, aligned, native-order int64 array (no copy when it is one
    already), or a TypeError/ValueError naming name: integers only, no float truncation."""
    cdef cnp.ndarray arr
    if type(x) is np.ndarray:
        arr = x
        if (cnp.PyArray_TYPE(arr) == cnp.NPY_INT64 and cnp.PyArray_NDIM(arr) == 1
                and cnp.PyArray_ISCARRAY_RO(arr) and cnp.PyArray_ISNOTSWAPPED(arr)):
            return arr
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size == 0:
        return np.empty(0, dtype=np.int64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers (int64), got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.max() > INT64_MAX:
        k = int(np.argmax(a > INT64_MAX))
        raise ValueError(f"{name}[{k}] = {a[k]} does not fit int64")
    return np.ascontiguousarray(a, dtype=np.int64)


cdef int64_t _check_top_out(object out, int64_t rows) except -1:
    """Levels per side of a top-N output: out must be a writable, C-contiguous, aligned
    native int64 array of shape (4, n) when rows is -1, else (rows, 4, n)."""
    cdef cnp.ndarray a
    cdef int nd = 2 if rows < 0 else 3
    if isinstance(out, np.ndarray):
        a = out
        if (cnp.PyArray_TYPE(a) == cnp.NPY_INT64 and cnp.PyArray_NDIM(a) == nd
                and cnp.PyArray_DIM(a, nd - 2) == 4 and (rows < 0 or cnp.PyArray_DIM(a, 0) == rows)
                and cnp.PyArray_ISCARRAY(a) and cnp.PyArray_ISNOTSWAPPED(a)):
            return cnp.PyArray_DIM(a, nd - 1)
    want = "(4, n)" if rows < 0 else f"({rows}, 4, n)"
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy int64 array of shape {want}, "
                        f"got {type(out).__name__}")
    if out.dtype != np.int64:
        raise TypeError(f"out must be int64, got {out.dtype}")
    shape = out.shape
    if len(shape) != nd or shape[nd - 2] != 4 or (rows >= 0 and shape[0] != rows):
        raise ValueError(f"out must have shape {want}, got {shape}")
    raise ValueError("out must be a writable, C-contiguous, aligned native int64 array")


cdef inline void _top_both(const bot4_book *b, int64_t n, int64_t *o,
                           int64_t *nb, int64_t *na) noexcept nogil:
    """Top n levels of both sides into o (4 rows of n: bid px, bid qty, ask px, ask qty),
    the slots past a side's last level zeroed."""
    nb[0] = bot4_book_top(b, 0, n, o, o + n)
    na[0] = bot4_book_top(b, 1, n, o + 2 * n, o + 3 * n)
    if nb[0] < n:
        memset(o + nb[0], 0, (n - nb[0]) * sizeof(int64_t))
        memset(o + n + nb[0], 0, (n - nb[0]) * sizeof(int64_t))
    if na[0] < n:
        memset(o + 2 * n + na[0], 0, (n - na[0]) * sizeof(int64_t))
        memset(o + 3 * n + na[0], 0, (n - na[0]) * sizeof(int64_t))


def top_many(books, out):
    """Top n levels of both sides of each book in `books` (a sequence of Book, e.g. every
    instrument of a portfolio at one decision point) in one call, into `out`: a writable
    C-contiguous int64 array of shape (len(books), 4, n) whose out[i] is filled as
    ``books[i].top_into(out[i])`` would (rows bid price, bid qty, ask price, ask qty; price
    0 and qty 0 past a side's last level). Every argument is checked before anything is
    written: a non-Book entry raises TypeError, a Book in use by another thread
    RuntimeError, and out is left unchanged."""
    seq = books if type(books) is list or type(books) is tuple else list(books)
    cdef Py_ssize_t m = len(seq), i
    cdef int64_t n = _check_top_out(out, m)
    for i in range(m):
        bk = seq[i]
        if not isinstance(bk, Book):
            raise TypeError(f"books[{i}] must be a Book, got {type(bk).__name__}")
        _idle(<Book>bk)
    if n == 0:
        return
    cdef int64_t *o = <int64_t *>cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef int64_t nb, na
    for i in range(m):  # the GIL is held: no other thread can start using these books
        _top_both(&(<Book>seq[i]).b, n, o + i * 4 * n, &nb, &na)


cdef class Book:
    """L2 book of one instrument: int64 price ticks (> 0), int64 lots (>= 0).

    Book(window_ticks=131072, pending_rows=262144, sequencing="auto"): window_ticks is the
    dense window per side around the touch (a power of two, 4096 .. 16777216: set it to
    cover where most updates land, e.g. 2^17 ticks = 1,311 USD at tick 0.01); pending_rows
    bounds the rows of diffs buffered while waiting for a snapshot, a ring (oldest messages
    dropped and counted in diffs_buffer_dropped beyond it, O(1) per buffered row);
    sequencing picks Binance's rule for sequenced diffs: "spot", "futures" (USD-M and
    COIN-M), or "auto" (each diff by itself: futures when it carries pu, seq_prev != -1,
    which spot diffs never do).

    Not thread-safe: apply_batch/apply_snapshot release the GIL, and any call made on the
    same Book from another thread meanwhile raises RuntimeError instead of racing. The
    events array must not be modified by another thread during apply_batch.
    """

    def __cinit__(self, window_ticks=BOT4_BOOK_WINDOW_DEFAULT,
                  pending_rows=BOT4_BOOK_PENDING_DEFAULT, sequencing="auto"):
        self.ready = False
        self.busy = False
        cdef int64_t window = _int64(window_ticks, "window_ticks")
        cdef int64_t pending = _int64(pending_rows, "pending_rows")
        cdef int mode = _sequencing_mode(sequencing)
        if (window < BOT4_BOOK_WINDOW_MIN or window > BOT4_BOOK_WINDOW_MAX
                or (window & (window - 1))):
            raise ValueError(f"window_ticks must be a power of two in {BOT4_BOOK_WINDOW_MIN}.."
                             f"{BOT4_BOOK_WINDOW_MAX}, got {window}")
        if pending < 1:
            raise ValueError(f"pending_rows must be >= 1, got {pending}")
        if bot4_book_init(&self.b, window, pending) != BOT4_BOOK_OK:
            raise MemoryError("book: cannot allocate the windows")
        bot4_book_set_sequencing(&self.b, mode)
        self.ready = True

    def __dealloc__(self):
        if self.ready:
            bot4_book_free(&self.b)

    # ------------------------------------------------------------------ updates
    def update(self, side_, price_, qty_):
        """Set one level (qty 0 deletes; deleting an absent level is a no-op). No
        sequence checks: this is the direct path for live single-level feeds and tests."""
        _idle(self)
        cdef int64_t side = _int64(side_, "side")
        cdef int64_t price = _int64(price_, "price")
        cdef int64_t qty = _int64(qty_, "qty")
        if side != 0 and side != 1:
            raise ValueError(f"side must be 0 (bid) or 1 (ask), got {side}")
        if price <= 0 or price > BOT4_BOOK_PRICE_MAX:
            raise ValueError(f"price must be in 1..{BOT4_BOOK_PRICE_MAX} ticks, got {price}")
        if qty < 0:
            raise ValueError(f"qty must be >= 0 lots, got {qty}")
        if bot4_book_update(&self.b, <int> side, price, qty) != BOT4_BOOK_OK:
            raise MemoryError("book: out of memory growing the overflow levels")

    def update_levels(self, sides, prices, qtys):
        """Set many levels in one call, in order, as update(sides[i], prices[i], qtys[i])
        would for each i (qty 0 deletes; no sequence checks), with the GIL released.
        sides, prices, qtys: 1-D integer sequences or arrays of equal length. Every entry
        is checked first; a bad one raises ValueError/TypeError naming the field, its
        index and value, and the book is left unchanged. The arrays must not be modified
        by another thread during the call."""
        _idle(self)
        cdef cnp.ndarray sa = _int64_vector("sides", sides)
        cdef cnp.ndarray pa = _int64_vector("prices", prices)
        cdef cnp.ndarray qa = _int64_vector("qtys", qtys)
        cdef int64_t n = cnp.PyArray_DIM(sa, 0), i, bad = -1
        if cnp.PyArray_DIM(pa, 0) != n or cnp.PyArray_DIM(qa, 0) != n:
            raise ValueError(f"sides, prices and qtys must have the same length, got "
                             f"{n}, {cnp.PyArray_DIM(pa, 0)} and {cnp.PyArray_DIM(qa, 0)}")
        cdef const int64_t *sv = <const int64_t *>cnp.PyArray_DATA(sa)
        cdef const int64_t *pv = <const int64_t *>cnp.PyArray_DATA(pa)
        cdef const int64_t *qv = <const int64_t *>cnp.PyArray_DATA(qa)
        cdef int rc = BOT4_BOOK_OK
        self.busy = True
        try:
            with nogil:
                for i in range(n):
                    if ((sv[i] != 0 and sv[i] != 1) or pv[i] <= 0
                            or pv[i] > BOT4_BOOK_PRICE_MAX or qv[i] < 0):
                        bad = i
                        break
                if bad < 0:
                    for i in range(n):
                        rc = bot4_book_update(&self.b, <int>sv[i], pv[i], qv[i])
                        if rc != BOT4_BOOK_OK:
                            bad = i
                            break
        finally:
            self.busy = False
        if rc != BOT4_BOOK_OK:
            raise MemoryError(f"book: out of memory growing the overflow levels "
                              f"({bad} of {n} updates applied)")
        if bad >= 0:
            if sv[bad] != 0 and sv[bad] != 1:
                raise ValueError(f"sides[{bad}] = {sv[bad]}: side must be 0 (bid) or 1 (ask)")
            if pv[bad] <= 0 or pv[bad] > BOT4_BOOK_PRICE_MAX:
                raise ValueError(f"prices[{bad}] = {pv[bad]}: price must be in "
                                 f"1..{BOT4_BOOK_PRICE_MAX} ticks")
            raise ValueError(f"qtys[{bad}] = {qv[bad]}: qty must be >= 0 lots")

    def apply_snapshot(self, bid_prices, bid_qtys, ask_prices, ask_qtys, last_update_id):
        """Replace the book. Bids strictly descending, asks strictly ascending (best
        first), qty > 0, not crossed. last_update_id (>= 0) is Binance's lastUpdateId:
        diffs older than it are stale (rules: see apply_batch); diffs buffered while
        waiting are then replayed.
        last_update_id=None: an unsequenced feed (no lastUpdateId).
        Returns the number of buffered diff messages that were applied."""
        _idle(self)
        bp = _level_array("bid_prices", bid_prices, True)
        bq = _level_array("bid_qtys", bid_qtys, False)
        ap = _level_array("ask_prices", ask_prices, True)
        aq = _level_array("ask_qtys", ask_qtys, False)
        if len(bp) != len(bq):
            raise ValueError(f"bid_prices has {len(bp)} entries but bid_qtys has {len(bq)}")
        if len(ap) != len(aq):
            raise ValueError(f"ask_prices has {len(ap)} entries but ask_qtys has {len(aq)}")
        bad = np.flatnonzero(np.diff(bp) >= 0)
        if bad.size:
            i = bad[0] + 1
            raise ValueError(f"bid_prices[{i}] = {bp[i]}: bids must strictly descend (sorted, no duplicates)")
        bad = np.flatnonzero(np.diff(ap) <= 0)
        if bad.size:
            i = bad[0] + 1
            raise ValueError(f"ask_prices[{i}] = {ap[i]}: asks must strictly ascend (sorted, no duplicates)")
        if len(bp) and len(ap) and bp[0] >= ap[0]:
            raise ValueError(f"snapshot is crossed: best bid {bp[0]} >= best ask {ap[0]}")
        if last_update_id is None:
            last_update_id = -1
        else:
            last_update_id = check_int(last_update_id, "last_update_id", 0, INT64_MAX, ValueError)
        cdef int64_t L = int(last_update_id)
        cdef const int64_t[::1] vbp = bp, vbq = bq, vap = ap, vaq = aq
        cdef int64_t nb = len(bp), na = len(ap), n_out = 0
        cdef int64_t applied_before = self.b.stats.diffs_applied
        cdef int rc
        cdef const int64_t *pbp = &vbp[0] if nb else NULL
        cdef const int64_t *pbq = &vbq[0] if nb else NULL
        cdef const int64_t *pap = &vap[0] if na else NULL
        cdef const int64_t *paq = &vaq[0] if na else NULL
        self.busy = True
        try:
            with nogil:
                rc = bot4_book_apply_snapshot(&self.b, pbp, pbq, nb, pap, paq, na, L, NULL, &n_out)
        finally:
            self.busy = False
        if rc != BOT4_BOOK_OK:
            raise MemoryError("book: out of memory applying the snapshot (book needs a resync)")
        return self.b.stats.diffs_applied - applied_before

    def apply_batch(self, events, bbo_out=None):
        """Apply a whole event array in one C call (GIL released), after validating all of
        it (nothing is applied if any row is bad).

        Sequence rules (Binance, "How to manage a local order book correctly"; cited in
        csrc/book.c): a snapshot message replaces the book and sets lastUpdateId L. The
        market of a diff is self.sequencing, or with "auto" futures when it carries pu.
          spot:    u <= L stale; the first applied has U <= L+1 <= u; then u <= prev u
                   stale, U == prev u + 1 applied;
          futures: u < L stale; the first applied has U <= L <= u; then pu == prev u.
        Anything else is a gap: needs_resync is set, nothing is applied until the next
        snapshot. Diffs that arrive while waiting for a snapshot are buffered (a ring of
        pending_rows rows) and replayed through these rules when it arrives.
        Unsequenced messages (seq_last == -1, e.g. Tardis) skip the checks: a diff is
        applied whenever a snapshot has been (else counted in diffs_no_snapshot).

        bbo_out: optional BBO_DTYPE array receiving one row per applied diff (its u and
        the best bid/ask after it); it must hold at least (diff messages in the batch +
        self.pending_messages) rows. Returns a dict of this call's counts (STATS_FIELDS).
        """
        _idle(self)
        if not isinstance(events, np.ndarray):
            raise TypeError(f"events must be a numpy array of EVENT_DTYPE, got {type(events).__name__}")
        if events.dtype != EVENT_DTYPE:
            raise TypeError(f"events dtype must be engine.events.EVENT_DTYPE, got {events.dtype}")
        if events.ndim != 1:
            raise ValueError(f"events must be 1-D, got shape {events.shape}")
        if not events.flags.c_contiguous:
            raise ValueError("events must be C-contiguous")
        cdef cnp.ndarray ev = events
        cdef cnp.ndarray out_arr
        cdef bot4_book_bbo *out = NULL
        if bbo_out is not None:
            if not isinstance(bbo_out, np.ndarray) or bbo_out.dtype != BBO_DTYPE:
                raise TypeError(f"bbo_out must be a numpy array of engine.book.BBO_DTYPE, got "
                                f"{getattr(bbo_out, 'dtype', type(bbo_out).__name__)}")
            if bbo_out.ndim != 1 or not bbo_out.flags.c_contiguous or not bbo_out.flags.writeable:
                raise ValueError("bbo_out must be 1-D, C-contiguous and writeable")
            out_arr = bbo_out
            out = <bot4_book_bbo *> cnp.PyArray_DATA(out_arr)
        cdef const bot4_event *p = <const bot4_event *> cnp.PyArray_DATA(ev)
        cdef int64_t n = ev.shape[0], n_diffs = 0, n_out = 0
        cdef bot4_book_verr err
        cdef int rc
        with nogil:
            rc = bot4_book_validate_batch(p, n, &err, &n_diffs)
        if rc != BOT4_BOOK_OK:
            field, why = _VERR.get(err.reason, ("?", f"reason {err.reason}"))
            raise ValueError(f"events[{err.row}].{field} = {err.value}: {why}")
        _idle(self)  # again: the GIL was released during validation
        if out != NULL and bbo_out.shape[0] < n_diffs + self.b.pending_msgs:
            raise ValueError(f"bbo_out has {bbo_out.shape[0]} rows but up to "
                             f"{n_diffs + self.b.pending_msgs} diffs may be applied "
                             f"({n_diffs} in the batch + {self.b.pending_msgs} buffered)")
        cdef bot4_book_stats before = self.b.stats
        self.busy = True
        try:
            with nogil:
                rc = bot4_book_apply_batch(&self.b, p, n, out, &n_out)
        finally:
            self.busy = False
        if rc != BOT4_BOOK_OK:
            raise MemoryError("book: out of memory applying the batch (book needs a resync)")
        after = _stats_dict(&self.b.stats)
        prev = _stats_dict(&before)
        return {k: after[k] - prev[k] for k in STATS_FIELDS}

    def reset(self):
        """Empty book, no snapshot, buffered diffs and counters cleared."""
        _idle(self)
        bot4_book_reset(&self.b)

    # ------------------------------------------------------------------ queries
    def best_bid(self):
        """(price, qty) of the best bid, or None."""
        _idle(self)
        cdef int64_t px, q
        if bot4_book_best(&self.b, 0, &px, &q):
            return (px, q)
        return None

    def best_ask(self):
        """(price, qty) of the best ask, or None."""
        _idle(self)
        cdef int64_t px, q
        if bot4_book_best(&self.b, 1, &px, &q):
            return (px, q)
        return None

    def spread(self):
        """best ask - best bid in ticks (negative when crossed), None if a side is empty."""
        _idle(self)
        cdef int64_t bp, bq, ap, aq
        if bot4_book_best(&self.b, 0, &bp, &bq) and bot4_book_best(&self.b, 1, &ap, &aq):
            return ap - bp
        return None

    def mid(self):
        """(best bid + best ask) / 2 in ticks as a float (exact: both are < 2^62, so the
        half-tick sum is representable up to 2^53 ticks), None if a side is empty.
        mid_x2() gives the exact integer sum."""
        _idle(self)
        cdef int64_t bp, bq, ap, aq
        if bot4_book_best(&self.b, 0, &bp, &bq) and bot4_book_best(&self.b, 1, &ap, &aq):
            return (bp + ap) / 2.0
        return None

    def mid_x2(self):
        """best bid + best ask in ticks (twice the mid, exact int), None if a side is empty."""
        _idle(self)
        cdef int64_t bp, bq, ap, aq
        if bot4_book_best(&self.b, 0, &bp, &bq) and bot4_book_best(&self.b, 1, &ap, &aq):
            return bp + ap
        return None

    def depth_at(self, side_, price_):
        """Lots resting at price on side (0 when no level there)."""
        _idle(self)
        cdef int64_t side = _int64(side_, "side")
        cdef int64_t price = _int64(price_, "price")
        _check_side(side)
        if price <= 0 or price > BOT4_BOOK_PRICE_MAX:
            raise ValueError(f"price must be in 1..{BOT4_BOOK_PRICE_MAX} ticks, got {price}")
        return bot4_book_depth_at(&self.b, <int> side, price)

    def top(self, n_):
        """(bid_px, bid_qty, ask_px, ask_qty): up to n best levels per side, best first, as
        int64 arrays (shorter than n when a side has fewer levels)."""
        _idle(self)
        cdef int64_t n = _int64(n_, "n")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        cdef int64_t nb = min(n, bot4_book_level_count(&self.b, 0))
        cdef int64_t na = min(n, bot4_book_level_count(&self.b, 1))
        bpx = np.empty(nb, np.int64)
        bq = np.empty(nb, np.int64)
        apx = np.empty(na, np.int64)
        aq = np.empty(na, np.int64)
        cdef int64_t[::1] vbpx = bpx, vbq = bq, vapx = apx, vaq = aq
        if nb:
            bot4_book_top(&self.b, 0, nb, &vbpx[0], &vbq[0])
        if na:
            bot4_book_top(&self.b, 1, na, &vapx[0], &vaq[0])
        return bpx, bq, apx, aq

    def top_into(self, out):
        """Top n levels of both sides into `out`, a writable C-contiguous int64 array of
        shape (4, n) allocated once by the caller: rows bid price, bid qty, ask price, ask
        qty, best first, price 0 and qty 0 past a side's last level. Returns (levels on
        the bid side, levels on the ask side) written, each <= n. The same levels as
        top(n), without allocating; a bad out raises before anything is written."""
        _idle(self)
        cdef int64_t n = _check_top_out(out, -1), nb = 0, na = 0
        if n:
            _top_both(&self.b, n, <int64_t *>cnp.PyArray_DATA(<cnp.ndarray>out), &nb, &na)
        return nb, na

    def fill_cost(self, side_taken_, qty_):
        """Cost of taking qty lots from side_taken (SIDE_ASK = a buy walking the asks,
        SIDE_BID = a sell walking the bids), walking from the touch. Returns FillCost."""
        _idle(self)
        cdef int64_t side_taken = _int64(side_taken_, "side_taken")
        cdef int64_t qty = _int64(qty_, "qty")
        _check_side(side_taken)
        if qty < 0:
            raise ValueError(f"qty must be >= 0 lots, got {qty}")
        cdef int64_t filled, hi, levels
        cdef uint64_t lo
        bot4_book_fill(&self.b, <int> side_taken, qty, &filled, &hi, &lo, &levels)
        notional = (int(hi) << 64) | int(lo)
        vwap = notional / filled if filled else None
        return FillCost(filled, notional, vwap, levels, filled == qty)

    def is_crossed(self):
        """True when both sides exist and best bid >= best ask."""
        _idle(self)
        return bool(bot4_book_is_crossed(&self.b))

    def level_count(self, side_):
        """Number of price levels on side."""
        _idle(self)
        cdef int64_t side = _int64(side_, "side")
        _check_side(side)
        return bot4_book_level_count(&self.b, <int> side)

    def check_invariants(self):
        """Verify the C structure's invariants (csrc/book.h), O(window + levels); raises
        RuntimeError naming the broken one. For tests and debugging."""
        _idle(self)
        cdef int rc = bot4_book_check(&self.b)
        if rc:
            raise RuntimeError(f"book invariant {rc} broken: {_INVARIANTS.get(rc, '?')}")

    @property
    def needs_resync(self):
        """True after a gap until the next snapshot is applied."""
        _idle(self)
        return bool(self.b.needs_resync)

    @property
    def last_update_id(self):
        """The snapshot's lastUpdateId, then the last applied diff's u; None before any."""
        _idle(self)
        return None if self.b.last_update_id < 0 else self.b.last_update_id

    @property
    def state(self):
        """'waiting_snapshot', 'syncing' (snapshot applied, no diff yet) or 'live'."""
        _idle(self)
        return _STATE_NAMES[self.b.state]

    @property
    def pending_messages(self):
        """Diff messages buffered while waiting for a snapshot."""
        _idle(self)
        return self.b.pending_msgs

    @property
    def sequencing(self):
        """Binance rule for sequenced diffs: 'auto' (futures when a diff carries pu),
        'spot' or 'futures'. Settable; kept across reset()."""
        _idle(self)
        return _SEQUENCING_NAMES[self.b.sequencing]

    @sequencing.setter
    def sequencing(self, name):
        _idle(self)
        bot4_book_set_sequencing(&self.b, _sequencing_mode(name))

    @property
    def window_ticks(self):
        return self.b.window

    def stats(self):
        """Cumulative counts since creation/reset (dict of STATS_FIELDS)."""
        _idle(self)
        return _stats_dict(&self.b.stats)
