"""Simulated venue replay throughput on recorded Binance data with resting orders tracked:
engine.simvenue (C) vs a plain-Python replay doing the same per-row work (dict book, the
same per-order depth/trade checks), in the same run. Figures: simvenue.replay.events_per_s
(wall clock, median), simvenue.replay.cpu_events_per_s (per second of this thread's CPU
time), simvenue.replay.reference_events_per_s, simvenue.replay.speedup_vs_python."""

import time

import numpy as np
import pytest

from bench.conftest import median_seconds
from engine import events as E
from engine import simvenue as S

N_REF = 40_000


@pytest.fixture(scope="module")
def recorded(shared_data):
    from bot.data.binance import load_events
    paths = sorted((shared_data / "binance" / "spot").glob("btcusdt_*.gz"))
    if not paths:
        pytest.skip("no recorded spot data")
    return load_events(paths)[0]


def prepared(ev):
    """A core warmed up to 5% of the data, with 2 orders at the touch and 2 deep ones."""
    c = S.VenueCore(ev)
    t0 = int(ev["ts_local"][len(ev) // 20])
    c.run_until(t0)
    orders = []
    for k, side in enumerate(("buy", "sell")):
        px = c.best(side)[0]
        deep = px - 5000 if side == "buy" else px + 5000
        for j, p in enumerate((px, deep)):
            c.place(t0, 10 * k + j + 1, side, p, 1)
            orders.append((side, p))
    return c, orders


def python_replay(ev, start, n, orders):
    """Plain-Python reference of the same loop: dict book, per-order depth and trade checks."""
    book = ({}, {})
    state = [[side == "buy" and E.SIDE_BID or E.SIDE_ASK, p, 10**9, 0] for side, p in orders]
    rows = ev[start:start + n].tolist()
    fills = 0
    for r in rows:
        kind, side, price, qty = r[7], r[8], r[2], r[3]
        if kind == E.EV_UPDATE or kind == E.EV_SNAPSHOT:
            if qty:
                book[side][price] = qty
            else:
                book[side].pop(price, None)
            for o in state:
                d = book[o[0]].get(o[1], 0)
                if d != o[3]:
                    o[3] = d
                    o[2] = min(o[2], d)
        elif kind == E.EV_TRADE:
            for o in state:
                if o[0] == side ^ 1 and o[1] == price:
                    adv = min(qty, o[2])
                    o[2] -= adv
                    fills += qty > adv
    return fills


def test_simvenue_replay(benchmark, figure, recorded):
    ev = recorded
    holder = {}

    def setup():
        holder["c"], holder["orders"] = prepared(ev)
        holder["start"] = holder["c"].pos
        return (), {}

    def replay():
        holder["c"].run_all()

    benchmark.pedantic(replay, setup=setup, rounds=7, warmup_rounds=1)
    c = holder["c"]
    rows = len(ev) - holder["start"]
    assert c.stats()["events"] >= rows
    c_rate = rows / benchmark.stats.stats.median
    start, orders = holder["start"], holder["orders"]
    ref_rate = N_REF / median_seconds(lambda: python_replay(ev, start, N_REF, orders), rounds=3)
    cpu = []
    for _ in range(3):
        setup()
        t0 = time.thread_time()
        replay()
        cpu.append(time.thread_time() - t0)
    figure("simvenue.replay.events_per_s", c_rate, "1/s")
    figure("simvenue.replay.cpu_events_per_s", rows / min(cpu), "1/s")
    figure("simvenue.replay.reference_events_per_s", ref_rate, "1/s")
    figure("simvenue.replay.speedup_vs_python", c_rate / ref_rate, "x")
    assert np.isfinite(c_rate)
