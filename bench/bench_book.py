"""L2 book: batch replay of the recorded Binance diffs and a single update from Python, each
against a dict-per-side plain-Python book with the same Binance sequencing in the same run.

Figures (per venue: spot = both spot files as one session, usdm):
  book.apply_batch.<venue>.updates_per_s        level updates/s, engine.book, one batch call
                                                (validation + sequencing + apply, no BBO out),
                                                median round; ..._best: fastest round (the
                                                machine is shared, so the spread is wide)
  book.apply_batch.<venue>.bbo.updates_per_s    the same with a BBO row per applied diff
  book.apply_batch.<venue>.reference_updates_per_s   dict-per-side Python book
  book.apply_batch.<venue>.speedup_vs_python    ratio (gated)
  book.update_py.ns / reference_ns / speedup_vs_python   one level update called from Python
  book.update_py.hot_ns                         the same with the ops hot in cache
                                                (a Python for-loop over prepared ops, loop
                                                cost included on both sides)
The data is parsed beforehand (bot.data.binance.load_events); only book rows (snapshot and
diff rows) are replayed: trade and quote rows are not book work.
"""

import time

import numpy as np
import pytest

from bench.conftest import median_seconds
from engine import events as E
from bot.data.binance import load_events
from engine.book import BBO_DTYPE, Book

VENUES = {
    "spot": ["binance/spot/btcusdt_20240808.gz", "binance/spot/btcusdt_20240809.gz"],
    "usdm": ["binance/usdm/btcusdt_20240808.gz"],
}


def dict_book_replay(messages):
    """The plain-Python reference: a dict per side, Binance's sequencing, buffered diffs
    before the snapshot. messages: ("s", L, levels) / ("d", U, u, pu, levels), levels a
    list of (side, price, qty). Returns level updates applied and gaps."""
    sides = ({}, {})
    state, last, pending = 0, -1, []  # 0 waiting for snapshot, 1 syncing, 2 live
    applied = gaps = 0

    def diff(U, u, pu, levels):
        nonlocal state, last, applied, gaps, pending
        if state == 0:
            pending.append((U, u, pu, levels))
            return
        if u <= last:
            return
        if state == 1:
            ok = U <= last + 1
        elif pu != -1:
            ok = pu == last
        else:
            ok = U == last + 1
        if not ok:
            gaps += 1
            state, pending = 0, [(U, u, pu, levels)]
            return
        for side, px, q in levels:
            d = sides[side]
            if q:
                d[px] = q
            else:
                d.pop(px, None)
        applied += len(levels)
        state, last = 2, u

    for m in messages:
        if m[0] == "s":
            sides[0].clear()
            sides[1].clear()
            for side, px, q in m[2]:
                sides[side][px] = q
            applied += len(m[2])
            state, last = 1, m[1]
            buffered, pending = pending, []
            for p in buffered:
                diff(*p)
        else:
            diff(*m[1:])
    return applied, gaps


def to_messages(ev):
    starts = np.flatnonzero(ev["flags"] & E.EVF_BEGIN)
    ends = np.append(starts[1:], len(ev))
    side, price, qty = ev["side"].tolist(), ev["price"].tolist(), ev["qty"].tolist()
    kind, U, u, pu = ev["kind"].tolist(), ev["seq_first"].tolist(), ev["seq_last"].tolist(), ev["seq_prev"].tolist()
    out = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        lv = [(side[i], price[i], qty[i]) for i in range(s, e) if side[i] != E.SIDE_NONE]
        out.append(("s", u[s], lv) if kind[s] == E.EV_SNAPSHOT else ("d", U[s], u[s], pu[s], lv))
    return out


@pytest.fixture(scope="module", params=sorted(VENUES))
def book_rows(request, shared_data):
    ev, _ = load_events([shared_data / f for f in VENUES[request.param]])
    rows = np.ascontiguousarray(ev[(ev["kind"] == E.EV_SNAPSHOT) | (ev["kind"] == E.EV_UPDATE)])
    return request.param, rows


def test_apply_batch_recorded(benchmark, figure, book_rows):
    venue, rows = book_rows
    book = Book()
    n_diffs = int(((rows["kind"] == E.EV_UPDATE) & ((rows["flags"] & E.EVF_BEGIN) != 0)).sum())
    bbo = np.zeros(n_diffs, BBO_DTYPE)

    def replay(out=None):
        book.reset()
        return book.apply_batch(rows, out)

    res = benchmark.pedantic(replay, rounds=15, warmup_rounds=2)
    assert res["gaps"] == 0 and res["crossed"] == 0
    n_updates = res["level_updates"]
    ours = benchmark.stats.stats.median
    ours_bbo = median_seconds(lambda: replay(bbo), rounds=15, warmup=2)

    messages = to_messages(rows)
    applied, gaps = dict_book_replay(messages)
    assert applied == n_updates and gaps == 0  # same work on both sides
    ref = median_seconds(lambda: dict_book_replay(messages), rounds=3)

    figure(f"book.apply_batch.{venue}.updates_per_s", n_updates / ours, "1/s")
    figure(f"book.apply_batch.{venue}.updates_per_s_best", n_updates / benchmark.stats.stats.min, "1/s")
    figure(f"book.apply_batch.{venue}.bbo.updates_per_s", n_updates / ours_bbo, "1/s")
    figure(f"book.apply_batch.{venue}.reference_updates_per_s", n_updates / ref, "1/s")
    figure(f"book.apply_batch.{venue}.speedup_vs_python", ref / ours, "x")


def test_update_from_python(figure):
    rng = np.random.default_rng(3)
    n = 200_000
    mid = 6_000_000
    side = rng.integers(0, 2, n)
    dist = np.minimum(rng.geometric(0.003, n), 30_000)
    price = np.where(side == 0, mid - dist, mid + 1 + dist)
    qty = np.where(rng.random(n) < 0.3, 0, rng.integers(1, 10**6, n))
    ops = list(zip(side.tolist(), price.tolist(), qty.tolist(), strict=True))

    book = Book()
    upd = book.update

    def run_ours():
        for s, p, q in ops:
            upd(s, p, q)

    sides = ({}, {})

    def ref_update(s, p, q):
        d = sides[s]
        if q:
            d[p] = q
        else:
            d.pop(p, None)

    def run_ref():
        for s, p, q in ops:
            ref_update(s, p, q)

    ours = median_seconds(run_ours, rounds=7) / n
    ref = median_seconds(run_ref, rounds=7) / n
    t0 = time.perf_counter()
    for _ in ops:
        pass
    loop = (time.perf_counter() - t0) / n
    # The same calls over 4,096 distinct ops cycled 50 times: the Python objects and book
    # slots stay in cache, as for a live feed handing each update over just after parsing
    # it. The figure above also pays for streaming a 28 MB list of tuples from memory.
    hot = ops[:4096] * 50
    hot_book = Book()
    hot_upd = hot_book.update

    def run_hot():
        for s, p, q in hot:
            hot_upd(s, p, q)

    figure("book.update_py.hot_ns", median_seconds(run_hot, rounds=7) / len(hot) * 1e9, "ns")
    figure("book.update_py.ns", ours * 1e9, "ns")
    figure("book.update_py.loop_ns", loop * 1e9, "ns")
    figure("book.update_py.reference_ns", ref * 1e9, "ns")
    figure("book.update_py.speedup_vs_python", ref / ours, "x")
