"""Synthetic market: engine.synth.generate against a plain-Python generator of the same
kind of stream (dict book, random.Random, one limit/cancel/market step per event) in the
same run. The reference is smaller in scope (no GARCH regimes, no depth refill) and so
flatters itself; the figure is still ours / its.

Figures:
  synth.generate.events_per_s             rows/s of generate(1_000_000), median
  synth.generate.reference_events_per_s   rows/s of the plain-Python generator
  synth.generate.speedup_vs_python        ratio (gated)
"""

import random

from bench.conftest import median_seconds
from engine.synth import generate

N = 1_000_000
N_REF = 100_000


def python_generator(n, seed):
    """Rows (kind, side, price, qty) of a dict-book market: limit adds and cancels at a
    geometric distance from the touch, market orders that walk the book."""
    rnd = random.Random(seed)
    book = [{3_000_000 - i: 100 for i in range(25)}, {3_000_001 + i: 100 for i in range(25)}]
    rows = []
    while len(rows) < n:
        u = rnd.random()
        side = rnd.random() < 0.5
        bb, ba = max(book[0]), min(book[1])
        d = 0
        while rnd.random() < 0.6 and d < 15:
            d += 1
        if u < 0.06:
            levels = sorted(book[1 - side], reverse=side)  # side True = sell walks bids
            q = int(100 / max(rnd.random(), 0.025))
            for px in levels[:-1]:
                take = min(q, book[1 - side][px])
                rows.append((3, side, px, take))
                book[1 - side][px] -= take
                rows.append((2, 1 - side, px, book[1 - side][px]))
                if book[1 - side][px] == 0:
                    del book[1 - side][px]
                q -= take
                if q == 0:
                    break
        elif u < 0.66:
            px = bb - d if side == 0 else ba + d
            book[side][px] = book[side].get(px, 0) + 1 + rnd.randrange(800)
            rows.append((2, side, px, book[side][px]))
        else:
            px = bb - d if side == 0 else ba + d
            if px in book[side] and len(book[side]) > 12:
                del book[side][px]
                rows.append((2, side, px, 0))
    return rows[:n]


def test_synth_generate(benchmark, figure):
    res = benchmark.pedantic(lambda: generate(N, seed=1, regime="sideways"), rounds=7, warmup_rounds=1)
    assert len(res) == N
    ours = benchmark.stats.stats.median
    ref = median_seconds(lambda: python_generator(N_REF, 1), rounds=3, warmup=0)
    figure("synth.generate.events_per_s", N / ours, "1/s")
    figure("synth.generate.reference_events_per_s", N_REF / ref, "1/s")
    figure("synth.generate.speedup_vs_python", (N / ours) / (N_REF / ref), "x")
