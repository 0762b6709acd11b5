"""Plain-Python reference matcher: the semantics of csrc/match.c written as simply as possible.

Levels are dicts price -> list of [id, owner, qty, post_only, stp] in arrival order; the
touch is found with max()/min() on every step. Slow and obviously right; the property tests
compare the C engine with it operation by operation (results, fill records, book state).
Codes are the ones in engine.match (ops, sides, types, tifs, post-only, STP, reasons).
"""

from __future__ import annotations

BUY, SELL = 0, 1
ADD, CANCEL, MODIFY = 0, 1, 2
LIMIT, MARKET = 0, 1
GTC, IOC, FOK = 0, 1, 2
PO_NONE, PO_REJECT, PO_REPRICE = 0, 1, 2
STP_NONE, STP_CANCEL_NEWEST, STP_CANCEL_OLDEST, STP_DECREMENT_BOTH = 0, 1, 2, 3
FILL, STP_CANCEL_MAKER, STP_DECREMENT = 0, 1, 2

REASONS = (
    "ok", "invalid_op", "invalid_side", "invalid_type", "invalid_tif", "invalid_price",
    "invalid_qty", "invalid_id", "invalid_flags", "duplicate_id", "unknown_id", "book_full",
    "post_only_would_take", "fok_unfillable", "reduce_only_would_increase", "no_liquidity",
    "fill_buffer_full",
)


def _crosses(side, limit, maker_price):
    return maker_price <= limit if side == BUY else maker_price >= limit


class ReferenceMatcher:
    def __init__(self, max_orders: int):
        self.cap = max_orders
        self.levels = ({}, {})  # side -> price -> [order lists]
        self.index = {}  # id -> (side, price)

    # -- queries -------------------------------------------------------------------------
    def touch(self, side):
        lv = self.levels[side]
        if not lv:
            return None
        return max(lv) if side == BUY else min(lv)

    def depth(self, side, n):
        lv = self.levels[side]
        prices = sorted(lv, reverse=(side == BUY))[:n]
        return [(p, sum(o[2] for o in lv[p]), len(lv[p])) for p in prices]

    def level_ids(self, side, price):
        return [o[0] for o in self.levels[side].get(price, [])]

    def get(self, oid):
        if oid not in self.index:
            return None
        side, price = self.index[oid]
        for o in self.levels[side][price]:
            if o[0] == oid:
                return o[1], side, price, o[2]
        raise AssertionError("index out of step")

    def __len__(self):
        return len(self.index)

    # -- mutation helpers ----------------------------------------------------------------
    def _remove(self, side, price, oid):
        q = self.levels[side][price]
        q[:] = [o for o in q if o[0] != oid]
        if not q:
            del self.levels[side][price]
        del self.index[oid]

    def _rest(self, oid, owner, side, price, qty, po, stp):
        self.levels[side].setdefault(price, []).append([oid, owner, qty, po, stp])
        self.index[oid] = (side, price)

    def _fok_ok(self, side, is_market, limit, qty, owner, stp):
        need = qty
        opp = 1 - side
        for p in sorted(self.levels[opp], reverse=(opp == BUY)):
            if not is_market and not _crosses(side, limit, p):
                return False
            for o in self.levels[opp][p]:
                if stp != STP_NONE and o[1] == owner:
                    if stp == STP_CANCEL_OLDEST:
                        continue
                    return False
                need -= min(need, o[2])
                if need == 0:
                    return True
        return False

    def _match(self, oid, owner, side, is_market, limit, qty, stp, op_index, fills):
        rem, filled, cancelled = qty, 0, 0
        opp = 1 - side
        while rem > 0:
            p = self.touch(opp)
            if p is None or (not is_market and not _crosses(side, limit, p)):
                break
            o = self.levels[opp][p][0]
            if stp != STP_NONE and o[1] == owner:
                if stp == STP_CANCEL_NEWEST:
                    cancelled += rem
                    rem = 0
                    break
                if stp == STP_CANCEL_OLDEST:
                    fills.append((oid, o[0], owner, o[1], p, o[2], 0, STP_CANCEL_MAKER, side, op_index))
                    self._remove(opp, p, o[0])
                    continue
                d = min(rem, o[2])
                rem -= d
                cancelled += d
                o[2] -= d
                fills.append((oid, o[0], owner, o[1], p, d, o[2], STP_DECREMENT, side, op_index))
                if o[2] == 0:
                    self._remove(opp, p, o[0])
                continue
            d = min(rem, o[2])
            rem -= d
            filled += d
            o[2] -= d
            fills.append((oid, o[0], owner, o[1], p, d, o[2], FILL, side, op_index))
            if o[2] == 0:
                self._remove(opp, p, o[0])
        return rem, filled, cancelled

    def _post_only(self, side, mode, price):
        t = self.touch(1 - side)
        if mode == PO_NONE or t is None or not _crosses(side, price, t):
            return 0, price
        if mode == PO_REJECT:
            return REASONS.index("post_only_would_take"), price
        p = t - 1 if side == BUY else t + 1
        if p <= 0:
            return REASONS.index("post_only_would_take"), price
        return 0, p

    # -- operations ----------------------------------------------------------------------
    def run_one(self, op: dict, op_index: int = 0):
        """Returns (result dict, list of fill tuples) exactly as the C engine reports them."""
        fills: list = []
        res = {"id": op["id"], "filled": 0, "resting": 0, "cancelled": 0, "price": 0, "reason": 0}
        kind = op["op"]
        if kind == ADD:
            reason = self._add(op, op_index, res, fills)
        elif kind == CANCEL:
            reason = self._cancel(op, res)
        elif kind == MODIFY:
            reason = self._modify(op, op_index, res, fills)
        else:
            reason = REASONS.index("invalid_op")
        if reason:
            res = {"id": op["id"], "filled": 0, "resting": 0, "cancelled": 0, "price": 0,
                   "reason": reason}
            fills = []
        return res, fills

    def _add(self, op, op_index, res, fills):
        R = REASONS.index
        if op["id"] <= 0:
            return R("invalid_id")
        if op["side"] > 1:
            return R("invalid_side")
        if op["type"] > MARKET:
            return R("invalid_type")
        if op["tif"] > FOK or (op["type"] == MARKET and op["tif"] == GTC):
            return R("invalid_tif")
        if op["qty"] <= 0:
            return R("invalid_qty")
        if op["type"] == LIMIT and op["price"] <= 0:
            return R("invalid_price")
        if op["post_only"] > PO_REPRICE or op["stp"] > STP_DECREMENT_BOTH or op["reduce_only"] > 1:
            return R("invalid_flags")
        if op["post_only"] != PO_NONE and (op["type"] == MARKET or op["tif"] != GTC):
            return R("invalid_flags")
        if op["id"] in self.index:
            return R("duplicate_id")
        side, is_market = op["side"], op["type"] == MARKET
        qty, dropped = op["qty"], 0
        if op["reduce_only"]:
            reducible = -op["position"] if side == BUY else op["position"]
            if reducible <= 0:
                return R("reduce_only_would_increase")
            if qty > reducible:
                dropped, qty = qty - reducible, reducible
        price = 0 if is_market else op["price"]
        if not is_market:
            reason, price = self._post_only(side, op["post_only"], price)
            if reason:
                return reason
        if is_market and not self.levels[1 - side]:
            return R("no_liquidity")
        if op["tif"] == FOK and not self._fok_ok(side, is_market, price, qty, op["owner"], op["stp"]):
            return R("fok_unfillable")
        if not is_market and op["tif"] == GTC and len(self.index) == self.cap:
            return R("book_full")
        rem, filled, cancelled = self._match(op["id"], op["owner"], side, is_market, price, qty,
                                             op["stp"], op_index, fills)
        cancelled += dropped
        if rem > 0:
            if not is_market and op["tif"] == GTC:
                self._rest(op["id"], op["owner"], side, price, rem, op["post_only"], op["stp"])
                res["resting"] = rem
            else:
                cancelled += rem
        res.update(filled=filled, cancelled=cancelled, price=price)
        return 0

    def _cancel(self, op, res):
        if op["id"] <= 0:
            return REASONS.index("invalid_id")
        if op["id"] not in self.index:
            return REASONS.index("unknown_id")
        _, side, price, qty = self.get(op["id"])
        self._remove(side, price, op["id"])
        res.update(cancelled=qty, price=price)
        return 0

    def _modify(self, op, op_index, res, fills):
        R = REASONS.index
        if op["id"] <= 0:
            return R("invalid_id")
        if op["qty"] <= 0:
            return R("invalid_qty")
        if op["price"] <= 0:
            return R("invalid_price")
        if op["id"] not in self.index:
            return R("unknown_id")
        side, price = self.index[op["id"]]
        o = next(o for o in self.levels[side][price] if o[0] == op["id"])
        if op["price"] == price and op["qty"] <= o[2]:
            res.update(cancelled=o[2] - op["qty"], resting=op["qty"], price=price)
            o[2] = op["qty"]
            return 0
        reason, new_price = self._post_only(side, o[3], op["price"])
        if reason:
            return reason
        oid, owner, _, po, stp = o
        self._remove(side, price, oid)
        rem, filled, cancelled = self._match(oid, owner, side, False, new_price, op["qty"], stp,
                                             op_index, fills)
        if rem > 0:
            self._rest(oid, owner, side, new_price, rem, po, stp)
            res["resting"] = rem
        res.update(filled=filled, cancelled=cancelled, price=new_price)
        return 0
