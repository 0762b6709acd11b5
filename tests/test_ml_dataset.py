"""Labelled datasets (bot.ml.dataset) against plain-Python labelling references."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.feature_layout import INDEX, N_FEATURES
from bot.ml.dataset import (Dataset, build_dataset, concat, rolling_vol, sign_labels, synthetic_dataset,
                            triple_barrier_labels)


@st.composite
def price_paths(draw):
    n = draw(st.integers(2, 80))
    gaps = draw(st.lists(st.integers(0, 30), min_size=n - 1, max_size=n - 1))
    ts = np.concatenate(([0], np.cumsum(gaps))).astype(np.int64)
    steps = draw(st.lists(st.integers(-2, 2), min_size=n, max_size=n))
    mid = 1000.0 + np.cumsum(steps)
    return ts, mid


def ref_sign(ts, mid, h_ns, h_samples):
    out = []
    n = len(ts)
    for i in range(n):
        if h_ns:
            j = next((j for j in range(i + 1, n) if ts[j] >= ts[i] + h_ns), None)
        else:
            j = i + h_samples if i + h_samples < n else None
        if j is None or mid[j] == mid[i]:
            continue
        out.append((i, int(mid[j] > mid[i]), int(ts[j]), math.log(mid[j] / mid[i])))
    return out


@settings(max_examples=150, deadline=None)
@given(price_paths(), st.integers(1, 60), st.booleans())
def test_sign_labels_match_reference(path, h, in_time):
    ts, mid = path
    rows, y, t1, ret = sign_labels(ts, mid, horizon_ns=h if in_time else 0, horizon_samples=0 if in_time else h)
    ref = ref_sign(ts, mid, h if in_time else 0, 0 if in_time else h)
    assert rows.tolist() == [r[0] for r in ref]
    assert y.tolist() == [r[1] for r in ref]
    assert t1.tolist() == [r[2] for r in ref]
    np.testing.assert_allclose(ret, [r[3] for r in ref], rtol=0, atol=1e-15)
    assert np.all(t1 > ts[rows]) if in_time else np.all(t1 >= ts[rows])


def ref_triple_barrier(ts, mid, h, pt, sl, sigma):
    out = []
    n = len(ts)
    for i in range(n):
        v = next((j for j in range(i + 1, n) if ts[j] >= ts[i] + h), None)
        if v is None or not (sigma[i] > 0):
            continue
        label, end = None, v
        for j in range(i + 1, v + 1):
            r = math.log(mid[j]) - math.log(mid[i])
            if r >= pt * sigma[i]:
                label, end = 1, j
                break
            if r <= -sl * sigma[i]:
                label, end = 0, j
                break
        r = math.log(mid[end]) - math.log(mid[i])
        if label is None:
            if r == 0:
                continue
            label = int(r > 0)
        out.append((i, label, int(ts[end]), r))
    return out


@settings(max_examples=150, deadline=None)
@given(price_paths(), st.integers(1, 80), st.sampled_from([0.5, 1.0, 2.0]), st.sampled_from([0.5, 1.0, 3.0]),
       st.integers(2, 6))
def test_triple_barrier_matches_reference(path, h, pt, sl, window):
    ts, mid = path
    sigma = rolling_vol(mid, window)
    rows, y, t1, ret = triple_barrier_labels(ts, mid, h, pt, sl, window)
    ref = ref_triple_barrier(ts, mid, h, pt, sl, np.nan_to_num(sigma, nan=0.0))
    assert rows.tolist() == [r[0] for r in ref]
    assert y.tolist() == [r[1] for r in ref]
    assert t1.tolist() == [r[2] for r in ref]
    np.testing.assert_allclose(ret, [r[3] for r in ref], rtol=0, atol=1e-14)


def test_triple_barrier_hand_example():
    ts = np.arange(8, dtype=np.int64) * 10
    mid = np.array([100.0, 101, 102, 99, 98, 100, 100, 100])
    sigma = np.full(8, 0.015)  # barriers at about +-1.5%
    rows, y, t1, ret = triple_barrier_labels(ts, mid, horizon_ns=30, pt=1.0, sl=1.0, sigma=sigma)
    # row 0: 101 (+1.0%), 102 (+1.98%) -> upper at ts 20; row 1: 102, 99 (-1.98%) -> lower at 30
    # row 2: 99 (-2.9%) -> lower at 30; row 3: 98, 100 (+1.0%), 100 -> vertical at 60, up
    # row 4: 100 (+2.0%) -> upper at 50
    assert rows[:5].tolist() == [0, 1, 2, 3, 4]
    assert y[:5].tolist() == [1, 0, 0, 1, 1]
    assert t1[:5].tolist() == [20, 30, 30, 60, 50]


def test_rolling_vol_matches_numpy():
    rng = np.random.default_rng(3)
    mid = 1000 * np.exp(np.cumsum(rng.normal(0, 1e-3, 300)))
    w = 20
    got = rolling_vol(mid, w)
    r = np.diff(np.log(mid))
    assert np.all(np.isnan(got[:w]))
    for i in range(w, len(mid)):
        assert got[i] == pytest.approx(np.std(r[i - w:i]), rel=1e-9, abs=1e-15)


def _series(n=500, seed=0):
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(1, 50, n)).astype(np.int64)
    values = rng.normal(size=(n, N_FEATURES))
    values[:, INDEX["mid"]] = 3_000_000 + np.cumsum(rng.integers(-1, 2, n))
    return ts, values


def test_build_dataset_rows_carry_times_and_features():
    ts, values = _series()
    ds = build_dataset(ts, values, horizon_ns=100)
    rows, y, t1, _ = sign_labels(ts, values[:, INDEX["mid"]], horizon_ns=100)
    np.testing.assert_array_equal(ds.X, values[rows])
    np.testing.assert_array_equal(ds.t0, ts[rows])
    np.testing.assert_array_equal(ds.t1, t1)
    assert np.all(ds.t1 > ds.t0)
    assert ds.meta["rows"] + ds.meta["dropped"] == len(ts)
    tb = build_dataset(ts, values, label="triple_barrier", horizon_ns=200, vol_window=10)
    assert len(tb) > 0 and np.all(tb.t1 > tb.t0) and np.all(tb.t1 <= tb.t0 + 200 + 50)


@pytest.mark.parametrize("kw, msg", [
    ({"label": "meta"}, "label must be"),
    ({"horizon_ns": 0}, "exactly one of"),
    ({"label": "triple_barrier", "horizon_samples": 3}, "time horizon"),
])
def test_build_dataset_bad_arguments(kw, msg):
    ts, values = _series(50)
    with pytest.raises(ValueError, match=msg):
        build_dataset(ts, values, **kw)


def test_bad_series_raise():
    ts, values = _series(50)
    with pytest.raises(ValueError, match=r"values must have shape \(50, "):
        build_dataset(ts, values[:, :5])
    with pytest.raises(ValueError, match="non-decreasing"):
        build_dataset(ts[::-1].copy(), values)
    with pytest.raises(ValueError, match="t1\\[0\\]"):
        Dataset(X=values[:2], y=np.zeros(2, np.int8), t0=np.array([5, 6]), t1=np.array([4, 7]),
                ret=np.zeros(2), segment=np.zeros(2, np.int16))


def test_concat_refuses_overlap():
    ts, values = _series(200)
    a = build_dataset(ts, values, horizon_ns=100)
    with pytest.raises(ValueError, match="overlap in time"):
        concat([a, a])


def test_synthetic_dataset_is_deterministic_and_time_ordered():
    a = synthetic_dataset(seed=3, events=20_000, horizon_ns=200_000_000)
    b = synthetic_dataset(seed=3, events=20_000, horizon_ns=200_000_000)
    c = synthetic_dataset(seed=4, events=20_000, horizon_ns=200_000_000)
    assert a.sha256() == b.sha256() != c.sha256()
    assert a.segment.tolist() == sorted(a.segment.tolist()) and set(a.segment.tolist()) == {0, 1, 2}
    for k in range(2):  # every label of one regime ends before the next regime starts
        assert a.t1[a.segment == k].max() < a.t0[a.segment == k + 1].min()
    assert [m["regime"] for m in a.meta["segments"]] == ["bull", "bear", "sideways"]
    assert set(np.unique(a.y).tolist()) == {0, 1}
