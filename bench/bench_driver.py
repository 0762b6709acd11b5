"""The backtest driver (bot.strategy.driver.Driver over bot.venues.sim.SimVenue, whose loop
is C: engine.simdriver) on the recorded Binance USD-M BTCUSDT file (599,012 event rows,
about 6 minutes), each figure against a reference timed in the same run, in turn with ours.

Figures (medians; a backtest here is venue construction + Driver.run, events to RunResult):
  driver.mm.usdm_<iv>.wall_s, .events_per_s   the built-in market maker (MicropriceMM) at
                                              100 ms and 1 ms decision steps
  driver.mm.usdm_100ms.python_loop_wall_s     the same decision loop written in plain Python
                                              over the Python reference venue
                                              (tests/sim_reference.reference_market_maker)
  driver.mm.usdm_100ms.speedup_vs_python_loop that / ours (gated)
  driver.step_overhead_ns       per decision step at 1 ms: a Strategy whose on_decision does
                                nothing (the driver hands it straight to the C loop) minus the
                                venue loop with no step callback, over the steps; the no-op
                                call itself is in it
  driver.python_noop_call_ns    timeit of calling a no-op bound method (ctx, None): what the
                                interpreter charges for the call alone
  driver.step_overhead_vs_python_call   the first over the second
  driver.event_ns               venue loop with no step callback at 100 ms, wall / event rows
  driver.core_event_ns          the replay alone: engine.simvenue.VenueCore.run_until, per row
  driver.event_overhead_vs_core the first over the second
  driver.hftbacktest.usdm_100ms.wall_s          optional (skips without `hftbacktest`): a
                                numba market maker on hftbacktest with the same rules and
                                the same market (see test_vs_hftbacktest)
  driver.mm.usdm_100ms.speedup_vs_hftbacktest   theirs / ours in wall time (> 1: we are
                                faster); not gated, the dependency is optional
"""

import statistics
import sys
import time
import timeit
from pathlib import Path

import numpy as np
import pytest

from bench.conftest import alternating_medians
from bot.data.binance import load_events
from bot.strategy import MicropriceMM, Strategy
from bot.strategy.driver import Driver
from bot.strategy.microprice_mm import default_order_qty
from bot.venues.sim import FeeSchedule, SimVenue, VenueConfig
from engine import events as E
from engine.simvenue import VenueCore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from sim_reference import reference_market_maker  # noqa: E402

USDM = "binance/usdm/btcusdt_20240808.gz"
MS = 1_000_000
# spot's fee tiers (10 bps at this volume) on both sides, as the hftbacktest reference is set
CFG = VenueConfig(seed=7, fees=FeeSchedule())


@pytest.fixture(scope="module")
def usdm(shared_data):
    path = shared_data / USDM
    if not path.exists():
        pytest.skip(f"no recorded USD-M data at {path}")
    return load_events([path])


class Noop(Strategy):
    """Decides nothing: the driver passes on_decision straight to the C loop."""

    def on_decision(self, ctx, features):
        """Nothing to decide: what is left of a step is the driver's own cost."""


def alternating_with_setup(pairs, rounds: int = 5, warmup: int = 1) -> list[float]:
    """alternating_medians for runs that consume their object: each pair is (setup, run);
    setup() is not timed, run(setup()) is. Medians in seconds, in the order given."""
    for _ in range(warmup):
        for setup, run in pairs:
            run(setup())
    times = [[] for _ in pairs]
    for _ in range(rounds):
        for (setup, run), ts in zip(pairs, times):
            obj = setup()
            t0 = time.perf_counter()
            run(obj)
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def backtest(ev, inst, interval_ns, strategy=None):
    """Events to RunResult: the venue is built inside (as the Python loop builds its own)."""
    return Driver(SimVenue(ev, inst, CFG), strategy or MicropriceMM(), interval_ns=interval_ns).run()


def test_mm_usdm_100ms(benchmark, figure, usdm):
    ev, inst = usdm
    res = benchmark.pedantic(lambda: backtest(ev, inst, 100 * MS), rounds=7, warmup_rounds=1)
    ref_venue, ref_oms = reference_market_maker(ev, inst, CFG, 100 * MS)
    # both loops did the same work: the same orders and fills
    assert res.steps == 3449 and res.orders_sent == len(ref_oms.orders) > 0
    assert len(res.fills) == len(ref_venue.fills) > 0
    ours, ref = alternating_medians(
        [lambda: backtest(ev, inst, 100 * MS),
         lambda: reference_market_maker(ev, inst, CFG, 100 * MS)], rounds=5, warmup=0)
    figure("driver.mm.usdm_100ms.wall_s", ours, "s")
    figure("driver.mm.usdm_100ms.events_per_s", len(ev) / ours, "1/s")
    figure("driver.mm.usdm_100ms.python_loop_wall_s", ref, "s")
    figure("driver.mm.usdm_100ms.speedup_vs_python_loop", ref / ours, "x")


def test_mm_usdm_1ms(benchmark, figure, usdm):
    ev, inst = usdm
    res = benchmark.pedantic(lambda: backtest(ev, inst, MS), rounds=3, warmup_rounds=0)
    assert res.steps == 344_804 and res.orders_sent > 0 and res.fills
    wall = benchmark.stats.stats.median
    figure("driver.mm.usdm_1ms.wall_s", wall, "s")
    figure("driver.mm.usdm_1ms.events_per_s", len(ev) / wall, "1/s")


def test_step_overhead(benchmark, figure, usdm):
    ev, inst = usdm
    start, end = int(ev["ts_local"][0]), int(ev["ts_local"][-1])

    def bare(venue):
        """The venue loop alone: no step callback, no reports (no orders), then the tail."""
        venue.run(start, end, MS, _ignore, None)
        venue.finish()

    def noop(driver):
        return driver.run()

    new_venue = lambda: SimVenue(ev, inst, CFG)  # noqa: E731
    new_driver = lambda: Driver(SimVenue(ev, inst, CFG), Noop(), interval_ns=MS)  # noqa: E731
    benchmark.pedantic(noop, setup=lambda: ((new_driver(),), {}), rounds=5, warmup_rounds=1)
    t_noop, t_bare = alternating_with_setup([(new_driver, noop), (new_venue, bare)], rounds=9)
    steps = new_driver().run().steps
    assert steps == 344_804
    # the interpreter's share: a no-op bound method called with the same arguments
    d = new_driver()
    n = 200_000
    call = min(timeit.repeat("f(c, None)", globals={"f": d.strategy.on_decision, "c": d.ctx},
                             repeat=5, number=n)) / n
    overhead = (t_noop - t_bare) / steps
    figure("driver.step_overhead_ns", overhead * 1e9, "ns")
    figure("driver.python_noop_call_ns", call * 1e9, "ns")
    figure("driver.step_overhead_vs_python_call", overhead / call, "x")


def _ignore(reports):
    """The on_reports of a loop timed without a strategy: the reports are dropped."""


def test_event_cost(benchmark, figure, usdm):
    ev, inst = usdm
    start, end = int(ev["ts_local"][0]), int(ev["ts_local"][-1])

    def ours(venue):
        venue.run(start, end, 100 * MS, _ignore, None)
        venue.finish()

    def core(c):
        c.run_until(end + 1)

    new_venue = lambda: SimVenue(ev, inst, CFG)  # noqa: E731
    new_core = lambda: VenueCore(ev)  # noqa: E731
    benchmark.pedantic(ours, setup=lambda: ((new_venue(),), {}), rounds=9, warmup_rounds=1)
    c = new_core()
    core(c)
    assert c.done and c.stats()["events"] == len(ev)
    t_ours, t_core = alternating_with_setup([(new_venue, ours), (new_core, core)], rounds=15)
    figure("driver.event_ns", t_ours / len(ev) * 1e9, "ns")
    figure("driver.core_event_ns", t_core / len(ev) * 1e9, "ns")
    figure("driver.event_overhead_vs_core", t_ours / t_core, "x")


# ---- hftbacktest (optional) ---------------------------------------------------------------

def to_hftbacktest(ev, inst):
    """Our EVENT_DTYPE rows as hftbacktest events over the same market: depth diffs and
    trades, exch_ts = local_ts = our ts_local (our venue's clock, no feed latency on either
    side), every row EXCH_EVENT | LOCAL_EVENT. The one snapshot becomes a DEPTH_CLEAR per
    side and DEPTH_SNAPSHOT rows; diffs received before it follow Binance's sync (those with
    u <= lastUpdateId are dropped, the rest apply after it). Quote rows (bookTicker) are
    dropped: our venue skips them too (it counts them as events)."""
    import hftbacktest as H
    from hftbacktest.types import event_dtype

    kind, side = ev["kind"], ev["side"]
    snap = np.flatnonzero(kind == E.EV_SNAPSHOT)
    assert len(snap) and snap[-1] - snap[0] + 1 == len(snap), "expected one snapshot message"
    s0, s1 = int(snap[0]), int(snap[-1]) + 1
    t_snap = int(ev["ts_local"][s0])
    row = np.arange(len(ev))
    diff = (kind == E.EV_UPDATE) & (side != E.SIDE_NONE)
    trade = kind == E.EV_TRADE
    early = np.flatnonzero(diff & (row < s0) & (ev["seq_last"] > ev["seq_last"][s0]))
    idx = np.concatenate([np.flatnonzero(trade & (row < s0)), snap, early,
                          np.flatnonzero((diff | trade) & (row >= s1))])
    r = ev[idx]
    out = np.zeros(len(r), event_dtype)
    code = np.where(r["kind"] == E.EV_TRADE, H.TRADE_EVENT,
                    np.where(r["kind"] == E.EV_SNAPSHOT, H.DEPTH_SNAPSHOT_EVENT, H.DEPTH_EVENT))
    out["ev"] = (code | np.where(r["side"] == E.SIDE_BID, H.BUY_EVENT, H.SELL_EVENT)
                 | H.EXCH_EVENT | H.LOCAL_EVENT).astype(np.uint64)
    ts = np.where(np.isin(idx, early), t_snap, r["ts_local"])
    out["exch_ts"] = out["local_ts"] = ts
    out["px"] = r["price"] * float(inst.tick_size)
    out["qty"] = r["qty"] * float(inst.lot_size)
    clears = np.zeros(2, event_dtype)
    at = int(np.flatnonzero(r["kind"] == E.EV_SNAPSHOT)[0])
    for j, (sd, flag) in enumerate(((E.SIDE_BID, H.BUY_EVENT), (E.SIDE_ASK, H.SELL_EVENT))):
        px = ev["price"][s0:s1][ev["side"][s0:s1] == sd]
        deepest = px.min() if sd == E.SIDE_BID else px.max()
        clears[j] = (H.DEPTH_CLEAR_EVENT | flag | H.EXCH_EVENT | H.LOCAL_EVENT, t_snap, t_snap,
                     deepest * float(inst.tick_size), 0.0, 0, 0, 0.0)
    out = np.concatenate([out[:at], clears, out[at:]])
    assert (np.diff(out["local_ts"]) >= 0).all()
    return out


def hftbacktest_mm():
    """MicropriceMM's rules as a numba function over an hftbacktest backtest: every
    `interval` of elapse, the microprice quotes (half spread, inventory skew, never through
    the touch, a side stops at max position), a working quote kept when its target moved
    less than `requote` ticks, else cancelled and replaced by a new GTC limit order.
    Returns (steps, orders sent, fills, position in lots)."""
    from hftbacktest.order import GTC, LIMIT
    from numba import njit

    @njit
    def mm(hbt, order_qty, half_ticks, skew_ticks, requote, max_position, interval, tick, lot):
        steps = 0
        sent = 0
        oid = 0
        working = np.zeros(2, np.int64)  # order id per side, 0: none
        while hbt.elapse(interval) == 0:
            steps += 1
            hbt.clear_inactive_orders(0)
            depth = hbt.depth(0)
            bid = depth.best_bid_tick
            ask = depth.best_ask_tick
            if not 0 < bid < ask:
                continue
            bq = np.int64(round(depth.best_bid_qty / lot))
            aq = np.int64(round(depth.best_ask_qty / lot))
            if bq <= 0 or aq <= 0:
                continue
            pos = np.int64(round(hbt.position(0) / lot))
            n = bid * aq + ask * bq  # microprice = n / d
            d = bq + aq
            q = order_qty
            dq = d * q
            skew = skew_ticks * pos * d
            half = half_ticks * dq
            buy = min((n * q - half - skew) // dq, ask - 1)
            sell = max(-((skew - n * q - half) // dq), bid + 1)
            limit = max_position if max_position > 0 else 5 * q
            orders = hbt.orders(0)
            for s in range(2):
                if s == 0:
                    px = buy if pos < limit and buy > 0 else -1
                else:
                    px = sell if pos > -limit else -1
                oid_s = working[s]
                live = False
                working_px = 0
                if oid_s != 0:
                    o = orders.get(oid_s)
                    # NONE (sent, not acked yet), NEW, PARTIALLY_FILLED
                    if o is not None and (o.status == 0 or o.status == 1 or o.status == 5):
                        live = True
                        working_px = o.price_tick
                if live and px >= 0 and abs(px - working_px) < max(requote, 1):
                    continue
                if live:
                    hbt.cancel(0, oid_s, False)
                if px >= 0:
                    oid += 1
                    if s == 0:
                        hbt.submit_buy_order(0, oid, px * tick, q * lot, GTC, LIMIT, False)
                    else:
                        hbt.submit_sell_order(0, oid, px * tick, q * lot, GTC, LIMIT, False)
                    sent += 1
                    working[s] = oid
                else:
                    working[s] = 0
        return steps, sent, hbt.state_values(0).num_trades, np.int64(round(hbt.position(0) / lot))

    return mm


def test_vs_hftbacktest(figure, usdm):
    """Equal on both sides: the market (the same diffs and trades, by our ts_local), the
    decision rules and parameters (MicropriceMM defaults: 1 tick half spread, skew 1 tick
    per order size, requote at 2 ticks, max position 5 orders, its default order size),
    100 ms steps, 1 ms constant entry and response latency, the risk-averse queue model,
    10 bps maker and taker fees. Different: ours runs a Python strategy through the OMS,
    the journal and exact Fraction/Decimal accounting, fills partially, rate-limits
    (50 orders / 10 s) and checks the percent-price and min-notional filters; theirs is a
    numba loop (compiled once, before timing) over hftbacktest's no-partial-fill exchange,
    float prices and quantities. Our venue also reads the 132k quote rows it skips.
    Both timings include building the backtest from prepared arrays (the conversion to
    hftbacktest's rows is not timed)."""
    try:
        import hftbacktest as H
    except ImportError as e:
        pytest.skip(f"hftbacktest is not installed (optional: pip install hftbacktest): {e}")
    ev, inst = usdm
    data = to_hftbacktest(ev, inst)
    tick, lot = float(inst.tick_size), float(inst.lot_size)
    qty = default_order_qty(inst, int(ev["price"][(ev["kind"] == E.EV_SNAPSHOT)
                                                 & (ev["side"] == E.SIDE_BID)].max()))
    mm = hftbacktest_mm()

    def build(rows):
        asset = (H.BacktestAsset().data([rows]).linear_asset(1.0)
                 .constant_order_latency(MS, MS).risk_adverse_queue_model()
                 .no_partial_fill_exchange().trading_value_fee_model(0.001, 0.001)
                 .tick_size(tick).lot_size(lot).last_trades_capacity(0))
        return H.HashMapMarketDepthBacktest([asset])

    def theirs():
        hbt = build(data)
        try:
            return mm(hbt, qty, 1, 1, 2, 0, 100 * MS, tick, lot)
        finally:
            hbt.close()

    # numba compiles on the first call: do it on a short slice, outside the timing
    warm = build(data[:20_000])
    mm(warm, qty, 1, 1, 2, 0, 100 * MS, tick, lot)
    warm.close()
    steps, sent, fills, _ = theirs()
    ours_res = backtest(ev, inst, 100 * MS)
    assert steps >= 0.99 * ours_res.steps and sent > 0 and fills > 0
    ours, hbt_wall = alternating_medians([lambda: backtest(ev, inst, 100 * MS), theirs],
                                         rounds=7, warmup=0)
    figure("driver.hftbacktest.usdm_100ms.wall_s", hbt_wall, "s")
    figure("driver.mm.usdm_100ms.speedup_vs_hftbacktest", hbt_wall / ours, "x")
