"""ONNX export and onnxruntime inference against the native LightGBM model and numpy.interp."""

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from bot.ml.inference import OnnxModel, OnnxModelError, perf_stages
from bot.ml.onnx_export import OnnxExportError, breakpoints, export_lightgbm

N_FEATURES = 20
PARAMS = {"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 31, "seed": 3,
          "min_data_in_leaf": 10}


def _native(booster, X):
    # ONNX trees compare float32 features with float32 thresholds: feed the native model the
    # same float32 values (the comparison the two must agree on)
    return booster.predict(np.asarray(X, dtype=np.float32).astype(np.float64))


@pytest.fixture(scope="module")
def nan_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, N_FEATURES))
    X[rng.random(X.shape) < 0.08] = np.nan
    # the label depends on missingness, so LightGBM learns real default directions
    near = np.abs(X[:, 3]) < 1  # False for NaN
    y = (np.nan_to_num(X[:, 0]) + np.isnan(X[:, 1]) - 0.5 * np.nan_to_num(X[:, 2]) * near
         + rng.normal(size=4000) > 0.3).astype(int)
    booster = lgb.train(PARAMS, lgb.Dataset(X, y), 50)
    iso = IsotonicRegression(out_of_bounds="clip").fit(booster.predict(X), y)
    return booster, iso


def _rows(seed, n=3000, nan_frac=0.1, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES)) * scale
    X[rng.random(X.shape) < nan_frac] = np.nan
    return X


def test_raw_probability_parity_with_nan(nan_model):
    booster, _ = nan_model
    m = OnnxModel(export_lightgbm(booster).SerializeToString())
    assert not m.calibrated and m.n_features == N_FEATURES
    for seed, scale in [(1, 1.0), (2, 5.0), (3, 0.01)]:
        X = _rows(seed, scale=scale)
        ref = _native(booster, X)
        got = m.predict_batch(X)
        assert np.max(np.abs(got - ref)) < 1e-5
        for i in range(0, len(X), 97):  # single rows through the row buffers
            assert abs(m.predict_row(X[i]) - ref[i]) < 1e-5
            assert m.predict_row(X[i]) == pytest.approx(got[i], abs=0, rel=0)
    allnan = np.full((3, N_FEATURES), np.nan)
    assert np.max(np.abs(m.predict_batch(allnan) - _native(booster, allnan))) < 1e-5


def test_lgbm_classifier_exports_too():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1500, N_FEATURES))
    y = (X[:, 0] - X[:, 4] > 0).astype(int)
    clf = lgb.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1, n_jobs=1).fit(X, y)
    m = OnnxModel(export_lightgbm(clf).SerializeToString())
    Xt = _rows(6, 500)
    ref = clf.predict_proba(Xt.astype(np.float32).astype(np.float64))[:, 1]
    assert np.max(np.abs(m.predict_batch(Xt) - ref)) < 1e-5


def _btc_feature_rows(close, volume):
    """20 real-data features from BTC daily bars: lagged log returns, rolling volatility,
    volume changes, distance from moving averages (NaN during warm-up, as in the loop)."""
    r = np.diff(np.log(close), prepend=np.nan)
    lv = np.log(volume)
    cols = [np.roll(r, k) for k in range(10)]
    for w in (5, 10, 20, 40):
        cols.append(np.array([np.std(r[max(0, i - w + 1):i + 1]) if i >= w else np.nan for i in range(len(r))]))
    for k in (1, 5, 20):
        cols.append(lv - np.roll(lv, k))
    for w in (10, 30, 90):
        ma = np.convolve(close, np.ones(w) / w, mode="full")[:len(close)]
        ma[:w - 1] = np.nan
        cols.append(close / ma - 1)
    X = np.column_stack(cols)
    X[:10] = np.nan
    return X


def test_parity_on_real_btc_feature_rows(shared_data):
    from bot.data.ohlcv import read_ohlcv

    bars = read_ohlcv(shared_data / "ohlcv" / "binance_btcusdt_1d.csv")
    X = _btc_feature_rows(bars.close, bars.volume)
    assert X.shape[1] == N_FEATURES
    fwd = np.roll(np.diff(np.log(bars.close), prepend=np.nan), -1)
    ok = np.isfinite(fwd)
    y = (fwd[ok] > 0).astype(int)
    booster = lgb.train(PARAMS, lgb.Dataset(X[ok], y), 50)
    iso = IsotonicRegression(out_of_bounds="clip").fit(booster.predict(X[ok]), y)
    m = OnnxModel(export_lightgbm(booster, iso).SerializeToString())
    assert m.calibrated
    raw_ref = _native(booster, X)
    raw = m.predict_raw_batch(X)
    assert np.max(np.abs(raw - raw_ref)) < 1e-5
    _check_calibrated(m, iso, X, raw, raw_ref)


def _max_slope(iso):
    x, y = breakpoints(iso)
    dx = np.diff(x)
    return float(np.max(np.divide(np.abs(np.diff(y)), dx, out=np.zeros_like(dx), where=dx > 0), initial=0.0))


def _check_calibrated(m, iso, X, raw, raw_ref):
    x, y = breakpoints(iso)
    cal = m.predict_batch(X)
    # the graph is numpy.interp on the probability it computed
    assert np.max(np.abs(cal - np.interp(raw, x, y))) < 1e-12
    # end to end: the raw float32 error times the map's local slope (see onnx_export)
    ref = iso.predict(raw_ref)
    assert np.all(np.abs(cal - ref) <= 1e-12 + _max_slope(iso) * np.abs(raw - raw_ref) + 1e-15)
    for i in range(0, len(X), 151):
        assert m.predict_row(X[i]) == cal[i]


def test_calibrator_in_graph(nan_model):
    booster, iso = nan_model
    m = OnnxModel(export_lightgbm(booster, iso).SerializeToString())
    X = _rows(7)
    raw_ref = _native(booster, X)
    raw = m.predict_raw_batch(X)
    _check_calibrated(m, iso, X, raw, raw_ref)
    # a smooth map (slopes <= ~2) keeps the calibrated parity within 1e-5 end to end
    xs = np.linspace(0, 1, 11)
    smooth = (xs, 0.1 + 0.8 * xs**2)
    m2 = OnnxModel(export_lightgbm(booster, smooth).SerializeToString())
    assert np.max(np.abs(m2.predict_batch(X) - np.interp(raw_ref, *smooth))) < 1e-5


@pytest.mark.parametrize("cal", [
    (np.array([0.5]), np.array([0.3])),                        # a constant map
    (np.array([0.2, 0.2, 0.6, 0.9]), np.array([0.1, 0.3, 0.4, 0.95])),  # a repeated x (a step)
    (np.array([0.4, 0.6]), np.array([0.0, 1.0])),              # clipping on both sides
])
def test_calibrator_edge_maps(nan_model, cal):
    booster, _ = nan_model
    m = OnnxModel(export_lightgbm(booster, cal).SerializeToString())
    X = _rows(8, 2000)
    raw = m.predict_raw_batch(X)
    got = m.predict_batch(X)
    # away from a repeated x, the map is single-valued and must equal numpy.interp exactly
    x, y = cal
    away = np.all(np.abs(raw[:, None] - x[None, :]) > 1e-9, axis=1) if len(x) > 1 else np.ones(len(raw), bool)
    assert np.max(np.abs(got[away] - np.interp(raw[away], x, y))) < 1e-12
    assert np.all((got >= y.min() - 1e-12) & (got <= y.max() + 1e-12))


def test_batch_sizes_and_buffers(nan_model):
    booster, _ = nan_model
    m = OnnxModel(export_lightgbm(booster).SerializeToString(), max_batch=64, cached_batch_sizes=3)
    X = _rows(9, 64)
    ref = _native(booster, X)
    outs = []
    for n in (1, 7, 64, 3, 7, 50, 2, 64, 13):
        out = m.predict_batch(X[:n])
        outs.append(out)
        assert np.max(np.abs(out - ref[:n])) < 1e-5
    # returned arrays are copies: later calls do not overwrite them
    assert np.max(np.abs(outs[1] - ref[:7])) < 1e-5
    with pytest.raises(ValueError, match="batch must have 1..64 rows, got 65"):
        m.predict_batch(_rows(1, 65))
    with pytest.raises(ValueError, match="batch must have 1..64 rows, got 0"):
        m.predict_batch(np.zeros((0, N_FEATURES)))


def test_wrong_width(nan_model):
    booster, _ = nan_model
    m = OnnxModel(export_lightgbm(booster).SerializeToString())
    with pytest.raises(ValueError, match=r"row must have 20 features, got shape \(19,\)"):
        m.predict_row(np.zeros(19))
    with pytest.raises(ValueError, match=r"row must have 20 features, got shape \(2, 20\)"):
        m.predict_row(np.zeros((2, 20)))
    with pytest.raises(ValueError, match=r"batch must have shape \(n, 20\), got \(5, 21\)"):
        m.predict_batch(np.zeros((5, 21)))
    with pytest.raises(ValueError, match=r"batch must have shape \(n, 20\), got \(20,\)"):
        m.predict_batch(np.zeros(20))


def test_corrupt_and_truncated_files(nan_model, tmp_path):
    booster, _ = nan_model
    data = export_lightgbm(booster).SerializeToString()
    with pytest.raises(OnnxModelError, match="corrupt or truncated"):
        OnnxModel(data[: len(data) // 2])
    with pytest.raises(OnnxModelError, match="corrupt or truncated"):
        OnnxModel(b"\x08\x07garbage" * 100)
    flipped = bytearray(data)
    flipped[len(flipped) // 3: len(flipped) // 3 + 64] = b"\xff" * 64
    with pytest.raises(OnnxModelError):
        OnnxModel(bytes(flipped))
    with pytest.raises(OnnxModelError, match="is empty"):
        OnnxModel(b"")
    p = tmp_path / "m.onnx"
    p.write_bytes(data[:100])
    with pytest.raises(OnnxModelError, match=f"ONNX model {p} is corrupt"):
        OnnxModel(p)
    with pytest.raises(OnnxModelError, match="cannot read ONNX model"):
        OnnxModel(tmp_path / "missing.onnx")
    p.write_bytes(data)
    assert OnnxModel(str(p)).n_features == N_FEATURES


def test_export_refusals(nan_model):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    multi = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, rng.integers(0, 3, 300))
    with pytest.raises(OnnxExportError, match="binary"):
        export_lightgbm(multi)
    reg = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(X, rng.normal(size=300)), 3)
    with pytest.raises(OnnxExportError, match="objective 'regression'"):
        export_lightgbm(reg)
    with pytest.raises(OnnxExportError, match="lightgbm.Booster or LGBMClassifier"):
        export_lightgbm(object())
    booster, _ = nan_model
    with pytest.raises(OnnxExportError, match="non-decreasing"):
        export_lightgbm(booster, (np.array([0.5, 0.2]), np.array([0.1, 0.2])))
    with pytest.raises(OnnxExportError, match="finite"):
        export_lightgbm(booster, (np.array([0.1, np.nan]), np.array([0.1, 0.2])))
    with pytest.raises(OnnxExportError, match="same length|one length"):
        export_lightgbm(booster, (np.array([0.1, 0.2]), np.array([0.1])))


def test_perf_stages_shape():
    st = perf_stages(20)
    assert set(st) == {"inference.onnx.single_row", "calibration.isotonic"}
    for v in st.values():
        assert v["latency_ns"].shape == (20,) and v["throughput_per_s"] > 0


def test_regime_calibrator_in_graph():
    """bot.ml.calibration.RegimeCalibrator (isotonic per realized-vol tercile + global) as
    ONNX: same regimes and maps as the native transform on the same float32 rows."""
    from engine.feature_layout import INDEX, N_FEATURES as LAYOUT_WIDTH
    from bot.ml.calibration import REGIME_FEATURE, RegimeCalibrator

    rng = np.random.default_rng(11)
    n = 6000
    X = rng.normal(size=(n, LAYOUT_WIDTH))
    col = INDEX[REGIME_FEATURE]
    X[:, col] = np.abs(X[:, col]) * 0.01
    X[rng.random(X.shape) < 0.05] = np.nan
    X[:5, col] = [np.inf, -np.inf, np.nan, 0.0, 1.0]
    y = (np.nan_to_num(X[:, 0]) + rng.normal(size=n) > 0).astype(int)
    booster = lgb.train(PARAMS, lgb.Dataset(X, y), 30)
    X32 = X.astype(np.float32).astype(np.float64)
    p_in = booster.predict(X32)
    cal = RegimeCalibrator(min_rows=300).fit(p_in, y, X32)
    assert set(cal.maps) == {0, 1, 2}
    m = OnnxModel(export_lightgbm(booster, cal).SerializeToString(), max_batch=n)
    raw = m.predict_raw_batch(X)
    got = m.predict_batch(X)
    # on the probability the graph computed, the graph is exactly the native transform
    assert np.max(np.abs(got - cal.transform(raw, X32))) < 1e-12
    # end to end within raw error x steepest slope of any map
    slope = max(_max_slope(f) for f in [cal.global_map, *cal.maps.values()])
    ref = cal.transform(booster.predict(X32), X32)
    assert np.all(np.abs(got - ref) <= 1e-12 + slope * np.abs(raw - booster.predict(X32)))
    # a calibrator missing a regime falls back to the global map there
    del cal.maps[1]
    m2 = OnnxModel(export_lightgbm(booster, cal).SerializeToString(), max_batch=n)
    assert np.max(np.abs(m2.predict_batch(X) - cal.transform(m2.predict_raw_batch(X), X32))) < 1e-12
    with pytest.raises(OnnxExportError, match="has only 10 features"):
        export_lightgbm(lgb.train(PARAMS, lgb.Dataset(X[:, :10], y), 3), cal)


def test_registry_serves_fallback_model_when_active_is_corrupt(nan_model, tmp_path):
    from bot.ml.inference import load_serving
    from bot.ml.registry import Registry

    booster, iso = nan_model
    old = export_lightgbm(booster).SerializeToString()
    new = export_lightgbm(booster, iso).SerializeToString()
    meta = {"features_layout_version": 1, "training_data_hash": "00" * 32}
    with Registry(tmp_path / "reg") as reg:
        a = reg.register(old, meta)
        b = reg.register(new, meta)
        reg.promote(a.sha256, "active")
        reg.promote(b.sha256, "active")
        entry, m = load_serving(reg)
        assert entry.sha256 == b.sha256 and m.calibrated
        blob = reg.root / b.path
        blob.write_bytes(new[:-10])  # truncated on disk
        entry, m = load_serving(reg)
        assert entry.sha256 == a.sha256 and not m.calibrated
        X = _rows(12, 50)
        assert np.max(np.abs(m.predict_batch(X) - _native(booster, X))) < 1e-5
