"""Order manager: orders by client id, contingent groups (OCO, OTO, bracket), positions.

The manager never talks to a venue directly. Requests go to ``outbox`` as plain records
(:class:`Submit`, :class:`Cancel`, :class:`Amend`) that a venue adapter drains; the venue's
reports come back through ``on_ack``, ``on_reject``, ``on_fill``, ``on_cancelled``,
``on_expired``, ``on_amended`` and ``on_amend_rejected``. Between a request and its report
the venue may keep filling, so every rule below is written against the facts reported so
far and re-applied on each report (fills are facts: a fill that arrives after a cancel was
requested is booked, never refused).

Contingent groups
  * OCO: the first fill (partial or full) of any leg cancels every other working leg.
  * OTO: the child is submitted when the parent is completely filled; a parent that ends
    otherwise never sends the child.
  * Bracket (entry + stop + target): on each entry fill the weighted average entry price is
    recomputed (exact Fraction), and stop and target are placed (first fill) or amended to
    prices at fixed tick offsets from it and to the open quantity (entry filled - exits
    filled). Long: stop = floor(avg - stop_offset), target = ceil(avg + target_offset);
    short mirrored. A partial exit fill shrinks the sibling exit to the remaining open
    quantity; when exits have closed everything, the sibling exit and any working entry are
    cancelled and the bracket is done. Exposure no exit covers (a late entry fill after
    done, an exit cancelled by the venue) is reported in ``unprotected``; an exit overfill
    from a race is reported in ``overfill``.
Submissions are idempotent by client id (groups by group id) through IdempotencyCache; the
manager also refuses to create a second order for an id it still holds after the cache
entry expired. One re-entrant lock makes every public method atomic across threads.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

from bot.oms.idempotency import IdempotencyCache
from bot.oms.portfolio import Portfolio
from bot.model import Order, OrderError, OrderState


@dataclass(frozen=True)
class Submit:
    order: Order


@dataclass(frozen=True)
class Cancel:
    client_id: str


@dataclass(frozen=True)
class Amend:
    client_id: str
    price: int | None
    qty: int  # new total quantity (>= filled)


@dataclass
class OcoGroup:
    group_id: str
    legs: list[Order]
    done: bool = False
    overfill: bool = False  # a second leg filled in a race with its cancel


@dataclass
class OtoGroup:
    group_id: str
    parent: Order
    child_spec: dict
    child: Order | None = None


@dataclass
class Bracket:
    group_id: str
    entry: Order
    stop_offset: int
    target_offset: int
    stop: Order | None = None
    target: Order | None = None
    done: bool = False
    unprotected: int = 0
    overfill: int = 0
    wanted: dict = field(default_factory=dict)  # client_id -> (price, qty) last requested

    @property
    def exits(self) -> list[Order]:
        return [o for o in (self.stop, self.target) if o is not None]

    @property
    def open_qty(self) -> int:
        return self.entry.filled - sum(o.filled for o in self.exits)

    def exit_prices(self) -> tuple[int, int]:
        avg = self.entry.avg_price
        if self.entry.side == "buy":
            return math.floor(avg - self.stop_offset), math.ceil(avg + self.target_offset)
        return math.ceil(avg + self.stop_offset), math.floor(avg - self.target_offset)


class OrderManager:
    def __init__(self, symbol: str = "BTCUSDT", portfolio: Portfolio | None = None,
                 cache: IdempotencyCache | None = None):
        self.symbol = symbol
        self.portfolio = portfolio if portfolio is not None else Portfolio()
        self.cache = cache if cache is not None else IdempotencyCache()
        self.orders: dict[str, Order] = {}
        self.groups: dict[str, object] = {}
        self._group_of: dict[str, object] = {}
        self.outbox: deque = deque()
        self._lock = threading.RLock()

    # ---- submissions --------------------------------------------------------------------
    def _new_order(self, client_id, side, qty, price, kind="limit", tif="gtc", group=None,
                   role="single", send=True) -> Order:
        if client_id in self.orders:
            return self.orders[client_id]
        order = Order(client_id, side, qty, price, kind, tif, group=group, role=role)
        self.orders[client_id] = order
        if send:
            self.outbox.append(Submit(order))
        return order

    def submit(self, client_id: str, side: str, qty: int, price: int | None = None,
               kind: str = "limit", tif: str = "gtc") -> Order:
        """One order; a repeat of a client id returns the original order."""
        with self._lock:
            order, _ = self.cache.get_or_create(
                client_id, lambda: self._new_order(client_id, side, qty, price, kind, tif))
            return order

    def submit_oco(self, group_id: str, legs: list[dict]) -> OcoGroup:
        """legs: dicts of client_id, side, qty, price, kind (at least two)."""
        with self._lock:
            def make():
                if group_id in self.groups:
                    return self.groups[group_id]
                if len(legs) < 2:
                    raise OrderError(f"OCO {group_id} needs at least two legs, got {len(legs)}")
                for leg in legs:
                    if leg["client_id"] in self.orders:
                        raise OrderError(f"OCO {group_id}: client id {leg['client_id']} exists")
                # validate every leg before registering any
                built = [Order(leg["client_id"], leg["side"], leg["qty"], leg.get("price"),
                               leg.get("kind", "limit"), group=group_id, role="oco")
                         for leg in legs]
                g = OcoGroup(group_id, built)
                for o in built:
                    self.orders[o.client_id] = o
                    self._group_of[o.client_id] = g
                    self.outbox.append(Submit(o))
                self.groups[group_id] = g
                return g
            return self.cache.get_or_create("group:" + group_id, make)[0]

    def submit_oto(self, group_id: str, parent: dict, child: dict) -> OtoGroup:
        with self._lock:
            def make():
                if group_id in self.groups:
                    return self.groups[group_id]
                for spec in (parent, child):
                    if spec["client_id"] in self.orders:
                        raise OrderError(f"OTO {group_id}: client id {spec['client_id']} exists")
                Order(child["client_id"], child["side"], child["qty"], child.get("price"),
                      child.get("kind", "limit"))  # validate now, send later
                p = Order(parent["client_id"], parent["side"], parent["qty"], parent.get("price"),
                          parent.get("kind", "limit"), group=group_id, role="oto_parent")
                g = OtoGroup(group_id, p, dict(child))
                self.orders[p.client_id] = p
                self._group_of[p.client_id] = g
                self.outbox.append(Submit(p))
                self.groups[group_id] = g
                return g
            return self.cache.get_or_create("group:" + group_id, make)[0]

    def submit_bracket(self, group_id: str, side: str, qty: int, price: int | None,
                       stop_offset: int, target_offset: int, kind: str = "limit") -> Bracket:
        with self._lock:
            def make():
                if group_id in self.groups:
                    return self.groups[group_id]
                for name, v in (("stop_offset", stop_offset), ("target_offset", target_offset)):
                    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                        raise OrderError(f"bracket {group_id}: {name} must be a positive int, got {v!r}")
                cid = f"{group_id}:entry"
                if cid in self.orders:
                    raise OrderError(f"bracket {group_id}: client id {cid} exists")
                entry = Order(cid, side, qty, price, kind, group=group_id, role="entry")
                b = Bracket(group_id, entry, stop_offset, target_offset)
                self.orders[cid] = entry
                self._group_of[cid] = b
                self.outbox.append(Submit(entry))
                self.groups[group_id] = b
                return b
            return self.cache.get_or_create("group:" + group_id, make)[0]

    def cancel(self, client_id: str) -> None:
        with self._lock:
            o = self._get(client_id)
            if not o.state.terminal:
                self.outbox.append(Cancel(client_id))

    # ---- venue reports ------------------------------------------------------------------
    def _get(self, client_id: str) -> Order:
        try:
            return self.orders[client_id]
        except KeyError:
            raise OrderError(f"unknown client order id {client_id!r}") from None

    def on_ack(self, client_id: str) -> None:
        with self._lock:
            self._get(client_id).transition(OrderState.ACKNOWLEDGED)

    def on_reject(self, client_id: str, reason: str = "") -> None:
        with self._lock:
            o = self._get(client_id)
            o.transition(OrderState.REJECTED)
            self._after_end(o)

    def on_cancelled(self, client_id: str) -> None:
        with self._lock:
            o = self._get(client_id)
            o.transition(OrderState.CANCELLED)
            self._after_end(o)

    def on_expired(self, client_id: str) -> None:
        with self._lock:
            o = self._get(client_id)
            o.transition(OrderState.EXPIRED)
            self._after_end(o)

    def on_amended(self, client_id: str, price: int | None, qty: int) -> None:
        with self._lock:
            o = self._get(client_id)
            o.amend_qty(qty)
            o.price = price
            if o.qty == o.filled:  # amended down to what had already filled
                o.transition(OrderState.FILLED)

    def on_amend_rejected(self, client_id: str) -> None:
        with self._lock:
            g = self._group_of.get(client_id)
            if isinstance(g, Bracket):
                # a cancel requested since supersedes the refused amend; otherwise forget the
                # amend so the next sync asks again from the facts
                if g.wanted.get(client_id) != "cancel":
                    g.wanted.pop(client_id, None)
                self._sync_bracket(g)

    def on_fill(self, client_id: str, qty: int, price: int, fee=0) -> None:
        with self._lock:
            o = self._get(client_id)
            fee = Fraction(fee)
            o.apply_fill(qty, price, fee)
            self.portfolio.apply_fill(self.symbol, o.side, qty, price, fee)
            g = self._group_of.get(client_id)
            if isinstance(g, OcoGroup):
                self._oco_fill(g, o)
            elif isinstance(g, OtoGroup):
                self._oto_fill(g, o)
            elif isinstance(g, Bracket):
                self._sync_bracket(g)

    # ---- contingent rules ---------------------------------------------------------------
    def _after_end(self, o: Order) -> None:
        # OTO: a parent that ends without filling completely never sends its child, so
        # only brackets react to an order ending
        g = self._group_of.get(o.client_id)
        if isinstance(g, Bracket):
            self._sync_bracket(g)

    def _oco_fill(self, g: OcoGroup, o: Order) -> None:
        if g.done:
            g.overfill = g.overfill or any(leg.filled for leg in g.legs if leg is not o)
            return
        g.done = True
        for leg in g.legs:
            if leg is not o and not leg.state.terminal:
                self.outbox.append(Cancel(leg.client_id))

    def _oto_fill(self, g: OtoGroup, o: Order) -> None:
        if o is g.parent and o.state == OrderState.FILLED and g.child is None:
            c = g.child_spec
            g.child = self._new_order(c["client_id"], c["side"], c["qty"], c.get("price"),
                                      c.get("kind", "limit"), group=g.group_id, role="oto_child")
            self._group_of[g.child.client_id] = g

    def _request(self, b: Bracket, leg: Order, price: int, leaves: int) -> None:
        """Ask the venue for leg to have `leaves` working at `price` (cancel when 0)."""
        if leg.state.terminal:
            return
        if leaves <= 0:
            if b.wanted.get(leg.client_id) != "cancel":
                b.wanted[leg.client_id] = "cancel"
                self.outbox.append(Cancel(leg.client_id))
            return
        want = (price, leg.filled + leaves)
        current = b.wanted.get(leg.client_id, (leg.price, leg.qty))
        if want != current:
            b.wanted[leg.client_id] = want
            self.outbox.append(Amend(leg.client_id, price, want[1]))

    def _sync_bracket(self, b: Bracket) -> None:
        open_qty = b.open_qty
        exit_filled = sum(o.filled for o in b.exits)
        if b.done:
            b.overfill = max(0, -open_qty)
            b.unprotected = max(0, open_qty) if not any(
                not o.state.terminal for o in b.exits) else 0
            return
        if exit_filled > 0 and open_qty <= 0:
            b.done = True
            b.overfill = -open_qty
            for o in [b.entry, *b.exits]:
                if not o.state.terminal and b.wanted.get(o.client_id) != "cancel":
                    b.wanted[o.client_id] = "cancel"
                    self.outbox.append(Cancel(o.client_id))
            return
        if b.entry.filled == 0:
            if b.entry.state.terminal:
                b.done = True
            return
        stop_px, target_px = b.exit_prices()
        exit_side = "sell" if b.entry.side == "buy" else "buy"
        if b.stop is None:
            gid = b.group_id
            b.stop = self._new_order(f"{gid}:stop", exit_side, open_qty, stop_px, "stop",
                                     group=gid, role="stop")
            b.target = self._new_order(f"{gid}:target", exit_side, open_qty, target_px, "limit",
                                       group=gid, role="target")
            for o in b.exits:
                self._group_of[o.client_id] = b
                b.wanted[o.client_id] = (o.price, o.qty)
        else:
            self._request(b, b.stop, stop_px, open_qty)
            self._request(b, b.target, target_px, open_qty)
        live = [o for o in b.exits if not o.state.terminal]
        b.unprotected = 0 if live else max(0, open_qty)
