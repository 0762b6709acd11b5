"""Microstructure features (engine.features over csrc/micro_features.c) against the plain
numpy references in tests/features_reference.py, on synthetic and recorded BTCUSDT data;
the level trace against a plain-Python book; streaming against batch; bad input."""

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import events as E
from engine.feature_layout import INDEX, LEVELS, N_FEATURES, NAMES, FeatureParams
from engine.book import Book
from engine.features import FeatureInputError, Features, compute
from engine.synth import generate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features_reference import reference  # noqa: E402

RTOL = 1e-9  # integer-exact features agree bit for bit; float sums (VPIN) to ~1e-15


def assert_features_equal(got: np.ndarray, want: np.ndarray, rtol: float = RTOL):
    assert got.shape == want.shape
    for i, name in enumerate(NAMES):
        a, b = got[:, i], want[:, i]
        assert np.array_equal(np.isnan(a), np.isnan(b)), f"{name}: NaN pattern differs"
        assert np.array_equal(np.isposinf(a), np.isposinf(b)), f"{name}: inf pattern differs"
        fin = np.isfinite(b)
        err = np.abs(a[fin] - b[fin])
        bad = err > rtol * np.maximum(np.abs(b[fin]), 1e-12)
        assert not bad.any(), f"{name}: {bad.sum()} values differ, e.g. {a[fin][bad][:3]} vs {b[fin][bad][:3]}"


def python_book_trace(ev: np.ndarray) -> list:
    """Top 5 levels after each book message, from a dict book (snapshot replaces)."""
    book = [{}, {}]
    out = []
    snap = None
    for r in ev:
        k = int(r["kind"])
        if k not in (E.EV_SNAPSHOT, E.EV_UPDATE):
            continue
        if k == E.EV_SNAPSHOT:
            if r["flags"] & E.EVF_BEGIN:
                snap = [{}, {}]
            snap[r["side"]][int(r["price"])] = int(r["qty"])
            if r["flags"] & E.EVF_END:
                book = snap
        else:
            side = book[r["side"]]
            if r["qty"] == 0:
                side.pop(int(r["price"]), None)
            else:
                side[int(r["price"])] = int(r["qty"])
        if r["flags"] & E.EVF_END:
            bids = sorted(book[0].items(), reverse=True)[:LEVELS]
            asks = sorted(book[1].items())[:LEVELS]
            out.append((bids, asks))
    return out


def _levels_as_lists(lv):
    n_b = int(np.count_nonzero(lv["bid_qty"]))
    n_a = int(np.count_nonzero(lv["ask_qty"]))
    bids = [(int(p), int(q)) for p, q in zip(lv["bid_px"][:n_b], lv["bid_qty"][:n_b])]
    asks = [(int(p), int(q)) for p, q in zip(lv["ask_px"][:n_a], lv["ask_qty"][:n_a])]
    return bids, asks


@pytest.mark.parametrize("regime", ["sideways", "crisis"])
def test_every_feature_matches_numpy_reference_on_synthetic(regime):
    ev = generate(60_000, seed=11, regime=regime)
    p = FeatureParams(vpin_bucket=3000, ofi_window=50, kyle_window=80, rv_window=60,
                      cancel_short=10, cancel_long=120, trade_window=32, bvc_window=50,
                      vpin_buckets=20, momentum_lag=5)
    r = compute(ev, p, every=23, trace=True)
    assert len(r["row"]) > 2000
    assert_features_equal(r["values"], reference(ev, r["levels"], r["row"], p))
    # every feature is exercised: not all-NaN and not constant
    v = r["values"]
    for i, name in enumerate(NAMES):
        col = v[:, i][np.isfinite(v[:, i])]
        assert col.size > 100 and np.ptp(col) > 0, f"{name} is never finite or never changes"


def test_level_trace_matches_python_book_on_synthetic():
    ev = generate(20_000, seed=5, regime="bull")
    r = compute(ev, every=1000, trace=True)
    want = python_book_trace(ev)
    assert len(want) == len(r["levels"])
    for i, lv in enumerate(r["levels"]):
        assert _levels_as_lists(lv) == want[i], f"message {i}"


def test_every_feature_matches_numpy_reference_on_recorded_btcusdt(spot_events):
    ev, inst = spot_events
    p = FeatureParams(vpin_bucket=500_000)  # lots of 1e-6 BTC: 0.5 BTC buckets
    r = compute(ev, p, every=97, trace=True)
    assert len(r["row"]) > 1000
    assert_features_equal(r["values"], reference(ev, r["levels"], r["row"], p))
    v = r["values"]
    # a live BTCUSDT book after sync: spread >= 1 tick, never crossed
    spread = v[:, INDEX["spread"]]
    assert np.nanmin(spread) >= 1
    assert np.isfinite(v[:, INDEX["vpin_bvc"]]).any()


def test_recorded_trace_top_matches_book_replay(spot_events):
    """The top levels the features see are the book's (engine.book) after each message."""
    ev, _ = spot_events
    r = compute(ev, every=10_000, trace=True)
    lv = r["levels"]
    ends = np.flatnonzero((ev["kind"] <= 2) & ((ev["flags"] & E.EVF_END) != 0))
    # replay message by message up to sampled messages, comparing tops
    book = Book()
    check = set(np.linspace(0, len(ends) - 1, 40).astype(int).tolist())
    lo = 0
    for m, end in enumerate(ends):
        if m in check:
            book.apply_batch(ev[lo:end + 1])
            lo = end + 1
            bpx, bq, apx, aq = book.top(LEVELS)
            got_b, got_a = _levels_as_lists(lv[m])
            assert list(zip(bpx.tolist(), bq.tolist())) == got_b
            assert list(zip(apx.tolist(), aq.tolist())) == got_a
    assert len(check) == 40


def _message_bounds(ev):
    """Row indices after which a chunk may end (a message or a trade/quote row closes)."""
    k, f = ev["kind"], ev["flags"]
    return np.flatnonzero(((k <= 2) & ((f & E.EVF_END) != 0)) | (k == E.EV_TRADE) |
                          ((k == E.EV_QUOTE) & ((f & E.EVF_END) != 0)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**64 - 1), regime=st.sampled_from(["bull", "bear", "sideways", "crisis"]),
       every=st.integers(1, 60), w=st.integers(1, 40), chunk_seed=st.integers(0, 2**32 - 1))
def test_streaming_equals_batch_and_reference(seed, regime, every, w, chunk_seed):
    """Random generator streams and small windows (rings wrap many times): the batch driver
    equals the numpy reference, and a live driver fed in random chunks equals the batch."""
    ev = generate(4000, seed=seed, regime=regime)
    p = FeatureParams(ofi_window=w, kyle_window=w + 1, rv_window=2 * w, cancel_short=max(1, w // 2),
                      cancel_long=w + 3, trade_window=w, bvc_window=w + 2, vpin_bucket=200 + 37 * w,
                      vpin_buckets=1 + w % 7, momentum_lag=1 + w % 5)
    r = compute(ev, p, every=every, trace=True)
    assert_features_equal(r["values"], reference(ev, r["levels"], r["row"], p))
    # live: chunks of whole messages, ending at random boundaries and at every sample row
    rng = np.random.default_rng(chunk_seed)
    bounds = _message_bounds(ev)
    cuts = set(rng.choice(bounds, size=min(len(bounds), 50), replace=False).tolist()) | set(r["row"].tolist())
    book, feats = Book(), Features(p)
    samples = {}
    lo = 0
    for c in sorted(cuts):
        chunk = ev[lo:c + 1]
        lo = c + 1
        feats.process(book, chunk)
        if c in set(r["row"].tolist()):
            samples[c] = feats.sample()
    live = np.array([samples[c] for c in r["row"]])
    assert_features_equal(live, r["values"], rtol=0.0)


def test_update_after_each_message_equals_batch():
    """The per-message live path: the caller's book applies one message, then update()."""
    ev = generate(3000, seed=9, regime="crisis")
    r = compute(ev, every=7)
    rows = set(r["row"].tolist())
    book, feats = Book(), Features()
    lo = 0
    got = []
    for c in _message_bounds(ev):
        msg = ev[lo:c + 1]
        lo = c + 1
        book.apply_batch(msg)
        feats.update(book, msg)
        if c in rows:
            got.append(feats.sample())
    assert_features_equal(np.array(got), r["values"], rtol=0.0)


@pytest.mark.parametrize("source", ["synthetic", "recorded"])
def test_given_levels_equal_the_book_driven_run(source, request):
    """compute(levels=trace) keeps no book and reads each message's state from the trace:
    every feature equals the book-driven run bit for bit."""
    if source == "synthetic":
        ev = generate(40_000, seed=21, regime="crisis")
    else:
        ev, _ = request.getfixturevalue("spot_events")
    r = compute(ev, every=31, trace=True)
    g = compute(ev, every=31, levels=r["levels"])
    assert (g["row"] == r["row"]).all()
    assert_features_equal(g["values"], r["values"], rtol=0.0)


def test_live_partial_depth_feed_equals_batch_on_given_levels():
    """A live driver with no book: trades through update(None, rows), each book message's
    top levels through update_levels; sampled where the batch sampled, it gives the same
    vectors as compute(levels=...)."""
    ev = generate(20_000, seed=12, regime="bull")
    trace = compute(ev, every=1000, trace=True)["levels"]
    r = compute(ev, every=13, levels=trace)
    rows = set(r["row"].tolist())
    feats = Features()
    m = 0
    got = []
    for i, row in enumerate(ev):
        if row["kind"] <= 2:
            if row["flags"] & E.EVF_END:
                lv = trace[m:m + 1].copy()
                lv["ts"] = row["ts_local"]
                feats.update_levels(lv)
                m += 1
        else:
            feats.update(None, ev[i:i + 1])
        if i in rows:
            got.append(feats.sample())
    assert m == len(trace) and feats.messages == len(trace)
    assert_features_equal(np.array(got), r["values"], rtol=0.0)
    # a book row without a book, levels out of time order, malformed levels: refused
    with pytest.raises(FeatureInputError, match="needs the book"):
        feats.update(None, ev[:3])
    late = trace[:1].copy()
    late["ts"] = 0
    with pytest.raises(FeatureInputError, match="levels row 0: bad ts"):
        feats.update_levels(late)
    bad = trace[:2].copy()
    bad["ts"] = ev["ts_local"][-1] + 1
    bad["bid_qty"][1, 0] = -1
    with pytest.raises(FeatureInputError, match="levels row 1: bad bid_qty"):
        feats.update_levels(bad)
    assert feats.messages == len(trace)  # nothing applied


def test_given_levels_are_checked():
    ev = generate(2000, seed=2)
    lv = compute(ev, every=100, trace=True)["levels"]
    with pytest.raises(FeatureInputError, match=f"levels has {len(lv) - 1} rows for {len(lv)} book messages"):
        compute(ev, every=100, levels=lv[:-1])
    with pytest.raises(FeatureInputError, match="LEVELS_DTYPE"):
        compute(ev, every=100, levels=np.zeros(len(lv)))
    with pytest.raises(ValueError, match="no book"):
        compute(ev, every=100, levels=lv, trace=True)
    cases = [("bid_qty", 2, -4, r"bad bid_qty\[2\], value -4 \(negative quantity\)"),
             ("ask_px", 0, 0, r"bad ask_px\[0\], value 0 \(price out of range"),
             ("ask_px", 3, None, r"bad ask_px\[3\], value \d+ \(not strictly worse"),
             ("bid_qty", 1, 0, r"bad bid_px\[1\], value \d+ \(price of a missing level is not 0\)")]
    from engine.features import validate_levels

    for field, k, value, msg in cases:
        bad = lv.copy()
        bad[field][77, k] = bad["ask_px"][77, 2] if value is None else value
        with pytest.raises(FeatureInputError, match="levels row 77: " + msg):
            compute(ev, every=100, levels=bad)
        with pytest.raises(FeatureInputError, match="levels row 77: " + msg):
            validate_levels(bad)
    assert validate_levels(lv, len(lv)) is not None


def test_interval_sampling_spacing():
    ev = generate(50_000, seed=3)
    r = compute(ev, interval_ns=100_000_000)
    gaps = np.diff(r["ts"])
    assert len(r["ts"]) > 10 and (gaps >= 100_000_000).all()
    assert (np.diff(r["row"]) > 0).all()


def test_features_before_any_book_message():
    ev = E.empty(2)
    ev[0] = (1, 10, 100, 5, -1, 1, -1, E.EV_TRADE, E.SIDE_BID, 3, 0)
    ev[1] = (2, 20, 101, 7, -1, 2, -1, E.EV_TRADE, E.SIDE_ASK, 3, 0)
    r = compute(ev, every=1, trace=True)
    v = r["values"]
    assert v.shape == (2, N_FEATURES)
    assert np.isnan(v[:, INDEX["mid"]]).all() and (v[:, INDEX["ofi_1"]] == 0).all()
    assert v[1, INDEX["signed_volume"]] == 5 - 7
    assert v[1, INDEX["trade_intensity"]] == pytest.approx(2 / 1000e-9)  # 10 ns span floored to 1 us
    assert_features_equal(v, reference(ev, r["levels"], r["row"], FeatureParams()))


def test_hand_computed_small_book():
    """A two-level book worked by hand: spread, mid, microprice, imbalance, OFI."""
    ev = E.empty(6)
    # snapshot: bid 100x10, 99x5; ask 101x30, 102x1
    ev[0] = (0, 1000, 100, 10, -1, 0, -1, E.EV_SNAPSHOT, E.SIDE_BID, E.EVF_BEGIN, 0)
    ev[1] = (0, 1000, 99, 5, -1, 0, -1, E.EV_SNAPSHOT, E.SIDE_BID, 0, 0)
    ev[2] = (0, 1000, 101, 30, -1, 0, -1, E.EV_SNAPSHOT, E.SIDE_ASK, 0, 0)
    ev[3] = (0, 1000, 102, 1, -1, 0, -1, E.EV_SNAPSHOT, E.SIDE_ASK, E.EVF_END, 0)
    # diff u=1: bid 100 -> 4 (6 lots cancelled at the touch), ask 101 -> 0 (ask level gone)
    ev[4] = (0, 3000, 100, 4, 1, 1, -1, E.EV_UPDATE, E.SIDE_BID, E.EVF_BEGIN, 0)
    ev[5] = (0, 3000, 101, 0, 1, 1, -1, E.EV_UPDATE, E.SIDE_ASK, E.EVF_END, 0)
    r = compute(ev, every=1)
    v0, v1 = r["values"][0], r["values"][1]
    assert list(r["row"]) == [3, 5]
    assert v0[INDEX["spread"]] == 1 and v0[INDEX["mid"]] == 100.5
    assert v0[INDEX["microprice"]] == (100 * 30 + 101 * 10) / 40
    assert v0[INDEX["imbalance_1"]] == (10 - 30) / 40
    assert v0[INDEX["imbalance_cum"]] == (15 - 31) / 46
    # first message against an empty book: e_1 = qb - 0 - qa + 0
    assert v0[INDEX["ofi_1"]] == 10 - 30
    # after the diff: bid 100x4; ask 102x1 is now level 1
    assert v1[INDEX["spread"]] == 2 and v1[INDEX["microprice"]] == (100 * 1 + 102 * 4) / 5
    # e_1 = 4 - 10 (bid same price) - 0 (ask rose: 1{102<=101}=0) + 30 (1{102>=101}*30)
    assert v1[INDEX["ofi_1"]] == (10 - 30) + (4 - 10 + 30)
    # cancel burst inputs: 6 lots removed at the bid, 30 at the ask, no trades
    assert v1[INDEX["bid_age"]] == pytest.approx(2000e-9) and v1[INDEX["ask_age"]] == 0


def test_bad_input_is_rejected_with_row_and_field():
    ev = generate(1000, seed=1)
    with pytest.raises(FeatureInputError, match="EVENT_DTYPE"):
        compute(np.zeros(10), every=1)
    bad = ev.copy()
    bad["kind"][17] = 9
    with pytest.raises(FeatureInputError, match="row 17: bad kind, value 9"):
        compute(bad, every=1)
    bad = ev.copy()
    bad["ts_local"][30] = 0
    with pytest.raises(FeatureInputError, match="row 30"):
        compute(bad, every=1)
    with pytest.raises(ValueError, match="exactly one"):
        compute(ev, every=5, interval_ns=10)
    with pytest.raises(ValueError, match="exactly one"):
        compute(ev)
    with pytest.raises(ValueError, match="ofi_window"):
        FeatureParams(ofi_window=0)
    with pytest.raises(ValueError, match="cancel_short"):
        FeatureParams(cancel_short=10, cancel_long=5)
    with pytest.raises(TypeError, match="FeatureParams"):
        Features({"ofi_window": 3})
    f = Features()
    bad = ev.copy()
    bad["side"][3] = 7
    with pytest.raises(FeatureInputError, match="row 3: bad side, value 7"):
        f.update(Book(), bad)
    assert f.messages == 0 and f.trades == 0  # nothing applied


SIMD_LEVELS = ["scalar", "avx2", "avx512"]


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 300), seed=st.integers(0, 2**32 - 1), price=st.integers(0, 3), side=st.integers(0, 2))
def test_touch_volume_simd_bodies_agree_bit_for_bit(n, seed, price, side):
    """The queue fill-rate kernel: every runnable body equals a numpy masked sum (int64
    wraparound included) for every length, so the AVX tails are covered."""
    from engine import simd
    from engine.features import touch_volume

    rng = np.random.default_rng(seed)
    px = rng.integers(0, 4, n)
    sd = rng.integers(0, 3, n)
    qty = rng.integers(-(2**62), 2**62, n)
    with np.errstate(over="ignore"):
        want = int(np.where((px == price) & (sd == side), qty, 0).sum(dtype=np.int64))
    for level in SIMD_LEVELS:
        if simd.supported(level):
            assert touch_volume(px, sd, qty, price, side, level=level) == want, level
    assert touch_volume(px, sd, qty, price, side) == want


def test_touch_volume_arguments():
    from engine import simd
    from engine.features import touch_volume

    with pytest.raises(ValueError, match="level must be one of"):
        touch_volume([1], [1], [1], 1, 1, level="sse9")
    with pytest.raises(ValueError, match="one length"):
        touch_volume([1, 2], [1], [1], 1, 1)
    if not simd.supported("avx512"):
        with pytest.raises(ValueError, match="cannot run on this CPU"):
            touch_volume([1], [1], [1], 1, 1, level="avx512")


@pytest.mark.parametrize("level", SIMD_LEVELS)
def test_features_identical_under_each_simd_level(level):
    """The whole vector is the same whichever body the dispatcher runs (fresh process per
    level, since the choice is made once at import)."""
    import subprocess

    from engine import simd

    if not simd.supported(level):
        pytest.skip(f"{level} not supported on this CPU")
    code = ("import hashlib, numpy as np; from engine.synth import generate; from engine.features import compute;"
            "ev=generate(20000, seed=3, regime='crisis'); v=compute(ev, every=7)['values'];"
            "print(hashlib.sha256(np.nan_to_num(v, nan=-1.0, posinf=-2.0).tobytes()).hexdigest())")
    import os
    digests = set()
    for lv in ("scalar", level):
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "BOT4_SIMD": lv},
                             capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
