"""SimDriver (engine.simdriver over csrc/simdriver.c) against its reference, the Python
SimVenue of tests/sim_reference.py: with constant latencies the two give the same report streams
field by field (fees as exact Decimals), the same queue summaries and the same touch after
every advance, on constructed and generated markets under random order flow and random
venue settings; the market maker's Python loop (sim_reference.reference_market_maker) gives
the same fills through
SimDriver.run; bad arguments raise and change nothing; the driver's order states and
integer accounting equal the OMS's and a plain-Python recomputation."""

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.oms import OrderManager
from bot.strategy.microprice_mm import default_order_qty
from bot.venues.sim import FeeSchedule, FeeTier, Impact, Latency, VenueConfig, fee_schedule
from sim_reference import SimVenue, apply_report, reference_market_maker
from bot.strategy.microprice_mm import MicropriceMM
from engine import events as E
from engine import simdriver as D
from engine.synth import generate
from eventbuild import EventBuilder

try:  # the shared vocabulary's home (bot.model); older trees kept it in bot.data
    from bot.model import Instrument
except ImportError:  # pragma: no cover
    from bot.data.instruments import Instrument

BID, ASK = E.SIDE_BID, E.SIDE_ASK
INST = Instrument("test", "T", Decimal("0.01"), Decimal("0.001"), Decimal("0"))


# ---- SimDriver from a VenueConfig: the integer settings and the fee conversion -------------

def fee_scale(cfg: VenueConfig, inst: Instrument) -> int:
    """R = 10^k making every bps rate an integer."""
    k = 0
    for t in fee_schedule(cfg, inst).tiers:
        for bps in (t.maker_bps, t.taker_bps):
            k = max(k, -bps.normalize().as_tuple().exponent)
    return 10 ** k


def run_steps(d, start, end, interval, step):
    """SimDriver.run with one callback per step, step(t, reports) (an empty array when the
    step had none): on_reports keeps the step's view, on_step hands it on."""
    box = []
    empty = np.zeros(0, dtype=D.REPORT_DTYPE)

    def on_step():
        step(d.step_t, box.pop() if box else empty)

    return d.run(start, end, interval, box.append, on_step)



def fee_converter(inst: Instrument, cfg: VenueConfig):
    """fee units -> quote Decimal: units * tick * lot / (10000 * R)."""
    unit = inst.tick_size * inst.lot_size
    scale = Decimal(10_000 * fee_scale(cfg, inst))
    return lambda units: Decimal(int(units)) * unit / scale


def driver_for(events, inst: Instrument, cfg: VenueConfig, **kw):
    """(SimDriver with cfg's settings, fee units -> quote Decimal)."""
    unit = inst.tick_size * inst.lot_size
    r = fee_scale(cfg, inst)
    tiers = {}
    for t in fee_schedule(cfg, inst).tiers:  # thresholds in tick-lots; equal ceilings: the later tier wins
        tiers[math.ceil(t.min_volume / unit)] = (int(t.maker_bps * r), int(t.taker_bps * r))
    d = D.SimDriver(
        events,
        entry_latency=(cfg.entry_latency.median_ns, cfg.entry_latency.sigma),
        ack_latency=(cfg.ack_latency.median_ns, cfg.ack_latency.sigma),
        md_latency=(cfg.md_latency.median_ns, cfg.md_latency.sigma),
        fee_tiers=[(v, m, tk) for v, (m, tk) in sorted(tiers.items())],
        impact_gamma=cfg.impact.gamma, impact_sigma=cfg.impact.sigma,
        impact_adv_lots=cfg.impact.adv_lots, percent_price=cfg.percent_price,
        min_notional_ticklots=math.ceil(inst.min_notional / unit),
        rate_limit_orders=cfg.rate_limit_orders, rate_limit_window_ns=cfg.rate_limit_window_ns,
        queue_model=cfg.queue_model, queue_power=cfg.queue_power, max_orders=cfg.max_orders,
        seed=cfg.seed, **kw)
    return d, fee_converter(inst, cfg)


def venue_row(r):
    return (r.kind, r.client_id, r.ts, r.visible_ts, r.side, r.price, r.qty, r.leaves,
            r.liquidity, r.fee, r.reason, r.ahead)


def driver_rows(arr, fee):
    out = []
    for x in arr:
        liq = D.LIQUIDITY[x["liquidity"]]
        reason = D.REASONS[x["reason"]]
        out.append((D.KINDS[x["kind"]], f"c{int(x['id'])}", int(x["ts"]), int(x["visible_ts"]),
                    D.SIDES[x["side"]], int(x["price"]), int(x["qty"]), int(x["leaves"]),
                    "" if liq == "none" else liq, fee(x["fee_units"]),
                    "" if reason == "none" else reason, int(x["ahead"])))
    return out


def best(v, side):
    b = v.core.best(side)
    return (0, 0) if b is None else b


# ---- markets -------------------------------------------------------------------------------

def small_market():
    b = EventBuilder().snapshot(1_000, [(10_000, 10), (9_999, 10)], [(10_001, 10), (10_002, 10)])
    ts = 1_000
    for i in range(200):
        ts += 1_000_000
        b.trade(ts, 10_000 if i % 2 else 10_001, 3, ASK if i % 2 else BID)
        b.diff(ts, [(BID, 10_000, 10), (ASK, 10_001, 10)])
    return b.build()


def random_market(seed, n_msgs=300):
    """A random walk of an uncrossed book: level changes near the touch, trades at the
    touch (and through it), equal timestamps now and then."""
    rng = np.random.default_rng(seed)
    bids = {10_000 - k: int(rng.integers(1, 30)) for k in range(6)}
    asks = {10_001 + k: int(rng.integers(1, 30)) for k in range(6)}
    b = EventBuilder().snapshot(1_000, sorted(bids.items(), reverse=True), sorted(asks.items()))
    ts = 1_000
    for _ in range(n_msgs):
        ts += int(rng.choice([0, 1_000, 250_000, 1_000_000, 3_000_000]))
        bb, ba = max(bids), min(asks)
        u = rng.random()
        if u < 0.35:  # trade at (or a tick through) the touch
            if rng.random() < 0.5:
                px = ba + (1 if rng.random() < 0.1 else 0)
                b.trade(ts, px, int(rng.integers(1, 12)), BID)
                left = asks.get(ba, 0) - int(rng.integers(0, 8))
                ch = [(ASK, ba, max(left, 0))]
                if left <= 0:
                    del asks[ba]
                    if not asks:
                        asks[ba + 1] = 5
                        ch.append((ASK, ba + 1, 5))
                else:
                    asks[ba] = left
            else:
                px = bb - (1 if rng.random() < 0.1 else 0)
                b.trade(ts, px, int(rng.integers(1, 12)), ASK)
                left = bids.get(bb, 0) - int(rng.integers(0, 8))
                ch = [(BID, bb, max(left, 0))]
                if left <= 0:
                    del bids[bb]
                    if not bids:
                        bids[bb - 1] = 5
                        ch.append((BID, bb - 1, 5))
                else:
                    bids[bb] = left
            b.diff(ts, ch)
        else:  # level change on either side, never crossing
            side = BID if rng.random() < 0.5 else ASK
            if side == BID:
                px = int(rng.integers(bb - 4, ba))  # may improve the bid up to ask - 1
                q = int(rng.integers(0, 30))
                if q == 0 and (px not in bids or len(bids) == 1):
                    q = 3
                bids.pop(px, None) if q == 0 else bids.__setitem__(px, q)
            else:
                px = int(rng.integers(bb + 1, ba + 5))
                q = int(rng.integers(0, 30))
                if q == 0 and (px not in asks or len(asks) == 1):
                    q = 3
                asks.pop(px, None) if q == 0 else asks.__setitem__(px, q)
            b.diff(ts, [(side, px, q)])
    return b.build()


# ---- the parity harness ----------------------------------------------------------------------

OPS = ["limit", "limit", "limit", "ioc", "fok", "market", "post_only", "gtd", "stop", "stop_gtd",
       "cancel", "cancel", "amend", "amend", "past"]

action = st.tuples(st.sampled_from(OPS), st.sampled_from(["buy", "sell"]),
                   st.integers(-4, 4) | st.sampled_from([-3_500, -40, 40, 3_500]),
                   st.integers(1, 25), st.integers(0, 1000),
                   st.sampled_from([0, 0, 1, 500, 250_000, 1_000_000, 3_000_000]))


def replay(events, inst, cfg, actions, qty_mult=1, with_oms=True):
    """Run one request stream through SimVenue and SimDriver; assert equality at every
    advance. Returns (venue, driver, venue reports, driver report rows, oms)."""
    v = SimVenue(events, inst, cfg)
    d, fee = driver_for(events, inst, cfg)
    oms = OrderManager(symbol=inst.symbol) if with_oms else None
    unit = inst.tick_size * inst.lot_size
    oms_errors = 0
    seen_v, seen_d = [], []
    t = int(events["ts_local"][0])
    n_ids = 0

    def take(rv, rd):
        nonlocal oms_errors
        rows = driver_rows(rd, fee)
        assert [venue_row(r) for r in rv] == rows
        seen_v.extend(rv)
        seen_d.append(rd)
        if oms is not None:
            for r in rv:
                try:
                    apply_report(oms, r, unit)
                except ValueError:  # the OMS refused it (InvalidTransition, OrderError)
                    oms_errors += 1

    for op, side, off, qty, pick, dt in actions:
        t += dt
        take(v.advance(t), d.advance(t))
        assert d.touch == (*best(v, "buy"), *best(v, "sell"))
        assert d.pos == v.core.pos
        bid, ask = d.bid_px, d.ask_px
        ref = (bid if side == "buy" else ask) or (ask if side == "buy" else bid) or 10_000
        q = qty * qty_mult
        if op in ("cancel", "amend"):
            if not n_ids:
                continue
            oid = 1 + pick % n_ids
            cid = f"c{oid}"
            if op == "cancel":
                v.cancel(t, cid)
                d.cancel(t, oid)
            else:
                info = v._orders[cid]
                px = max(info.price + off, 1) if pick % 3 else max(info.price, 1)
                nq = max(info.qty + off * qty_mult, 1) if pick % 2 else max(info.qty - 1, 1)
                v.amend(t, cid, px, nq)
                d.amend(t, oid, px, nq)
            continue
        kw = {}
        send = t
        price = max(ref + off, 1)
        kind = "limit"
        if op == "ioc":
            kw["tif"] = "ioc"
        elif op == "fok":
            kw["tif"] = "fok"
        elif op == "market":
            price = 0
            kw["tif"] = "ioc" if pick % 2 else "fok"
        elif op == "post_only":
            kw["post_only"] = True
        elif op == "gtd":
            kw.update(tif="gtd", expire_ts=t + 1 + pick * 10_000)
        elif op in ("stop", "stop_gtd"):
            kind = "stop"
            price = (ask or 10_001) + abs(off) if side == "buy" else max((bid or 10_000) - abs(off), 1)
            if op == "stop_gtd":
                kw.update(tif="gtd", expire_ts=t + 1 + pick * 10_000)
        elif op == "past":
            send = t - pick * 1_000
        n_ids += 1
        cid = f"c{n_ids}"
        v.submit(send, cid, side, q, price, kind=kind, **kw)
        assert d.submit(send, side, q, price, kind=kind, **kw) == n_ids
        if oms is not None:
            oms.submit(cid, side, q, None if price == 0 else price,
                       kind="market" if price == 0 else kind, tif=kw.get("tif", "gtc"))
            oms.outbox.clear()
    take(v.finish(), d.finish())
    assert d.done and v.done
    assert d.queue_summary() == v.queue_summary()
    rows = [row for arr in seen_d for row in driver_rows(arr, fee)]
    return v, d, seen_v, rows, oms, oms_errors


def check_books(v, d, rows, oms, oms_errors, inst):
    """Accounting equals a plain-Python recomputation from the popped fills; order states
    and fills equal the OMS's."""
    pos = cash = fees = vol = maker = taker = 0
    unit = inst.tick_size * inst.lot_size
    for kind, _cid, _ts, _vts, side, price, qty, _leaves, liq, fee, _reason, _ahead in rows:
        if kind != "fill":
            continue
        sign = 1 if side == "buy" else -1
        pos += sign * qty
        cash -= sign * price * qty
        vol += price * qty
        fees += fee
        maker += liq == "maker"
        taker += liq == "taker"
    a = d.account()
    fee_of = fee_converter(inst, v.config)
    assert (a["position"], a["cash"], a["volume"], a["maker_fills"], a["taker_fills"]) == \
        (pos, cash, vol, maker, taker)
    assert fee_of(a["fee_units"]) == fees
    assert a["fills"] == len(v.fills) == maker + taker
    assert a["state_errors"] == oms_errors
    if oms is not None and oms_errors == 0:
        p = oms.portfolio.position(inst.symbol)
        assert p.qty == a["position"]
        assert oms.portfolio.fees_paid == Fraction(fee_of(a["fee_units"])) / Fraction(unit)
        for k in range(1, d.n_orders + 1):
            o, got = oms.orders[f"c{k}"], d.order(k)
            assert (o.state.value, o.filled, o.qty) == (got["state"], got["filled"], got["qty"])
            if o.price is not None:
                assert o.price == got["price"]


def venue_config(draw):
    bps = st.sampled_from([Decimal(x) for x in ("0", "1", "4.2", "10", "-0.25", "-1", "2.125")])
    n_tiers = draw(st.integers(1, 3))
    vols = sorted(draw(st.sets(st.sampled_from([Decimal(x) for x in ("1", "2.5", "10", "40", "100.00001")]),
                               min_size=n_tiers - 1, max_size=n_tiers - 1)))
    tiers = tuple(FeeTier(vol, draw(bps), draw(bps)) for vol in [Decimal(0)] + vols)
    lat = st.sampled_from([0, 1, 1_000, 500_000, 2_000_000])
    impact = draw(st.sampled_from([Impact(), Impact(1.0, 0.02, 100), Impact(0.5, 0.3, 7)]))
    return VenueConfig(
        entry_latency=Latency(draw(lat)), ack_latency=Latency(draw(lat)),
        fees=FeeSchedule(tiers), impact=impact,
        percent_price=draw(st.sampled_from([Fraction(1, 5), Fraction(1, 1000), Fraction(3, 2),
                                            Fraction(1, 3)])),
        rate_limit_orders=draw(st.sampled_from([1, 3, 50])),
        rate_limit_window_ns=draw(st.sampled_from([1, 2_000_000, 10**9])),
        queue_model=draw(st.sampled_from(["risk_averse", "power", "log"])),
        max_orders=draw(st.sampled_from([2, 256])), seed=draw(st.integers(0, 3)))


@st.composite
def configs(draw):
    cfg = venue_config(draw)
    mn = draw(st.sampled_from(["0", "0.1", "0.12345", "1"]))
    return cfg, Instrument("test", "T", Decimal("0.01"), Decimal("0.001"), Decimal(mn))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), seed=st.integers(0, 10**6), actions=st.lists(action, min_size=1, max_size=60))
def test_parity_on_constructed_markets(cfg, seed, actions):
    cfg, inst = cfg
    ev = random_market(seed)
    v, d, seen_v, rows, oms, errs = replay(ev, inst, cfg, actions)
    check_books(v, d, rows, oms, errs, inst)


@pytest.fixture(scope="module")
def synth_events():
    return generate(20_000, seed=11)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(cfg=configs(), actions=st.lists(action, min_size=5, max_size=80))
def test_parity_on_generated_markets(synth_events, cfg, actions):
    cfg, inst = cfg
    # 10 ms to 3 s apart, lots scaled to the synthetic market's sizes
    actions = [(op, side, off, qty, pick, dt * 10 + 10_000_000) for op, side, off, qty, pick, dt in actions]
    v, d, seen_v, rows, oms, errs = replay(synth_events, inst, cfg, actions, qty_mult=40)
    check_books(v, d, rows, oms, errs, inst)


# ---- exact scenarios -------------------------------------------------------------------------

def flat():
    return VenueConfig(entry_latency=Latency(0), ack_latency=Latency(0))


def test_every_filter_and_core_reason():
    inst = Instrument("test", "T", Decimal("0.01"), Decimal("0.001"), Decimal("5"))
    cfg = VenueConfig(entry_latency=Latency(0), ack_latency=Latency(0), rate_limit_orders=6,
                      rate_limit_window_ns=10**9, percent_price=Fraction(1, 100), max_orders=2)
    ev = small_market()
    d, _ = driver_for(ev, inst, cfg)
    d.advance(2_000)
    d.submit(2_000, "buy", 1, 10_000)                      # 1 min_notional
    d.submit(2_000, "buy", 100, 9_000)                     # 2 percent_price
    d.submit(2_000, "buy", 100, 10_001, post_only=True)    # 3 post_only_would_take
    d.submit(2_000, "buy", 1000, 10_002, tif="fok")        # 4 fok_unfillable
    d.submit(2_000, "buy", 100, 9_999, tif="gtd", expire_ts=2_001)  # 5 ack
    d.submit(2_000, "buy", 100, 9_999)                     # 6 ack
    d.submit(2_000, "buy", 100, 9_999)                     # 7 rate_limited
    r = d.advance(2_000)
    got = [(D.KINDS[x["kind"]], D.REASONS[x["reason"]]) for x in r]
    assert got == [("reject", "min_notional"), ("reject", "percent_price"),
                   ("reject", "post_only_would_take"), ("reject", "fok_unfillable"),
                   ("ack", "none"), ("ack", "none"), ("reject", "rate_limited")]
    d.submit(1_500_000_000, "buy", 100, 9_999)             # 8 rests: 5 expired, a slot is free
    d.submit(1_500_000_000, "buy", 100, 9_999, tif="gtd", expire_ts=1_500_000_001)  # 9 full
    d.cancel(1_500_000_000, 5)                             # already expired: not_working
    d.amend(1_500_000_000, 6, 9_999, 100)                  # same: kept
    d.amend(1_500_000_000, 6, 9_999, 1)                    # smaller, nothing filled: kept
    r = d.advance(1_500_000_000)
    kinds = [(D.KINDS[x["kind"]], int(x["id"]), D.REASONS[x["reason"]]) for x in r]
    assert kinds == [("expired", 5, "none"), ("ack", 8, "none"), ("reject", 9, "too_many_orders"),
                     ("cancel_reject", 5, "not_working"), ("amended", 6, "none"),
                     ("amended", 6, "none")]
    assert d.order(6)["qty"] == 1
    assert d.state(5) == "expired" and d.state(7) == "rejected"


def test_expired_on_arrival_no_liquidity_and_stop_unfilled():
    b = EventBuilder().snapshot(1_000, [(100, 10)], [])
    b.trade(5_000, 100, 1, ASK)
    b.diff(6_000, [(ASK, 101, 3)])
    b.trade(7_000, 101, 1, BID)
    b.diff(8_000, [(ASK, 101, 0)])
    ev = b.build()
    cfg = VenueConfig(entry_latency=Latency(1_000), ack_latency=Latency(0))
    v = SimVenue(ev, INST, cfg)
    d, fee = driver_for(ev, INST, cfg)
    reqs = [("buy", 5, 0, dict(tif="ioc")),                  # no_liquidity (no asks)
            ("buy", 5, 100, dict(tif="gtd", expire_ts=1_500)),  # expires before arrival
            ("buy", 5, 101, dict(kind="stop"))]               # triggers at 7000, takes 3
    for k, (side, q, px, kw) in enumerate(reqs, 1):
        v.submit(1_000, f"c{k}", side, q, px, **kw)
        d.submit(1_000, side, q, px, **kw)
    rv, rd = v.finish(), d.finish()
    assert [venue_row(r) for r in rv] == driver_rows(rd, fee)
    got = [(D.KINDS[x["kind"]], D.REASONS[x["reason"]], int(x["qty"])) for x in rd]
    assert got == [("reject", "no_liquidity", 5), ("reject", "expired_on_arrival", 5),
                   ("ack", "none", 5), ("fill", "none", 3), ("cancelled", "stop_unfilled", 2)]


def test_fee_tiers_rebate_and_impact_exact():
    fs = FeeSchedule((FeeTier(Decimal(0), Decimal("10"), Decimal("20")),
                      FeeTier(Decimal("1.5"), Decimal("-0.25"), Decimal("5"))))
    cfg = VenueConfig(fees=fs, entry_latency=Latency(0), ack_latency=Latency(0),
                      impact=Impact(1.0, 0.02, 100))
    ev = small_market()
    v = SimVenue(ev, INST, cfg)
    d, fee = driver_for(ev, INST, cfg)
    assert fee_scale(cfg, INST) == 100
    for k, (side, q, px, kw) in enumerate([("buy", 15, 10_002, dict(tif="ioc")),
                                           ("sell", 4, 10_001, {}), ("buy", 4, 10_000, {})], 1):
        v.submit(2_000 + k, f"c{k}", side, q, px, **kw)
        d.submit(2_000 + k, side, q, px, **kw)
    rows = driver_rows(d.finish(), fee)
    assert [venue_row(r) for r in v.finish()] == rows
    fills = [r for r in rows if r[0] == "fill"]
    bump = math.ceil(10_001 * 0.02 * math.sqrt(15 / 100))
    assert fills[0][5] == 10_001 + bump
    assert fills[0][9] == Decimal((10_001 + bump) * 10) * Decimal("0.00001") * 20 / 10_000
    assert any(r[9] < 0 for r in fills)  # maker rebate after 1.5 quote of volume


def test_report_heap_orders_equal_times_by_emission():
    """Equal visible times leave the heap in emission order (seq), and one order's reports
    are never visible before its previous one."""
    cfg = VenueConfig(entry_latency=Latency(0), ack_latency=Latency(0))
    ev = small_market()
    d, _ = driver_for(ev, INST, cfg)
    ids = [d.submit(2_000, "buy", 30, 10_002, tif="ioc") for _ in range(3)]
    r = d.advance(2_000)
    assert list(r["seq"]) == sorted(r["seq"]) and len(set(r["visible_ts"])) == 1
    assert [int(x["id"]) for x in r if D.KINDS[x["kind"]] == "ack"] == ids
    d2, _ = driver_for(ev, INST, VenueConfig(entry_latency=Latency(1_000, 1.0),
                                             ack_latency=Latency(1_000_000, 1.5), seed=3))
    for k in range(40):
        d2.submit(2_000 + k * 500_000, "buy" if k % 2 else "sell", 3, 10_000 + k % 2)
    rs = d2.finish()
    last = {}
    for x in rs:
        assert x["visible_ts"] >= x["ts"]
        assert x["visible_ts"] >= last.get(int(x["id"]), -1)
        last[int(x["id"])] = int(x["visible_ts"])


def test_lognormal_latency_is_deterministic_per_seed():
    ev = small_market()

    def go(seed):
        cfg = VenueConfig(entry_latency=Latency(2_000_000, 0.5), ack_latency=Latency(1_000_000, 0.3),
                          md_latency=Latency(100_000, 0.4), seed=seed)
        d, _ = driver_for(ev, INST, cfg)
        acts = []

        def step(t, reps):
            acts.append(d.act_ts)
            d.submit(d.act_ts, "buy" if t % 2 else "sell", 2, d.bid_px if t % 2 else d.ask_px)

        run_steps(d, int(ev["ts_local"][0]) + 1, int(ev["ts_local"][-1]), 7_000_000, step)
        return d.finish().tolist(), acts

    a, b, c = go(5), go(5), go(6)
    assert a == b and a != c
    assert len(set(x - k for k, x in enumerate(a[1]))) > 1  # md latency varies


# ---- the market maker through SimDriver.run --------------------------------------------------

def mm_through_driver(events, inst, cfg, interval_ns, order_qty=None):
    d, fee = driver_for(events, inst, cfg)
    working = {"buy": None, "sell": None}
    strat = [None]
    fills = []

    def row(x):  # copied out now: the view is only valid during the step
        return (int(x["ts"]), D.SIDES[x["side"]], int(x["price"]), int(x["qty"]),
                D.LIQUIDITY[x["liquidity"]], fee(x["fee_units"]))

    def step(t, reps):
        for x in reps:
            if x["kind"] == 2:
                fills.append(row(x))
        bpx, bq, apx, aq = d.touch
        if bpx and apx and bpx < apx:
            s = strat[0]
            if s is None:
                s = strat[0] = MicropriceMM(order_qty=order_qty or default_order_qty(inst, bpx))
            want = s.quotes(bpx, bq, apx, aq, d.position)
            t_act = None
            for side, px in want.items():
                oid = working[side]
                live = oid is not None and d.live(oid)
                if live and s.keep(d.price(oid), px):
                    continue
                if t_act is None:
                    t_act = d.act_ts
                if live:
                    d.cancel(t_act, oid)
                if px is not None:
                    working[side] = d.submit(t_act, side, s.order_qty, px)
                else:
                    working[side] = None

    t0, t1 = int(events["ts_local"][0]), int(events["ts_local"][-1])
    steps = run_steps(d, t0, t1, interval_ns, step)
    assert steps == (t1 - t0) // interval_ns + 1
    for x in d.finish():
        if x["kind"] == 2:
            fills.append(row(x))
    return d, fills


@pytest.mark.parametrize("seed,interval", [(3, 100_000_000), (7, 20_000_000)])
def test_market_maker_same_fills_as_runner(seed, interval):
    from bot.data.synthetic import synthetic_market
    ev, inst = synthetic_market(60_000, seed=seed)
    cfg = VenueConfig(entry_latency=Latency(1_000_000), ack_latency=Latency(1_000_000),
                      md_latency=Latency(200_000), seed=seed)
    ref, oms = reference_market_maker(ev, inst, cfg, interval_ns=interval)
    want = [(f.ts, getattr(f.side, "value", f.side), f.price, f.qty, f.liquidity, f.fee)
            for f in ref.fills]
    d, got = mm_through_driver(ev, inst, cfg, interval)
    assert len(want) > 20
    assert got == want
    assert d.position == oms.portfolio.position(inst.symbol).qty
    assert sum(f[5] for f in got) == sum(f.fee for f in ref.fills)
    assert d.queue_summary() == ref.queue_summary()
    assert d.account()["state_errors"] == 0


# ---- bad arguments change nothing ------------------------------------------------------------

def test_bad_arguments_raise_and_change_nothing():
    ev = small_market()
    cfg = VenueConfig(entry_latency=Latency(10), ack_latency=Latency(0))
    d, _ = driver_for(ev, INST, cfg)
    ref, _ = driver_for(ev, INST, cfg)
    good = d.submit(1_500, "buy", 2, 10_000)
    ref.submit(1_500, "buy", 2, 10_000)
    for args, kwargs, exc, field in [
            ((1_000, "hold", 1, 1), {}, ValueError, "side"),
            ((1_000, "buy", 0, 1), {}, ValueError, "qty"),
            ((1_000, "buy", 1.5, 1), {}, TypeError, "qty"),
            ((1_000, "buy", True, 1), {}, TypeError, "qty"),
            ((1_000, "buy", 1, -1), {}, ValueError, "price"),
            ((1_000, "buy", 1, 0), {}, ValueError, "market"),
            ((1_000, "buy", 1, 1), dict(tif="gtd", expire_ts=5), ValueError, "expire_ts"),
            ((1_000, "buy", 1, 1), dict(tif="day"), ValueError, "tif"),
            ((1_000, "buy", 1, 1), dict(post_only=1), ValueError, "post_only"),
            ((1_000, "buy", 1, 0), dict(tif="ioc", post_only=True), ValueError, "post_only"),
            ((1_000, "buy", 1, 0), dict(kind="stop"), ValueError, "stop"),
            ((1_000, "buy", 1, 5), dict(kind="oco"), ValueError, "kind"),
            (("1000", "buy", 1, 5), {}, TypeError, "t"),
            ((2**63 - 1, "buy", 1, 5), {}, OverflowError, "overflow")]:
        with pytest.raises(exc, match=field):
            d.submit(*args, **kwargs)
    for call, exc, field in [(lambda: d.cancel(1_000, 99), ValueError, "unknown id"),
                             (lambda: d.cancel(1_000, 0), ValueError, "unknown id"),
                             (lambda: d.amend(1_000, 99, 1, 1), ValueError, "unknown id"),
                             (lambda: d.amend(1_000, good, 0, 1), ValueError, "price"),
                             (lambda: d.amend(1_000, good, 1, 0), ValueError, "qty"),
                             (lambda: d.advance(1.5), TypeError, "t"),
                             (lambda: d.run(0, 10, 0, lambda r: None, None), ValueError, "interval_ns"),
                             (lambda: d.run(0, 10, 1, None, None), TypeError, "on_reports"),
                             (lambda: d.run(0, 10, 1, lambda r: None, 3), TypeError, "on_step"),
                             (lambda: d.depth("x", 3), ValueError, "side"),
                             (lambda: d.act_ts, RuntimeError, "no advance")]:
        with pytest.raises(exc, match=field):
            call()
    assert d.n_orders == 1 and d.n_pending == 1
    assert d.finish().tolist() == ref.finish().tolist()
    assert d.account() == ref.account()
    for kwargs, field in [(dict(fee_tiers=((5, 1, 1),)), "min_volume 0"),
                          (dict(fee_tiers=((0, 1, 1), (0, 2, 2))), "increasing"),
                          (dict(percent_price=(0, 1)), "percent_price"),
                          (dict(rate_limit_orders=0), "rate_limit_orders"),
                          (dict(queue_model="fifo"), "queue_model"),
                          (dict(entry_latency=-1), "entry_latency"),
                          (dict(ack_latency=(1, -0.5)), "ack_latency sigma"),
                          (dict(impact_adv_lots=0), "impact_adv_lots"),
                          (dict(max_orders=0), "max_orders")]:
        with pytest.raises(ValueError, match=field):
            D.SimDriver(ev, **kwargs)
    with pytest.raises(ValueError, match="EVENT_DTYPE"):
        D.SimDriver(np.zeros(3))
    bad = ev.copy()
    bad[0]["qty"] = -1
    with pytest.raises(ValueError, match="row 0: qty = -1"):
        D.SimDriver(bad)


def test_step_exception_propagates_and_state_stays_usable():
    ev = small_market()
    d, _ = driver_for(ev, INST, flat())
    ref, _ = driver_for(ev, INST, flat())
    calls = []

    def step(t, reps):
        calls.append(t)
        with pytest.raises(RuntimeError, match="inside a step"):
            d.advance(t)
        if len(calls) == 3:
            raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        run_steps(d, 2_000, 10**9, 1_000_000, step)
    assert calls == [2_000, 1_002_000, 2_002_000]
    ref.advance(2_002_000)
    assert d.touch == ref.touch and d.pos == ref.pos
    assert d.finish().tolist() == ref.finish().tolist()


def test_run_views_zero_copy_and_buffer_growth():
    ev = small_market()
    d, _ = driver_for(ev, INST, VenueConfig(entry_latency=Latency(0), ack_latency=Latency(0),
                                            rate_limit_orders=5000))
    seen = []
    kept = []

    def step(t, reps):
        assert reps.dtype == D.REPORT_DTYPE
        if len(reps):
            kept.append(reps)  # a view; only valid during the call, copy to keep
            seen.append(reps.copy())
        if t == 2_000:
            for _ in range(700):  # 700 acks + 700 fills + ... more than the 1024 buffer
                d.submit(t, "buy", 1, 10_001, tif="ioc")

    run_steps(d, 2_000, 4_000, 1_000, step)
    assert sum(len(s) for s in seen) >= 1400
    assert seen[0]["seq"].tolist() == sorted(seen[0]["seq"].tolist())


def test_depth_and_pos_slicing():
    ev = small_market()
    d, _ = driver_for(ev, INST, flat())
    d.advance(2_000)
    px, q = d.depth("buy", 5)
    assert px.tolist() == [10_000, 9_999] and q.tolist() == [10, 10]
    start = d.pos
    d.advance(3_002_000)
    assert d.pos > start and all(ev["ts_local"][start:d.pos] < 3_002_000)
