"""OCO and bracket under every interleaving of partial fills, cancels, amends and request
delivery (hypothesis stateful testing). A small venue model holds the authoritative order
state, delivers the manager's requests one at a time in order (so fills race requests in
flight) and reports back at once."""

import math
from fractions import Fraction

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bot.model import OrderState
from bot.oms import Amend, Cancel, OrderManager, Submit


class VenueModel:
    def __init__(self, oms: OrderManager):
        self.oms = oms
        self.orders = {}  # client_id -> dict(qty, filled, price, live)

    def deliver_one(self):
        if not self.oms.outbox:
            return False
        req = self.oms.outbox.popleft()
        if isinstance(req, Submit):
            o = req.order
            self.orders[o.client_id] = dict(qty=o.qty, filled=0, price=o.price, live=True)
            self.oms.on_ack(o.client_id)
        elif isinstance(req, Cancel):
            v = self.orders.get(req.client_id)
            if v and v["live"]:
                v["live"] = False
                self.oms.on_cancelled(req.client_id)
        elif isinstance(req, Amend):
            v = self.orders.get(req.client_id)
            if v and v["live"]:
                if req.qty <= v["filled"]:
                    self.oms.on_amend_rejected(req.client_id)
                else:
                    v["qty"], v["price"] = req.qty, req.price
                    self.oms.on_amended(req.client_id, req.price, req.qty)
        return True

    def drain(self):
        while self.deliver_one():
            pass

    def fill(self, cid, k, price):
        v = self.orders.get(cid)
        if not v or not v["live"]:
            return 0
        k = min(k, v["qty"] - v["filled"])
        if k <= 0:
            return 0
        v["filled"] += k
        if v["filled"] == v["qty"]:
            v["live"] = False
        self.oms.on_fill(cid, k, price, fee=Fraction(k * price, 1000))
        return k

    def expire(self, cid):
        v = self.orders.get(cid)
        if v and v["live"]:
            v["live"] = False
            self.oms.on_expired(cid)


class BracketMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.oms = OrderManager(symbol="X")
        self.oms.portfolio.initial_cash = self.oms.portfolio.cash = Fraction(10**9)
        self.venue = VenueModel(self.oms)
        self.side = "buy"
        self.b = None
        self.entry_fills = []

    @precondition(lambda self: self.b is None)
    @rule(side=st.sampled_from(["buy", "sell"]), qty=st.integers(1, 30))
    def open_bracket(self, side, qty):
        self.side = side
        self.b = self.oms.submit_bracket("g", side, qty, 1000, stop_offset=7, target_offset=13)

    @precondition(lambda self: self.b is not None)
    @rule(k=st.integers(1, 10), price=st.integers(990, 1010))
    def fill_entry(self, k, price):
        got = self.venue.fill("g:entry", k, price)
        if got:
            self.entry_fills.append((got, price))

    @precondition(lambda self: self.b is not None)
    @rule(leg=st.sampled_from(["g:stop", "g:target"]), k=st.integers(1, 10))
    def fill_exit(self, leg, k):
        v = self.venue.orders.get(leg)
        if v:
            self.venue.fill(leg, k, v["price"])

    @rule()
    def deliver(self):
        self.venue.deliver_one()

    @precondition(lambda self: self.b is not None)
    @rule()
    def user_cancels_entry(self):
        self.oms.cancel("g:entry")

    @precondition(lambda self: self.b is not None)
    @rule(cid=st.sampled_from(["g:entry", "g:stop", "g:target"]))
    def venue_expires(self, cid):
        self.venue.expire(cid)

    @precondition(lambda self: self.b is not None)
    @rule()
    def settle(self):
        """Deliver everything; with nothing in flight the venue must match the intent."""
        self.venue.drain()
        b = self.b
        live = {cid for cid, v in self.venue.orders.items() if v["live"]}
        if b.done:
            assert not live & {o.client_id for o in b.exits}
            assert "g:entry" not in live
            return
        open_qty = b.open_qty
        for leg in b.exits:
            v = self.venue.orders[leg.client_id]
            if v["live"]:
                assert v["qty"] - v["filled"] == open_qty
                assert v["price"] == self.expected_prices()[leg.role]
        if open_qty > 0 and not any(self.venue.orders[o.client_id]["live"] for o in b.exits):
            assert b.unprotected == open_qty

    def expected_prices(self):
        n = sum(q for q, _ in self.entry_fills)
        avg = Fraction(sum(q * p for q, p in self.entry_fills), n)
        if self.side == "buy":
            return {"stop": math.floor(avg - 7), "target": math.ceil(avg + 13)}
        return {"stop": math.ceil(avg + 7), "target": math.floor(avg - 13)}

    @invariant()
    def oms_agrees_with_venue(self):
        for cid, v in self.venue.orders.items():
            o = self.oms.orders[cid]
            assert o.filled == v["filled"]
            assert o.state.terminal == (not v["live"])
            if o.state is OrderState.FILLED:
                assert v["filled"] == v["qty"]

    @invariant()
    def exits_track_entry(self):
        b = self.b
        if b is None or b.done or not b.exits:
            return
        exp = self.expected_prices()
        for leg in b.exits:
            if leg.state.terminal:
                continue
            want = b.wanted[leg.client_id]
            assert want == (exp[leg.role], leg.filled + b.open_qty)

    @invariant()
    def done_means_cancels_requested(self):
        b = self.b
        if b is None or not b.done:
            return
        for o in [b.entry, *b.exits]:
            assert o.state.terminal or b.wanted.get(o.client_id) == "cancel"

    @invariant()
    def position_and_money(self):
        p = self.oms.portfolio
        assert p.conservation_gap() == 0
        if self.b is None:
            return
        sign = 1 if self.side == "buy" else -1
        assert p.position("X").qty == sign * self.b.open_qty


class OcoMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.oms = OrderManager(symbol="X")
        self.venue = VenueModel(self.oms)
        self.g = self.oms.submit_oco("o", [
            dict(client_id="a", side="sell", qty=10, price=110),
            dict(client_id="b", side="sell", qty=10, price=90, kind="stop"),
            dict(client_id="c", side="buy", qty=10, price=80)])

    @rule(leg=st.sampled_from("abc"), k=st.integers(1, 10))
    def fill(self, leg, k):
        v = self.venue.orders.get(leg)
        if v:
            self.venue.fill(leg, k, v["price"])

    @rule()
    def deliver(self):
        self.venue.deliver_one()

    @rule(leg=st.sampled_from("abc"))
    def cancel(self, leg):
        self.oms.cancel(leg)

    @invariant()
    def rules_hold(self):
        legs = self.g.legs
        filled = [o for o in legs if o.filled]
        assert self.g.done == bool(filled)
        assert self.g.overfill == (len(filled) > 1)
        for o in legs:
            assert o.filled == self.venue.orders.get(o.client_id, {"filled": 0})["filled"]

    @rule()
    def settle(self):
        self.venue.drain()
        if self.g.done:
            first = [o for o in self.g.legs if o.filled]
            # after delivery only legs that already had fills can still work
            for o in self.g.legs:
                if o not in first:
                    assert not self.venue.orders[o.client_id]["live"]


TestBracket = BracketMachine.TestCase
TestBracket.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
TestOco = OcoMachine.TestCase
TestOco.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
