"""OMS: order state machine, idempotency cache (repeats, TTL, LRU, threads), positions and
PnL in exact arithmetic (conservation over random fill sequences), OCO/OTO/bracket basics."""

import threading
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model import InvalidTransition, Order, OrderError, OrderState
from bot.oms import Amend, Cancel, IdempotencyCache, OrderManager, Portfolio, PortfolioError, Submit

S = OrderState


# ---- state machine ------------------------------------------------------------------------

def test_lifecycle_and_invalid_transitions():
    o = Order("a", "buy", 10, 100)
    o.transition(S.ACKNOWLEDGED)
    o.apply_fill(4, 100)
    assert o.state is S.PARTIALLY_FILLED and o.leaves == 6
    o.apply_fill(6, 103)
    assert o.state is S.FILLED and o.avg_price == Fraction(4 * 100 + 6 * 103, 10)
    assert o.history == [S.NEW, S.ACKNOWLEDGED, S.PARTIALLY_FILLED, S.FILLED]
    with pytest.raises(InvalidTransition, match="from filled to cancelled"):
        o.transition(S.CANCELLED)
    n = Order("b", "sell", 1, 5)
    with pytest.raises(InvalidTransition, match="fill in state new"):
        n.apply_fill(1, 5)
    assert n.filled == 0 and n.state is S.NEW
    with pytest.raises(InvalidTransition):
        n.transition(S.PARTIALLY_FILLED)
    n.transition(S.REJECTED)
    with pytest.raises(InvalidTransition):
        n.transition(S.ACKNOWLEDGED)


@pytest.mark.parametrize("kwargs,field", [
    (dict(client_id="", side="buy", qty=1, price=1), "client_id"),
    (dict(client_id="x", side="long", qty=1, price=1), "side"),
    (dict(client_id="x", side="buy", qty=0, price=1), "qty"),
    (dict(client_id="x", side="buy", qty=1, price=1.5), "price"),
    (dict(client_id="x", side="buy", qty=1, price=1, kind="market"), "price"),
])
def test_order_fields_checked(kwargs, field):
    with pytest.raises(OrderError, match=field):
        Order(**kwargs)


def test_overfill_refused_without_change():
    o = Order("a", "buy", 3, 100)
    o.transition(S.ACKNOWLEDGED)
    with pytest.raises(OrderError, match="exceeds leaves"):
        o.apply_fill(4, 100)
    assert o.filled == 0 and o.state is S.ACKNOWLEDGED


# ---- idempotency --------------------------------------------------------------------------

def test_repeat_submission_returns_original():
    m = OrderManager()
    a = m.submit("c1", "buy", 5, 100)
    b = m.submit("c1", "sell", 9, 200)  # same id, different fields: still the original
    assert a is b and a.side == "buy" and len(m.orders) == 1
    assert [type(x) for x in m.outbox] == [Submit]


def test_cache_ttl_and_lru():
    now = [0]
    c = IdempotencyCache(max_entries=3, ttl_ns=100, clock=lambda: now[0])
    calls = []

    def make(k):
        calls.append(k)
        return k

    for k in "abc":
        c.get_or_create(k, lambda k=k: make(k))
    assert c.get_or_create("a", lambda: make("a2")) == ("a", False)  # a is now most recent
    c.get_or_create("d", lambda: make("d"))  # evicts b (least recently used)
    assert c.get("b") is None and c.get("a") == "a" and len(c) == 3
    now[0] = 150  # a, c, d were inserted at 0: all stale
    assert c.get_or_create("a", lambda: make("a3")) == ("a3", True)
    assert len(c) == 1
    assert calls == ["a", "b", "c", "d", "a3"]


def test_cache_arguments_checked():
    with pytest.raises(ValueError, match="max_entries"):
        IdempotencyCache(max_entries=0)
    with pytest.raises(ValueError, match="ttl_ns"):
        IdempotencyCache(ttl_ns=-1)
    with pytest.raises(ValueError, match="client_id"):
        IdempotencyCache().get_or_create("", lambda: 1)


def test_expired_cache_entry_never_creates_second_order():
    now = [0]
    m = OrderManager(cache=IdempotencyCache(ttl_ns=10, clock=lambda: now[0]))
    a = m.submit("c1", "buy", 5, 100)
    now[0] = 100
    assert m.submit("c1", "buy", 5, 100) is a
    assert sum(isinstance(x, Submit) for x in m.outbox) == 1


def test_concurrent_submission_creates_one_order():
    m = OrderManager()
    barrier = threading.Barrier(8)
    got = []

    def worker(i):
        barrier.wait()
        for k in range(200):
            got.append(m.submit(f"id{k % 50}", "buy", 1 + i, 100))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(m.orders) == 50
    assert sum(isinstance(x, Submit) for x in m.outbox) == 50
    by_id = {}
    for o in got:
        assert by_id.setdefault(o.client_id, o) is o


# ---- positions and PnL --------------------------------------------------------------------

def test_average_cost_and_realized():
    p = Portfolio(initial_cash=10_000)
    p.apply_fill("X", "buy", 3, 100, fee=1)
    p.apply_fill("X", "buy", 1, 104, fee=Fraction(1, 2))
    pos = p.position("X")
    assert pos.qty == 4 and pos.avg_cost == Fraction(404, 4)
    r = p.apply_fill("X", "sell", 6, 110, fee=2)  # closes 4 (realizes 36), opens 2 short
    assert r == 4 * 110 - 404
    assert pos.qty == -2 and pos.avg_cost == 110
    assert pos.unrealized_pnl(100) == 20
    assert p.fees_paid == Fraction(7, 2)
    assert p.conservation_gap() == 0


def test_portfolio_rejects_bad_fill_without_change():
    p = Portfolio(100)
    for kwargs, field in [(dict(side="hold", qty=1, price=1), "side"),
                          (dict(side="buy", qty=0, price=1), "qty"),
                          (dict(side="buy", qty=1, price=-1), "price")]:
        with pytest.raises(PortfolioError, match=field):
            p.apply_fill("X", **kwargs)
    assert p.cash == 100 and p.fees_paid == 0


fill_st = st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 50), st.integers(1, 10_000),
                    st.fractions(min_value=-5, max_value=20, max_denominator=10_000),
                    st.sampled_from(["X", "Y"]))


@settings(max_examples=150, deadline=None)
@given(fills=st.lists(fill_st, min_size=1, max_size=300), cash=st.integers(0, 10**9))
def test_conservation_over_random_fills(fills, cash):
    p = Portfolio(initial_cash=cash)
    flows = {"X": [0, Fraction(0)], "Y": [0, Fraction(0)]}  # qty, -cash flow excluding fees
    for side, qty, price, fee, sym in fills:
        p.apply_fill(sym, side, qty, price, fee)
        signed = qty if side == "buy" else -qty
        flows[sym][0] += signed
        flows[sym][1] += signed * price
        assert p.conservation_gap() == 0
    for sym, (q, spent) in flows.items():
        pos = p.position(sym)
        assert pos.qty == q
        # marking at any price: realized + unrealized == value of position - money spent
        assert pos.realized_pnl + pos.unrealized_pnl(777) == q * 777 - spent


# ---- contingent basics --------------------------------------------------------------------

def drain(m):
    out = list(m.outbox)
    m.outbox.clear()
    return out


def test_oco_first_fill_cancels_sibling():
    m = OrderManager()
    g = m.submit_oco("g", [dict(client_id="a", side="sell", qty=5, price=110),
                           dict(client_id="b", side="sell", qty=5, price=90, kind="stop")])
    assert m.submit_oco("g", []) is g  # idempotent by group id
    drain(m)
    m.on_ack("a")
    m.on_ack("b")
    m.on_fill("a", 2, 110)
    assert drain(m) == [Cancel("b")]
    m.on_fill("b", 1, 90)  # race: b filled before its cancel landed
    assert g.overfill
    m.on_cancelled("b")
    assert m.orders["b"].state is S.CANCELLED


def test_oto_child_only_after_full_parent_fill():
    m = OrderManager()
    m.submit_oto("t", dict(client_id="p", side="buy", qty=4, price=100),
                 dict(client_id="c", side="sell", qty=4, price=120))
    drain(m)
    m.on_ack("p")
    m.on_fill("p", 3, 100)
    assert drain(m) == [] and "c" not in m.orders
    m.on_fill("p", 1, 100)
    out = drain(m)
    assert len(out) == 1 and out[0].order.client_id == "c"


def test_bracket_reprices_and_resizes_on_entry_fills():
    m = OrderManager()
    b = m.submit_bracket("br", "buy", 10, 100, stop_offset=5, target_offset=10)
    drain(m)
    m.on_ack("br:entry")
    m.on_fill("br:entry", 3, 100)
    out = drain(m)
    assert [(o.order.client_id, o.order.price, o.order.qty) for o in out] == [
        ("br:stop", 95, 3), ("br:target", 110, 3)]
    m.on_ack("br:stop")
    m.on_ack("br:target")
    m.on_fill("br:entry", 1, 104)  # avg 101 -> stop 96, target 111
    assert drain(m) == [Amend("br:stop", 96, 4), Amend("br:target", 111, 4)]
    m.on_amended("br:stop", 96, 4)
    m.on_amended("br:target", 111, 4)
    m.on_fill("br:target", 1, 111)  # partial exit shrinks the stop to the open 3
    assert drain(m) == [Amend("br:stop", 96, 3)]
    m.on_amended("br:stop", 96, 3)
    m.on_fill("br:target", 3, 111)  # position closed: cancel stop and the rest of the entry
    assert b.done and set(drain(m)) == {Cancel("br:stop"), Cancel("br:entry")}
    assert m.portfolio.position("BTCUSDT").qty == 0
    assert m.portfolio.realized_pnl == 4 * 111 - (3 * 100 + 104)
