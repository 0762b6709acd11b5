"""Isotonic calibration per regime (bot.ml.calibration): references and held-out Brier gains."""

import json

import numpy as np
import pytest

from engine.feature_layout import INDEX, N_FEATURES
from bot.ml.calibration import (IsotonicMap, RegimeCalibrator, brier, expected_calibration_error,
                                reliability_table)

RV = INDEX["realized_vol"]


def _miscalibrated(n, seed, sharpen_by_regime=(3.0, 3.0, 3.0)):
    """True probabilities q, outcomes y ~ Bernoulli(q), and a model's p = sigmoid(k * logit(q)),
    over- (k > 1) or under-confident (k < 1) by regime; regime set through realized_vol."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.05, 0.95, n)
    y = (rng.random(n) < q).astype(np.int8)
    X = rng.normal(size=(n, N_FEATURES))
    regime = rng.integers(0, 3, n)
    X[:, RV] = regime + rng.random(n)  # terciles of realized_vol recover the regime
    k = np.asarray(sharpen_by_regime)[regime]
    logit = np.log(q / (1 - q))
    p = 1 / (1 + np.exp(-k * logit))
    return p, y, X, q


def test_calibration_lowers_brier_on_held_out_data():
    p, y, X, q = _miscalibrated(20_000, seed=1)
    pt, yt, Xt, qt = _miscalibrated(20_000, seed=2)
    cal = RegimeCalibrator().fit(p, y, X)
    after = cal.transform(pt, Xt)
    assert brier(after, yt) < brier(pt, yt) - 0.01
    assert brier(after, yt) == pytest.approx(brier(qt, yt), abs=0.003)  # close to the truth
    assert expected_calibration_error(after, yt) < expected_calibration_error(pt, yt) / 3


def test_per_regime_maps_beat_one_global_map_when_regimes_differ():
    shapes = (3.0, 1.0, 0.4)  # over-confident, calibrated, under-confident
    p, y, X, _ = _miscalibrated(30_000, seed=3, sharpen_by_regime=shapes)
    pt, yt, Xt, _ = _miscalibrated(30_000, seed=4, sharpen_by_regime=shapes)
    cal = RegimeCalibrator().fit(p, y, X)
    assert sorted(cal.maps) == [0, 1, 2]
    np.testing.assert_allclose(cal.edges, [1, 2], atol=0.05)
    glob = cal.global_map(pt)
    per = cal.transform(pt, Xt)
    assert brier(per, yt) < brier(glob, yt) - 0.002


def test_fallback_to_global_map():
    p, y, X, _ = _miscalibrated(3000, seed=5)
    cal = RegimeCalibrator(min_rows=2000).fit(p, y, X)  # no regime has 2000 rows
    assert cal.maps == {}
    Xn = X.copy()
    Xn[:10, RV] = np.nan
    np.testing.assert_array_equal(cal.transform(p, Xn), cal.global_map(p))
    cal2 = RegimeCalibrator().fit(p, y, X)
    assert cal2.regime(Xn[:10]).tolist() == [-1] * 10
    np.testing.assert_array_equal(cal2.transform(p[:10], Xn[:10]), cal2.global_map(p[:10]))


def test_isotonic_map_equals_sklearn_and_round_trips():
    from sklearn.isotonic import IsotonicRegression

    p, y, X, _ = _miscalibrated(5000, seed=6)
    m = IsotonicMap.fit(p, y)
    ref = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, y)
    grid = np.concatenate(([-0.5, 0.0, 1.0, 1.5], np.random.default_rng(0).random(2000)))
    np.testing.assert_allclose(m(grid), ref.predict(grid), rtol=0, atol=1e-12)
    assert np.all(np.diff(m(np.sort(grid))) >= 0)  # monotone
    cal = RegimeCalibrator().fit(p, y, X)
    back = RegimeCalibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_array_equal(back.transform(p, X), cal.transform(p, X))
    with pytest.raises(ValueError, match="isotonic_by_regime"):
        RegimeCalibrator.from_dict({"kind": "platt"})


def test_brier_and_reliability_table_match_plain_python():
    rng = np.random.default_rng(7)
    p = rng.random(500)
    p[:3] = [0.0, 1.0, 0.1]
    y = (rng.random(500) < p).astype(int)
    assert brier(p, y) == pytest.approx(sum((a - b) ** 2 for a, b in zip(p, y)) / len(p), rel=1e-12)
    table = reliability_table(p, y, bins=5)
    for k, row in enumerate(table):
        members = [(a, b) for a, b in zip(p, y) if min(int(a * 5), 4) == k]
        assert row["count"] == len(members)
        assert row["mean_pred"] == pytest.approx(sum(a for a, _ in members) / len(members))
        assert row["frac_pos"] == pytest.approx(sum(b for _, b in members) / len(members))
    assert sum(r["count"] for r in table) == 500
    empty = reliability_table(np.full(10, 0.05), np.zeros(10), bins=10)
    assert empty[0]["count"] == 10 and empty[5]["count"] == 0 and empty[5]["mean_pred"] is None


def test_bad_input_raises():
    p, y, X, _ = _miscalibrated(100, seed=8)
    with pytest.raises(ValueError, match="same number of rows"):
        RegimeCalibrator().fit(p[:50], y, X)
    with pytest.raises(ValueError, match="both classes"):
        RegimeCalibrator().fit(p, np.zeros(100, np.int8), X)
    with pytest.raises(ValueError, match="min_rows"):
        RegimeCalibrator(min_rows=1)
    with pytest.raises(RuntimeError, match="before fit"):
        RegimeCalibrator().transform(p, X)
