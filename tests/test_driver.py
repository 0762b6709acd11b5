"""The driver (bot.strategy.driver) over the simulated venue (bot.venues.sim, C):

* the market maker gives exactly the fills the Python loop gave before the loop moved to C
  (golden digests recorded from that loop: same seed, same data, same fills);
* random strategies (submits, cancels, amends, OCO, brackets) never break OMS conservation,
  and the C driver's integer books equal the OMS portfolio; journaled to a store, the run
  recovers to the OMS's state;
* every callback of the strategy API fires as documented.
"""

import hashlib
import json
from collections import Counter
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.data.synthetic import synthetic_market
from bot.strategy import MicropriceMM, Strategy
from bot.strategy.driver import Driver
from bot.venues.sim import FeeSchedule, SimVenue, VenueConfig


def fills_digest(fills) -> tuple[int, str]:
    rows = [(f.ts, str(f.side), f.price, f.qty, str(f.liquidity), str(Decimal(f.fee).normalize()))
            for f in fills]
    return len(rows), hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def run(ev, inst, strategy, interval_ns=100_000_000, cfg=None, **kw):
    venue = SimVenue(ev, inst, cfg or VenueConfig(seed=7))
    return Driver(venue, strategy, interval_ns=interval_ns, **kw).run(), venue


# (fills, sha256 of [(ts, side, price, qty, liquidity, fee)]) recorded from the market
# maker's Python loop over the Python venue, as Bot4 ran it before the loop moved to C
# (its form is kept in tests/sim_reference.py:reference_market_maker), VenueConfig(seed=7).
GOLDEN_SYNTH = {
    (100_000_000, "risk_averse"): (1071, "c872330666e555131b06b41c83849d936cf2da3188a16e4ebda1fb964432cdd5"),
    (1_000_000, "power"): (669, "2d067a59e60dd590a000bbf630e77c22d4e7b360b904d935f8568ea650149f8a"),
}
GOLDEN_USDM = {
    100_000_000: (423, "b0a5fe7be95912e23dc5de3d8745c94203c55f3b4cd38c703ef44735daf7a803"),
    1_000_000: (604, "b15e3e94c2b22b7045ebd97f95731ac60844b8dc2b4f6ee8942bfe0eee447e52"),
}


@pytest.fixture(scope="module")
def synth200k():
    return synthetic_market(200_000, seed=7, regime="sideways")


@pytest.mark.parametrize("interval_ns, queue_model", sorted(GOLDEN_SYNTH))
def test_market_maker_fills_unchanged_on_synthetic(synth200k, interval_ns, queue_model):
    ev, inst = synth200k
    res, _ = run(ev, inst, MicropriceMM(), interval_ns, VenueConfig(seed=7, queue_model=queue_model))
    assert fills_digest(res.fills) == GOLDEN_SYNTH[(interval_ns, queue_model)]
    assert res.conservation_gap == 0


@pytest.mark.parametrize("interval_ns", sorted(GOLDEN_USDM))
def test_market_maker_fills_unchanged_on_recorded_usdm(usdm_events, interval_ns):
    ev, inst = usdm_events
    # recorded when every market paid spot's fee tiers: pinned here, like for like
    res, _ = run(ev, inst, MicropriceMM(), interval_ns, VenueConfig(seed=7, fees=FeeSchedule()))
    assert fills_digest(res.fills) == GOLDEN_USDM[interval_ns]


# ---- random strategies ---------------------------------------------------------------------
ACTIONS = ("limit", "limit", "market", "ioc", "cancel", "amend", "bracket", "oco", "nothing")


class RandomStrategy(Strategy):
    """Acts from a script of (action, a, b) drawn by hypothesis, one entry per step."""

    def __init__(self, script):
        self.script = script
        self.k = 0
        self.groups = 0
        self.told_fills = []

    def on_decision(self, ctx, features):
        if self.k >= len(self.script):
            return
        action, a, b = self.script[self.k]
        self.k += 1
        bid, _, ask, _ = ctx.market.touch()
        if not 0 < bid < ask:
            return
        side = "buy" if a % 2 == 0 else "sell"
        qty = 1 + b % 4
        inside = bid - a % 5 if side == "buy" else ask + a % 5
        opens = ctx.open_orders()
        if action == "limit":
            ctx.submit(side, qty, max(inside, 1))
        elif action == "market":
            ctx.submit(side, qty, None, kind="market", tif="ioc")
        elif action == "ioc":
            ctx.submit(side, qty, ask if side == "buy" else bid, tif="ioc")
        elif action == "cancel" and opens:
            ctx.cancel(opens[a % len(opens)].client_id)
        elif action == "amend" and opens:
            o = opens[a % len(opens)]
            if o.kind == "limit" and not o.state.terminal:
                ctx.amend(o.client_id, max(1, o.price + (b % 3) - 1), max(o.filled + 1, o.qty + (a % 3) - 1))
        elif action == "bracket":
            self.groups += 1
            ctx.bracket(f"br{self.groups}", side, qty, ask if side == "buy" else bid, 1 + a % 7, 1 + b % 7)
        elif action == "oco":
            self.groups += 1
            g = f"oco{self.groups}"
            ctx.oco(g, [dict(client_id=f"{g}:a", side=side, qty=qty, price=max(inside, 1)),
                        dict(client_id=f"{g}:b", side=side, qty=qty, price=max(inside - 3, 1))])

    def on_fill(self, ctx, fill):
        self.told_fills.append(fill)


script = st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 1000), st.integers(0, 1000)),
                  min_size=5, max_size=60)


@pytest.fixture(scope="module")
def synth20k():
    return synthetic_market(20_000, seed=11, regime="crisis")


def check_books(res, venue, strat):
    inst = res.instrument
    p = res.portfolio
    assert p.conservation_gap() == 0
    pos = p.position(inst.symbol)
    # the OMS's orders hold exactly the fills the venue reported, and the strategy was told each
    per_order = Counter()
    for f in res.fills:
        per_order[f.client_id] += f.qty
    assert set(res.orders) >= set(per_order)
    for cid, o in res.orders.items():
        assert o.filled == per_order[cid], cid
        assert o.state.terminal or o.filled < o.qty, (cid, o.state)
    assert len(strat.told_fills) == len(res.fills)
    # the orders of contingent groups, kept by the OMS, agree with the venue's C driver
    for cid, o in res.oms.orders.items():
        v = venue.order(cid)
        assert (v.state, v.filled, v.qty, v.price) == (o.state, o.filled, o.qty, o.price), cid
    # the C driver's integer books equal the portfolio booked from the fills
    acct = venue.account()
    assert acct["position"] == pos.qty
    assert Fraction(acct["cash"]) == p.cash - p.initial_cash + p.fees_paid
    assert acct["fees"] == res.fees_quote
    assert acct["fills"] == len(res.fills) and acct["state_errors"] == 0


@settings(max_examples=25)
@given(script=script)
def test_random_strategies_keep_the_books(synth20k, script):
    ev, inst = synth20k
    strat = RandomStrategy(script)
    res, venue = run(ev, inst, strat, 20_000_000, VenueConfig(seed=3, rate_limit_orders=1000))
    check_books(res, venue, strat)


@settings(max_examples=6)
@given(script=script)
def test_random_strategies_journal_and_recover(synth20k, script, tmp_path_factory):
    from bot.store import open_store
    from bot.store.session import SessionStore

    ev, inst = synth20k
    db = tmp_path_factory.mktemp("drv") / "s.db"
    store = open_store(f"sqlite:///{db}")
    try:
        strat = RandomStrategy(script)
        res, venue = run(ev, inst, strat, 20_000_000, VenueConfig(seed=3, rate_limit_orders=1000),
                         session=SessionStore(store, "r1"))
    finally:
        store.close()
    assert res.store["recovered_equals_oms"], res.store["mismatches"]
    assert res.store["check_ok"], res.store["check_violations"]
    plain, _ = run(ev, inst, RandomStrategy(script), 20_000_000, VenueConfig(seed=3, rate_limit_orders=1000))
    assert fills_digest(plain.fills) == fills_digest(res.fills)  # 'wait' view: same as no store


# ---- the callbacks --------------------------------------------------------------------------
class Recorder(Strategy):
    wants_features = True
    bar_interval_ns = 1_000_000_000

    def __init__(self):
        self.calls = Counter()
        self.trades = 0
        self.bars = []
        self.timers = []
        self.vectors = []
        self.orders = []

    def on_start(self, ctx):
        self.calls["start"] += 1
        self.t0 = ctx.now
        ctx.set_timer("later", ctx.now + 2_000_000_000)

    def on_trade(self, ctx, trades):
        self.calls["trade"] += 1
        self.trades += len(trades)
        assert (trades["kind"] == 3).all()

    def on_book(self, ctx):
        self.calls["book"] += 1

    def on_bar(self, ctx, bar):
        self.bars.append(bar)

    def on_timer(self, ctx, name):
        self.timers.append((name, ctx.now))

    def on_decision(self, ctx, features):
        self.calls["decision"] += 1
        self.vectors.append((features.copy(), ctx.market.touch()))
        if self.calls["decision"] == 5:
            bid = ctx.market.bid
            ctx.submit("buy", 1, bid)
            self.cid = ctx.submit("sell", 1, ctx.market.ask + 100_000)
        if self.calls["decision"] == 8:
            ctx.cancel(self.cid)

    def on_order(self, ctx, order, report):
        self.orders.append((order.client_id, report.kind))

    def on_stop(self, ctx):
        self.calls["stop"] += 1


def test_every_callback_fires(synth20k):
    from engine.feature_layout import INDEX, N_FEATURES

    ev, inst = synth20k
    strat = Recorder()
    res, venue = run(ev, inst, strat, 50_000_000)
    assert strat.calls["start"] == 1 and strat.calls["stop"] == 1
    assert strat.calls["decision"] == res.steps > 10
    # every trade replayed by the last step seen once (the step at t replays rows before t)
    t_last = int(ev["ts_local"][0]) + (res.steps - 1) * 50_000_000
    assert strat.trades == int(((ev["kind"] == 3) & (ev["ts_local"] < t_last)).sum())
    assert sum(b.trades for b in strat.bars) <= strat.trades and len(strat.bars) >= 1
    assert strat.timers and strat.timers[0][0] == "later" and strat.timers[0][1] >= strat.t0 + 2_000_000_000
    assert 0 < strat.calls["book"] <= strat.calls["decision"]
    # each decision's vector describes the book the strategy sees at that step (our orders
    # here never take liquidity, so the venue's book is the feed's)
    for vec, (bid, _, ask, _) in strat.vectors[1:]:
        assert vec.shape == (N_FEATURES,)
        if 0 < bid < ask:
            assert vec[INDEX["spread"]] == ask - bid and vec[INDEX["mid"]] == (bid + ask) / 2
    kinds = [k for _, k in strat.orders]
    assert "ack" in kinds and "cancelled" in kinds


def test_bad_strategy_and_interval(synth20k):
    from bot.strategy import StrategyError

    ev, inst = synth20k
    with pytest.raises(StrategyError, match="interval_ns"):
        Driver(SimVenue(ev, inst), MicropriceMM(), interval_ns=0)
    with pytest.raises(StrategyError, match="must be a bot.strategy.Strategy"):
        Driver(SimVenue(ev, inst), object())

    class Twice(Strategy):
        def on_decision(self, ctx, features):
            if ctx.market.two_sided:
                ctx.submit("buy", 1, ctx.market.bid, client_id="same")
                ctx.submit("buy", 1, ctx.market.bid, client_id="same")

    with pytest.raises(StrategyError, match="already used"):
        run(ev, inst, Twice())


def test_depth_and_market_view(synth20k):
    ev, inst = synth20k
    seen = {}

    class Look(Strategy):
        def on_decision(self, ctx, features):
            if "d" not in seen and ctx.market.two_sided:
                seen["d"] = ctx.market.depth("buy", 5)
                seen["touch"] = ctx.market.touch()
                seen["mid"] = ctx.market.mid

    run(ev, inst, Look())
    d = seen["d"]
    assert d.shape[1] == 2 and len(d) == 5 and np.all(np.diff(d[:, 0]) < 0)
    assert d[0, 0] == seen["touch"][0] and d[0, 1] == seen["touch"][1]
    assert seen["mid"] == Fraction(seen["touch"][0] + seen["touch"][2], 2)


def test_no_order_after_the_data_ends(synth20k):
    from bot.strategy import StrategyError

    ev, inst = synth20k

    class Late(Strategy):
        def on_stop(self, ctx):
            ctx.submit("buy", 1, 1)

    with pytest.raises(StrategyError, match="data has ended"):
        run(ev, inst, Late())


def test_default_quote_size_without_a_minimum_notional():
    from bot.model import Instrument
    from bot.strategy.microprice_mm import default_order_qty

    free = Instrument("x", "ABCUSDT", Decimal("0.1"), Decimal("0.001"))  # inferred spec: no minimum
    assert default_order_qty(free, 600_000) == 1
    usdm = Instrument("x", "ABCUSDT", Decimal("0.1"), Decimal("0.001"), Decimal("100"))
    assert default_order_qty(usdm, 600_000) == 4  # 2 * 100 / (60000.0 * 0.001) = 3.33 -> 4 lots


def test_fee_schedule_follows_the_market(usdm_events):
    from bot.model import Instrument
    from bot.venues.sim import COINM_TIERS, DEFAULT_TIERS, USDM_TIERS, FeeTier, fee_schedule

    def spec(venue):
        return Instrument(venue, "X", Decimal("0.1"), Decimal("0.001"))

    assert fee_schedule(VenueConfig(), spec("binance-usdm")).tiers == USDM_TIERS
    assert fee_schedule(VenueConfig(), spec("binance-coinm")).tiers == COINM_TIERS
    assert fee_schedule(VenueConfig(), spec("binance-spot")).tiers == DEFAULT_TIERS
    own = FeeSchedule((FeeTier(Decimal(0), Decimal("-1"), Decimal("3")),))
    assert fee_schedule(VenueConfig(fees=own), spec("binance-usdm")) is own
    # a USD-M backtest pays USD-M's first tier: 2 bps maker, 5 bps taker, exactly
    ev, inst = usdm_events
    res, _ = run(ev, inst, MicropriceMM(), 100_000_000)
    unit = inst.tick_size * inst.lot_size
    assert res.fills
    for f in res.fills:
        bps = Decimal(2) if f.liquidity == "maker" else Decimal(5)
        assert f.fee == Decimal(f.price * f.qty) * unit * bps / 10_000
