"""Latency and throughput of the hot-path stages, for ``bot4 perf-manifest``.

Every stage is timed from here through the engine's public Python API: a sample is one
call (or a short run of calls) covering ``ops_per_sample`` operations, timed with
``time.perf_counter_ns`` and divided by that count, so ``latency_ns`` is the latency of one
operation as a caller of the engine pays it, the binding's share of each call included.
Every stage but one goes through a batch call (an array of updates, a list of books, n
slots at once) large enough that the binding's share is small next to the C work, so its
figure is the C cost of one operation. The exception is ``ring.spsc.push_pop_single``:
it measures the unbatched Python path, SpscRing.push(bytes) then pop() one record per
call, so its figure is mostly the cost of two Python calls; ``ring.spsc.push_pop`` is the
same work batched. ``throughput_per_s`` is operations over the summed timed time (1e9 /
mean latency).

Each provider is ``fn(samples) -> {stage: {"latency_ns": float64[samples],
"ops_per_sample": int, "throughput_per_s": float}}``; :data:`PROVIDERS` lists them by
domain, and :func:`measure` runs them all.
"""

from __future__ import annotations

import time

import numpy as np

_clock = time.perf_counter_ns


def _check_samples(samples) -> int:
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
        raise TypeError(f"samples must be an int, got {type(samples).__name__} {samples!r}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    return int(samples)


def _stage(lat: np.ndarray, ops: int) -> dict:
    """A stage's entry from per-operation latencies (ns)."""
    mean = float(lat.mean())
    return {"latency_ns": lat, "ops_per_sample": int(ops),
            "throughput_per_s": 1e9 / mean if mean > 0 else 0.0}


def _timed(samples: int, ops: int, call) -> np.ndarray:
    """Per-operation latency of `samples` calls of call() (each covering `ops` operations)."""
    lat = np.empty(samples, dtype=np.float64)
    clock = _clock
    for s in range(samples):
        t0 = clock()
        call()
        lat[s] = (clock() - t0) / ops
    return lat


# ---- ring ----------------------------------------------------------------------------------

RING_BATCH = 1024
RING_SINGLE = 64


def ring_stages(samples: int) -> dict:
    """Ring buffers of 1024 8-byte records, one thread.

    * ``ring.spsc.push_pop``: SpscRing.push_batch of 1024 records then pop_batch of 1024
      (the batched path); latency = one record's push + pop.
    * ``ring.spsc.push_pop_single``: 64 SpscRing.push(bytes) + pop() pairs, one record per
      call (the unbatched Python path: mostly the cost of the two calls).
    * ``ring.mpmc.push_pop``: as ring.spsc.push_pop through MpmcQueue.
    """
    from engine.ring import MpmcQueue, SpscRing

    samples = _check_samples(samples)
    src = np.arange(RING_BATCH, dtype=np.uint64)
    dst = np.empty(RING_BATCH, dtype=np.uint64)
    out = {}
    for name, q in (("ring.spsc.push_pop", SpscRing(RING_BATCH, 8)),
                    ("ring.mpmc.push_pop", MpmcQueue(RING_BATCH, 8))):
        push, pop = q.push_batch, q.pop_batch

        def batch(push=push, pop=pop):
            push(src)
            pop(dst)

        batch()
        out[name] = _stage(_timed(samples, RING_BATCH, batch), RING_BATCH)
        if not np.array_equal(dst, src):
            raise RuntimeError(f"{name}: records came back changed")
    r = SpscRing(RING_BATCH, 8)
    rec = (12345).to_bytes(8, "little")
    push, pop = r.push, r.pop

    def single():
        for _ in range(RING_SINGLE):
            push(rec)
            pop()

    out["ring.spsc.push_pop_single"] = _stage(_timed(samples, RING_SINGLE, single), RING_SINGLE)
    return out


# ---- pool ----------------------------------------------------------------------------------

POOL_BATCH = 1024


def pool_stages(samples: int) -> dict:
    """``pool.acquire_release``: ObjectPool.acquire_many(1024) then release_many of those
    slots on a 4096-slot pool of 64-byte slots (1024 outstanding, released in acquisition
    order); latency = one acquire plus one release."""
    from engine.pool import ObjectPool

    samples = _check_samples(samples)
    p = ObjectPool(4096, 64)
    acquire_many, release_many = p.acquire_many, p.release_many

    def pairs():
        release_many(acquire_many(POOL_BATCH))

    lat = _timed(samples, POOL_BATCH, pairs)
    if len(p):
        raise RuntimeError("pool.acquire_release: slots left acquired")
    return {"pool.acquire_release": _stage(lat, POOL_BATCH)}


# ---- book ----------------------------------------------------------------------------------

BOOK_UPDATES = 1024
BOOK_MSGS, BOOK_LEVELS_PER_MSG = 256, 8
BOOK_TOP_BOOKS = 16


def book_stages(samples: int) -> dict:
    """The L2 book on a synthetic market: 2,000 levels a side at tick spacing 1..4 around
    6,000,000 ticks; updates drawn near the touch (geometric distance), 1 in 20 far away,
    1 in 5 deletes.

    * ``book.update``: one level update, no sequence checks: a sample is one
      Book.update_levels call over 1,024 consecutive updates of the stream.
    * ``book.apply_batch``: per level update through Book.apply_batch (sequence checks,
      BBO output): a sample is one batch of 256 diff messages of 8 levels (2,048 rows).
    * ``book.top10``: the top 10 levels of both sides of one book into arrays: a sample is
      one engine.book.top_many call over 16 distinct books (each the snapshot after its
      own 1,024 updates of the stream) into a preallocated (16, 4, 10) array.
    """
    from engine.book import BBO_DTYPE, Book, top_many
    from engine.events import EV_UPDATE, EVF_BEGIN, EVF_END, empty

    samples = _check_samples(samples)
    rng = np.random.default_rng(12345)
    mid, nlev = 6_000_000, 2000
    bid_px = mid - 1 - np.cumsum(rng.integers(1, 5, nlev))
    ask_px = mid + 1 + np.cumsum(rng.integers(1, 5, nlev))
    qty = rng.integers(1, 100_000, nlev)
    n_ops = 1 << 16
    sides = rng.integers(0, 2, n_ops)
    dist = np.minimum(rng.geometric(0.01, n_ops), 20_000)
    far = rng.random(n_ops) < 0.05
    dist = np.where(far, rng.integers(100_000, 3_000_000, n_ops), dist)
    prices = np.where(sides == 0, mid - dist, mid + dist).astype(np.int64)
    qtys = np.where(rng.random(n_ops) < 0.2, 0, rng.integers(1, 100_000, n_ops)).astype(np.int64)

    sides = sides.astype(np.int64)
    chunks = [(sides[k:k + BOOK_UPDATES], prices[k:k + BOOK_UPDATES], qtys[k:k + BOOK_UPDATES])
              for k in range(0, n_ops, BOOK_UPDATES)]

    book = Book()
    book.apply_snapshot(bid_px, qty, ask_px, qty, 0)
    update_levels = book.update_levels
    lat_update = np.empty(samples, dtype=np.float64)
    for s in range(samples):
        chunk = chunks[s % len(chunks)]
        t0 = _clock()
        update_levels(*chunk)
        lat_update[s] = (_clock() - t0) / BOOK_UPDATES

    # apply_batch: a continuous spot-style diff stream, BOOK_MSGS messages per batch
    per = BOOK_LEVELS_PER_MSG
    rows = BOOK_MSGS * per
    nbatches = 32
    n = rows * nbatches
    ev = empty(n)
    idx = np.arange(n)
    ev["kind"] = EV_UPDATE
    ev["ts_local"] = idx
    ev["side"] = sides[idx % n_ops]
    ev["price"] = prices[idx % n_ops]
    ev["qty"] = qtys[idx % n_ops]
    msg = idx // per
    ev["seq_first"] = 1 + msg * per
    ev["seq_last"] = (msg + 1) * per
    pos = idx % per
    ev["flags"] = np.where(pos == 0, EVF_BEGIN, 0) | np.where(pos == per - 1, EVF_END, 0)
    batches = [ev[i * rows:(i + 1) * rows] for i in range(nbatches)]
    bbo = np.empty(BOOK_MSGS, dtype=BBO_DTYPE)
    book.apply_snapshot(bid_px, qty, ask_px, qty, 0)
    apply_batch = book.apply_batch
    lat_batch = np.empty(samples, dtype=np.float64)
    gaps = 0
    for s in range(samples):
        b = s % nbatches
        if b == 0 and s:  # stream exhausted: restart the sequence from a snapshot
            book.apply_snapshot(bid_px, qty, ask_px, qty, 0)
        t0 = _clock()
        st = apply_batch(batches[b], bbo)
        lat_batch[s] = (_clock() - t0) / rows
        gaps += st["gaps"]
    if gaps:
        raise RuntimeError("book.apply_batch: the synthetic diff stream produced a gap")

    books = []
    for i in range(BOOK_TOP_BOOKS):
        b = Book()
        b.apply_snapshot(bid_px, qty, ask_px, qty, 0)
        b.update_levels(*chunks[i % len(chunks)])
        books.append(b)
    tops = np.empty((BOOK_TOP_BOOKS, 4, 10), dtype=np.int64)
    lat_top = _timed(samples, BOOK_TOP_BOOKS, lambda: top_many(books, tops))
    if (tops[:, 0, 0] <= 0).any() or (tops[:, 2, 0] <= 0).any():
        raise RuntimeError("book.top10: a book of the sample came back with an empty side")
    return {"book.update": _stage(lat_update, BOOK_UPDATES),
            "book.apply_batch": _stage(lat_batch, rows),
            "book.top10": _stage(lat_top, BOOK_TOP_BOOKS)}


# ---- match ---------------------------------------------------------------------------------

MATCH_BATCH = 256
MATCH_SWEEPS = 16


def _limit_ops(make_ops, ids, side, prices, qty):
    ops = make_ops(len(ids))
    ops["id"] = ids
    ops["owner"] = 1
    ops["side"] = side
    ops["price"] = prices
    ops["qty"] = qty
    return ops


def match_stages(samples: int) -> dict:
    """The L3 matcher, one MatchingEngine.run_into batch per sample, divided by its size:

    * ``match.add``: 256 limit orders that rest (new and existing levels near the touch of
      a 200-level book);
    * ``match.cancel``: 256 cancels of those resting orders;
    * ``match.market_sweep``: 16 market orders, each consuming 3 levels of 4 orders.
    """
    from engine.match import (FILL_DTYPE, OPS, RESULT_DTYPE, TIFS, TYPES, MatchingEngine,
                              make_ops)

    samples = _check_samples(samples)
    eng = MatchingEngine(1 << 16)
    results = np.zeros(MATCH_BATCH, dtype=RESULT_DTYPE)
    sweep_results = results[:MATCH_SWEEPS]
    fills = np.zeros(1 << 16, dtype=FILL_DTYPE)
    mid = 100_000
    base = np.arange(1, 101)
    base_ops = np.concatenate([_limit_ops(make_ops, base, 0, mid - base, 10),
                               _limit_ops(make_ops, base + 1000, 1, mid + base, 10)])
    lv = np.repeat(np.arange(1, 3 * MATCH_SWEEPS + 1), 4)
    sweep_book = _limit_ops(make_ops, np.arange(1, lv.size + 1), 1, mid + lv, 5)
    run_into = eng.run_into
    lat = {name: np.empty(samples) for name in ("match.add", "match.cancel", "match.market_sweep")}
    next_id = 10_000
    for i in range(samples):
        eng.clear()
        eng.run(base_ops)
        ids = np.arange(next_id, next_id + MATCH_BATCH)
        next_id += MATCH_BATCH
        adds = _limit_ops(make_ops, ids, i & 1,
                          np.where(i & 1, mid + 1 + ids % 50, mid - 1 - ids % 50), 3)
        cancels = make_ops(MATCH_BATCH)
        cancels["op"] = OPS["cancel"]
        cancels["id"] = ids[::-1]
        t0 = _clock()
        done, _ = run_into(adds, results, fills)
        t1 = _clock()
        done_c, _ = run_into(cancels, results, fills)
        t2 = _clock()
        if done != MATCH_BATCH or done_c != MATCH_BATCH:
            raise RuntimeError("match: a timed batch did not complete")
        lat["match.add"][i] = (t1 - t0) / MATCH_BATCH
        lat["match.cancel"][i] = (t2 - t1) / MATCH_BATCH
        eng.clear()
        eng.run(sweep_book)
        market = _limit_ops(make_ops, np.arange(next_id, next_id + MATCH_SWEEPS), 0, 0, 60)
        next_id += MATCH_SWEEPS
        market["type"] = TYPES["market"]
        market["tif"] = TIFS["ioc"]
        t0 = _clock()
        done, _ = run_into(market, sweep_results, fills)
        lat["match.market_sweep"][i] = (_clock() - t0) / MATCH_SWEEPS
        if done != MATCH_SWEEPS:
            raise RuntimeError("match: a timed batch did not complete")
    per_sample = {"match.add": MATCH_BATCH, "match.cancel": MATCH_BATCH,
                  "match.market_sweep": MATCH_SWEEPS}
    return {name: _stage(v, per_sample[name]) for name, v in lat.items()}


# ---- feed ----------------------------------------------------------------------------------

FEED_BLOCKS = 4


def feed_block(blocks: int = FEED_BLOCKS) -> tuple[bytes, int]:
    """Recorded-feed lines shaped like the USD-M mix: per block of 16 messages, 1 depth diff
    of 12 levels, 11 bookTickers and 4 trades (grid 0.1 / 0.001). Returns (bytes, messages)."""
    lines = []
    for b in range(blocks):
        ts = 1723161255030314667 + b * 1_000_000
        E = 1723161256299 + b
        u = 5123107837557 + b * 100
        levels = ",".join(f'["{61650 + i}.{i % 10}0","{i % 7}.{i:03d}"]' for i in range(6))
        lines.append(f'{ts} {{"stream":"btcusdt@depth@0ms","data":{{"e":"depthUpdate","E":{E},'
                     f'"T":{E - 1},"s":"BTCUSDT","U":{u - 40},"u":{u},"pu":{u - 41},'
                     f'"b":[{levels}],"a":[{levels}]}}}}')
        for i in range(11):
            lines.append(f'{ts + i} {{"stream":"btcusdt@bookTicker","data":{{"e":"bookTicker",'
                         f'"u":{u + i},"s":"BTCUSDT","b":"61657.90","B":"{i}.067","a":"61658.00",'
                         f'"A":"0.{i:03d}","T":{E + i},"E":{E + i}}}}}')
        for i in range(4):
            lines.append(f'{ts + 20 + i} {{"stream":"btcusdt@trade","data":{{"e":"trade",'
                         f'"E":{E + i},"T":{E + i},"s":"BTCUSDT","t":{5184000000 + i},'
                         f'"p":"61657.90","q":"0.00{i + 1}","X":"MARKET",'
                         f'"m":{"true" if i % 2 else "false"}}}}}')
    return ("\n".join(lines) + "\n").encode(), len(lines)


def feed_stages(samples: int) -> dict:
    """``feed.binance.parse``: one parse_binance call over 4 blocks of 16 messages shaped
    like the recorded USD-M feed (feed_block), divided by the 64 messages."""
    from engine.feed import parse_binance

    samples = _check_samples(samples)
    data, n_msgs = feed_block()
    _, stats = parse_binance(data, 1, 1, 3, 1)
    if stats["messages"] != n_msgs:
        raise RuntimeError(f"feed.binance.parse: the sample block gave {stats['messages']} "
                           f"messages, not {n_msgs}")
    lat = _timed(samples, n_msgs, lambda: parse_binance(data, 1, 1, 3, 1))
    return {"feed.binance.parse": _stage(lat, n_msgs)}


# ---- garch ---------------------------------------------------------------------------------

GARCH_BATCH = 4096


def garch_stages(samples: int) -> dict:
    """``garch.update``: per-return cost of the online GARCH(1,1) recursion; a sample is one
    GarchFilter.filter call over 4,096 consecutive returns (seeded normal, BTC-daily-like
    parameters), divided by 4,096."""
    from engine.garch import GarchFilter

    samples = _check_samples(samples)
    rets = np.random.default_rng(11).normal(0.0, 0.03, GARCH_BATCH * 16)
    chunks = [rets[i * GARCH_BATCH:(i + 1) * GARCH_BATCH] for i in range(16)]
    g = GarchFilter(2e-5, 0.08, 0.9, 9e-4)
    filt = g.filter
    lat = np.empty(samples, dtype=np.float64)
    for s in range(samples):
        r = chunks[s & 15]
        t0 = _clock()
        filt(r)
        lat[s] = (_clock() - t0) / GARCH_BATCH
    return {"garch.update": _stage(lat, GARCH_BATCH)}


# ---- features ------------------------------------------------------------------------------

FEATURES_ROWS = 512
FEATURES_STREAM_MAX = 1 << 18


def features_stages(samples: int) -> dict:
    """``features.update``: book apply + feature update per event row through
    Features.process, on a synthetic stream (engine.synth, seed 1, sideways; every message
    there is one row, the costliest case per row). A sample is one call over about 512
    consecutive rows cut at a message boundary, divided by its rows; samples follow the
    stream in order (a long run starts the stream over, untimed)."""
    from engine.book import Book
    from engine.features import Features, validate
    from engine.synth import generate

    samples = _check_samples(samples)
    ev = validate(generate(min(samples * FEATURES_ROWS, FEATURES_STREAM_MAX) + 4096, seed=1,
                           regime="sideways"))
    k, fl = ev["kind"], ev["flags"]
    bounds = np.flatnonzero(((k <= 2) & ((fl & 2) != 0)) | (k == 3) | ((k == 4) & ((fl & 2) != 0)))
    idx = np.searchsorted(bounds, np.arange(FEATURES_ROWS - 1, len(ev), FEATURES_ROWS))
    cuts = np.unique(bounds[idx[idx < len(bounds)]])
    if len(cuts) < 2:
        raise RuntimeError("features.update: synthetic stream too short")
    head = ev[:cuts[0] + 1]
    chunks = [ev[cuts[i] + 1:cuts[i + 1] + 1] for i in range(len(cuts) - 1)]
    book, f = Book(), Features()
    f.process(book, head)  # the snapshot and what precedes the first cut: not timed
    process = f.process
    lat = np.empty(samples, dtype=np.float64)
    for s in range(samples):
        c = s % len(chunks)
        if c == 0 and s:
            book, f = Book(), Features()
            f.process(book, head)
            process = f.process
        chunk = chunks[c]
        t0 = _clock()
        process(book, chunk)
        lat[s] = (_clock() - t0) / len(chunk)
    return {"features.update": _stage(lat, FEATURES_ROWS)}


# ---- synth ---------------------------------------------------------------------------------

SYNTH_BATCH = 4096


def synth_stages(samples: int) -> dict:
    """``synth.event``: one engine.synth.generate call of 4,096 rows (a snapshot, then level
    diffs and trades; seed = the sample's index), divided by 4,096."""
    from engine.synth import generate

    samples = _check_samples(samples)
    lat = np.empty(samples, dtype=np.float64)
    for s in range(samples):
        t0 = _clock()
        generate(SYNTH_BATCH, seed=s, regime="sideways")
        lat[s] = (_clock() - t0) / SYNTH_BATCH
    return {"synth.event": _stage(lat, SYNTH_BATCH)}


# ---- ta ------------------------------------------------------------------------------------

TA_BATCH = 2048
TA_STAGES = (("ta.ema.update", "ema", {"n": 20}),
             ("ta.rsi.update", "rsi", {"n": 14}),
             ("ta.bbands.update", "bbands", {"n": 20}),
             ("ta.adx.update", "adx", {"n": 14}))


def ta_stages(samples: int) -> dict:
    """Streaming update latency per bar for a few indicators: a sample is one
    Stream.update_batch call over 2,048 consecutive bars (a seeded random walk, after a
    warm-up of 512 bars), divided by 2,048."""
    from engine.ta import SPECS, Stream

    samples = _check_samples(samples)
    chunks_n = 16
    nbars = 512 + TA_BATCH * chunks_n
    rng = np.random.default_rng(7)
    close = 30000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, nbars)))
    spread = close * np.abs(rng.normal(0.0, 0.003, nbars))
    bars = {"open": close, "high": close + spread, "low": close - spread, "close": close,
            "volume": rng.gamma(2.0, 50.0, nbars)}
    out = {}
    for stage, name, params in TA_STAGES:
        fields = SPECS[name][1]
        stream = Stream(name, **params)
        stream.update_batch(*(bars[f][:512] for f in fields))
        chunks = [tuple(bars[f][512 + i * TA_BATCH:512 + (i + 1) * TA_BATCH] for f in fields)
                  for i in range(chunks_n)]
        upd = stream.update_batch
        lat = np.empty(samples, dtype=np.float64)
        for s in range(samples):
            arrays = chunks[s % chunks_n]
            t0 = _clock()
            upd(*arrays)
            lat[s] = (_clock() - t0) / TA_BATCH
        out[stage] = _stage(lat, TA_BATCH)
    return out


# ---- simvenue ------------------------------------------------------------------------------

SIMVENUE_ROWS = 4096


def simvenue_stages(samples: int, events=None) -> dict:
    """``simvenue.event``: VenueCore.run_until over a slice of 4,096 event rows (a seeded
    synthetic market, engine.synth, unless `events` is given) with two resting orders of
    ours tracked at the touch, divided by the rows replayed."""
    from engine.simvenue import VenueCore

    samples = _check_samples(samples)
    if events is None:
        from engine.synth import generate
        events = generate(60_000, seed=3)
    core = VenueCore(events)
    ts = events["ts_local"]
    n = len(events)
    lat = np.empty(samples, dtype=np.float64)
    oid = 1
    for i in range(samples):
        if core.pos + SIMVENUE_ROWS >= n:
            core.reset()
        if core.n_orders == 0:
            core.run_until(int(ts[core.pos]) + 1)
            for side in ("buy", "sell"):
                b = core.best(side)
                if b is not None:
                    core.place(core.now, oid, side, b[0], 1)
                    oid += 1
        start = core.pos
        stop = int(ts[min(start + SIMVENUE_ROWS, n - 1)])
        t0 = _clock()
        core.run_until(stop)
        t1 = _clock()
        lat[i] = (t1 - t0) / max(core.pos - start, 1)
    return {"simvenue.event": _stage(lat, SIMVENUE_ROWS)}


# ---- model (Python over onnxruntime / numpy) -----------------------------------------------

def inference_stages(samples: int) -> dict:
    """``inference.onnx.single_row`` and ``calibration.isotonic`` (bot.ml.inference)."""
    from bot.ml.inference import perf_stages

    return perf_stages(_check_samples(samples))


PROVIDERS = {
    "book": book_stages,
    "features": features_stages,
    "feed": feed_stages,
    "garch": garch_stages,
    "inference": inference_stages,
    "match": match_stages,
    "pool": pool_stages,
    "ring": ring_stages,
    "simvenue": simvenue_stages,
    "synth": synth_stages,
    "ta": ta_stages,
}


def measure(samples: int) -> dict:
    """Every provider's stages, by stage name."""
    out = {}
    for provider in PROVIDERS.values():
        out.update(provider(samples))
    return out
