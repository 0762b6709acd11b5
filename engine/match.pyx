# distutils: sources = csrc/match.c
"""L3 matching engine over csrc/match.c: price-time priority, int64 ticks and lots.

Orders carry caller ids (> 0, unique among resting orders). Batches of operations are numpy
arrays of :data:`OP_DTYPE`; each gives one :data:`RESULT_DTYPE` row and zero or more
:data:`FILL_DTYPE` records (trades and self-trade-prevention effects on resting orders).
A rejection has a reason code (``REASONS[code]`` is its name) and changes nothing. Malformed
arguments to the one-order methods (unknown side name, qty <= 0, ...) raise ValueError
before C sees them; the batch path leaves field checks to C, which rejects with a reason.

Semantics (mirrored by tests/match_reference.py):
  * trades execute at the resting order's price; the touch is consumed first, FIFO inside
    a level;
  * market orders take IOC or FOK and are rejected with ``no_liquidity`` on an empty side;
  * FOK is all-or-nothing against other owners' liquidity within the limit;
  * post-only ``reject`` refuses an order that would take, ``reprice`` moves it one tick
    behind the opposite touch;
  * reduce-only needs the owner's signed position (``position``): a buy must face a short,
    a sell a long; quantity beyond the position is dropped (reported as ``cancelled``);
  * STP is the taker's mode on meeting a same-owner resting order: ``cancel_newest`` drops
    the taker's remainder, ``cancel_oldest`` removes the resting order, ``decrement_both``
    reduces both by the smaller quantity without a trade;
  * modify: same price and quantity not above the remaining keeps queue priority;
    anything else re-enters at the back (and may trade);
  * a GTC limit is refused with ``book_full`` when the book holds ``max_orders`` orders.
"""

from dataclasses import dataclass

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint32_t

from engine.args cimport check_choice, check_int64
from engine.match cimport *

cnp.import_array()



OP_DTYPE = np.dtype([
    ("id", "<i8"), ("owner", "<i8"), ("price", "<i8"), ("qty", "<i8"), ("position", "<i8"),
    ("op", "u1"), ("side", "u1"), ("type", "u1"), ("tif", "u1"), ("post_only", "u1"),
    ("stp", "u1"), ("reduce_only", "u1"), ("pad", "u1"),
], align=True)
RESULT_DTYPE = np.dtype([
    ("id", "<i8"), ("filled", "<i8"), ("resting", "<i8"), ("cancelled", "<i8"),
    ("price", "<i8"), ("reason", "u1"), ("pad", "u1", (3,)), ("nfills", "<u4"),
], align=True)
FILL_DTYPE = np.dtype([
    ("taker_id", "<i8"), ("maker_id", "<i8"), ("taker_owner", "<i8"), ("maker_owner", "<i8"),
    ("price", "<i8"), ("qty", "<i8"), ("maker_remaining", "<i8"), ("kind", "u1"),
    ("taker_side", "u1"), ("pad", "<u2"), ("op_index", "<u4"),
], align=True)
assert OP_DTYPE.itemsize == sizeof(bot4_match_op)
assert RESULT_DTYPE.itemsize == sizeof(bot4_match_result)
assert FILL_DTYPE.itemsize == sizeof(bot4_match_fill)

REASONS = tuple(bot4_match_reason_name(i).decode() for i in range(BOT4_MATCH_R_COUNT))
OPS = {"add": BOT4_MATCH_OP_ADD, "cancel": BOT4_MATCH_OP_CANCEL, "modify": BOT4_MATCH_OP_MODIFY}
SIDES = {"buy": BOT4_MATCH_BUY, "sell": BOT4_MATCH_SELL}
TYPES = {"limit": BOT4_MATCH_LIMIT, "market": BOT4_MATCH_MARKET}
TIFS = {"gtc": BOT4_MATCH_GTC, "ioc": BOT4_MATCH_IOC, "fok": BOT4_MATCH_FOK}
POST_ONLY = {"none": BOT4_MATCH_PO_NONE, "reject": BOT4_MATCH_PO_REJECT,
             "reprice": BOT4_MATCH_PO_REPRICE}
STP = {"none": BOT4_MATCH_STP_NONE, "cancel_newest": BOT4_MATCH_STP_CANCEL_NEWEST,
       "cancel_oldest": BOT4_MATCH_STP_CANCEL_OLDEST,
       "decrement_both": BOT4_MATCH_STP_DECREMENT_BOTH}
FILL_KINDS = ("fill", "stp_cancel_maker", "stp_decrement")

cdef int64_t I64_MAX = 9223372036854775807


def make_ops(n):
    """A zeroed OP_DTYPE array of n rows (op add, side buy, limit, GTC, no flags)."""
    return np.zeros(int(n), dtype=OP_DTYPE)


@dataclass(frozen=True)
class Outcome:
    """What one operation did. reason is a name from REASONS ("ok" when accepted)."""
    id: int
    reason: str
    filled: int
    resting: int
    cancelled: int
    price: int
    fills: np.ndarray

    @property
    def ok(self):
        return self.reason == "ok"


def _code(table, str field, value):
    if isinstance(value, str):
        return check_choice(table, field, value)
    if isinstance(value, (int, np.integer)) and int(value) in table.values():
        return int(value)
    raise ValueError(f"{field} must be one of {', '.join(table)}, got {value!r}")


cdef inline int64_t _int(str field, value, int64_t lo) except? -1:
    return check_int64(value, field, lo, I64_MAX, ValueError)


cdef cnp.ndarray _check_array(str field, arr, dtype, bint writable):
    if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
        raise ValueError(f"{field} must be a numpy array of dtype {dtype}, got "
                         f"{getattr(arr, 'dtype', type(arr).__name__)}")
    if arr.ndim != 1 or not arr.flags.c_contiguous:
        raise ValueError(f"{field} must be 1-D and C-contiguous")
    if writable and not arr.flags.writeable:
        raise ValueError(f"{field} must be writable")
    return <cnp.ndarray>arr


cdef class MatchingEngine:
    """An L3 book for at most max_orders resting orders (memory is fixed at creation)."""

    def __cinit__(self, max_orders=65536):
        cap = _int("max_orders", max_orders, 1)
        if cap > (1 << 30):
            raise ValueError(f"max_orders must be at most 2**30, got {cap}")
        self.m = bot4_match_create(<uint32_t>cap)
        if self.m == NULL:
            raise MemoryError(f"cannot allocate a book for {cap} orders")
        self._fills = np.zeros(cap, dtype=FILL_DTYPE)

    def __dealloc__(self):
        if self.m != NULL:
            bot4_match_destroy(self.m)
            self.m = NULL

    @property
    def capacity(self):
        return bot4_match_capacity(self.m)

    def __len__(self):
        return bot4_match_order_count(self.m)

    def clear(self):
        bot4_match_clear(self.m)

    def run_into(self, ops, results, fills):
        """Run ops (OP_DTYPE) writing results[i] and fill records into fills; no allocation.

        Stops before an op that could overflow `fills` (at most one record per resting
        order). Returns (ops_done, fills_written)."""
        cdef cnp.ndarray o = _check_array("ops", ops, OP_DTYPE, False)
        cdef cnp.ndarray r = _check_array("results", results, RESULT_DTYPE, True)
        cdef cnp.ndarray f = _check_array("fills", fills, FILL_DTYPE, True)
        if r.shape[0] < o.shape[0]:
            raise ValueError(f"results has {r.shape[0]} rows for {o.shape[0]} ops")
        if o.shape[0] > 0xFFFFFFFF or f.shape[0] > 0xFFFFFFFF:
            raise ValueError("ops and fills must have fewer than 2**32 rows")
        cdef uint32_t n = <uint32_t>o.shape[0], cap = <uint32_t>f.shape[0], nd = 0, nf = 0
        cdef const bot4_match_op *po = <const bot4_match_op *>cnp.PyArray_DATA(o)
        cdef bot4_match_result *pr = <bot4_match_result *>cnp.PyArray_DATA(r)
        cdef bot4_match_fill *pf = <bot4_match_fill *>cnp.PyArray_DATA(f)
        with nogil:
            bot4_match_run(self.m, po, n, pr, pf, cap, &nd, &nf)
        return nd, nf

    def run(self, ops):
        """Run a batch; returns (results RESULT_DTYPE[len(ops)], fills FILL_DTYPE[k])."""
        cdef cnp.ndarray o = _check_array("ops", ops, OP_DTYPE, False)
        n = o.shape[0]
        results = np.zeros(n, dtype=RESULT_DTYPE)
        chunks = []
        done = 0
        while done < n:
            nd, nf = self.run_into(ops[done:], results[done:], self._fills)
            chunk = self._fills[:nf].copy()
            chunk["op_index"] += done  # run_into numbers ops within its own slice
            chunks.append(chunk)
            if nd == 0 and done < n:
                raise RuntimeError("fill buffer smaller than one operation's worst case")
            done += nd
        fills = np.concatenate(chunks) if chunks else np.zeros(0, dtype=FILL_DTYPE)
        return results, fills

    def _one(self, ops):
        results, fills = self.run(ops)
        r = results[0]
        return Outcome(int(r["id"]), REASONS[r["reason"]], int(r["filled"]), int(r["resting"]),
                       int(r["cancelled"]), int(r["price"]), fills)

    def add(self, id, side, price=0, qty=1, *, owner=0, type="limit", tif=None,
            post_only="none", stp="none", reduce_only=False, position=0):
        """Submit one order; returns an Outcome. tif defaults to gtc (limit) / ioc (market)."""
        ops = make_ops(1)
        op = ops[0]
        typ = _code(TYPES, "type", type)
        op["id"] = _int("id", id, 1)
        op["side"] = _code(SIDES, "side", side)
        op["type"] = typ
        op["tif"] = _code(TIFS, "tif", tif if tif is not None else
                          ("ioc" if typ == BOT4_MATCH_MARKET else "gtc"))
        op["price"] = _int("price", price, 1 if typ == BOT4_MATCH_LIMIT else 0)
        op["qty"] = _int("qty", qty, 1)
        op["owner"] = _int("owner", owner, -I64_MAX)
        op["post_only"] = _code(POST_ONLY, "post_only", post_only)
        op["stp"] = _code(STP, "stp", stp)
        if not isinstance(reduce_only, bool):
            raise ValueError(f"reduce_only must be a bool, got {reduce_only!r}")
        op["reduce_only"] = reduce_only
        op["position"] = _int("position", position, -I64_MAX)
        op["op"] = BOT4_MATCH_OP_ADD
        return self._one(ops)

    def cancel(self, id):
        ops = make_ops(1)
        ops[0]["id"] = _int("id", id, 1)
        ops[0]["op"] = BOT4_MATCH_OP_CANCEL
        return self._one(ops)

    def modify(self, id, price, qty):
        """New price/remaining qty; same price and qty not above the remaining keeps priority."""
        ops = make_ops(1)
        ops[0]["id"] = _int("id", id, 1)
        ops[0]["price"] = _int("price", price, 1)
        ops[0]["qty"] = _int("qty", qty, 1)
        ops[0]["op"] = BOT4_MATCH_OP_MODIFY
        return self._one(ops)

    def get(self, id):
        """(owner, side, price, remaining qty) of a resting order, or None."""
        cdef int64_t owner, price, qty
        cdef uint8_t side
        if bot4_match_get(self.m, _int("id", id, 1), &owner, &side, &price, &qty) != 0:
            return None
        return owner, ("buy", "sell")[side], price, qty

    def best(self, side):
        """(price, total qty) at the touch of a side, or None when empty."""
        cdef int64_t price, qty
        if bot4_match_best(self.m, _code(SIDES, "side", side), &price, &qty) != 0:
            return None
        return price, qty

    def spread(self):
        """best ask - best bid in ticks, or None when a side is empty."""
        b, a = self.best("buy"), self.best("sell")
        return None if b is None or a is None else a[0] - b[0]

    def depth(self, n):
        """L2 snapshot: {"bids": (prices, qtys, counts), "asks": ...} from the touch out."""
        k = _int("n", n, 0)
        out = {}
        cdef cnp.ndarray p, q, c
        cdef uint32_t got
        for name, s in (("bids", 0), ("asks", 1)):
            m = min(k, bot4_match_level_count(self.m, s))
            p = np.zeros(m, dtype=np.int64)
            q = np.zeros(m, dtype=np.int64)
            c = np.zeros(m, dtype=np.uint32)
            got = bot4_match_depth(self.m, s, m, <int64_t *>cnp.PyArray_DATA(p),
                                   <int64_t *>cnp.PyArray_DATA(q), <uint32_t *>cnp.PyArray_DATA(c))
            out[name] = (p[:got], q[:got], c[:got])
        return out

    def level_orders(self, side, price):
        """Ids resting at a price, oldest first."""
        cdef int s = _code(SIDES, "side", side)
        cdef cnp.ndarray ids = np.zeros(bot4_match_order_count(self.m), dtype=np.int64)
        got = bot4_match_level_orders(self.m, s, _int("price", price, 1), <uint32_t>ids.shape[0],
                                      <int64_t *>cnp.PyArray_DATA(ids))
        return [int(x) for x in ids[:got]]

    def check(self):
        """Raise AssertionError if any structural invariant is broken (O(n))."""
        code = bot4_match_check(self.m)
        if code != 0:
            raise AssertionError(f"matching engine invariant {code} broken")
