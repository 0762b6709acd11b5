"""`bot4 train` and the training pipeline's files (bot.ml.train, bot.ml.commands)."""

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import main

SMALL = ["--events", "40000", "--rounds", "20", "--folds", "3", "--no-register"]


def _run(args):
    return CliRunner().invoke(main, ["train", *args], catch_exceptions=False)


def test_train_synthetic_prints_folds_and_writes_files(tmp_path):
    import lightgbm as lgb

    from engine.feature_layout import LAYOUT_VERSION
    from bot.ml.dataset import synthetic_dataset
    from bot.ml.train import load_bundle

    out = tmp_path / "m"
    r = _run(["--out", str(out), *SMALL])
    assert r.exit_code == 0, r.output
    fold_lines = [ln for ln in r.output.splitlines() if re.match(r"\s+\d+\s+\d+\s+\d+", ln)]
    assert len(fold_lines) == 3
    assert "auc" in r.output and "brier" in r.output and "not registered (--no-register)" in r.output
    report = json.loads((out / "report.json").read_text())
    assert [f["fold"] for f in report["folds"]] == [0, 1, 2]
    for f in report["folds"]:
        assert 0 <= f["auc"] <= 1 and f["log_loss"] > 0 and 0 <= f["brier"] <= 1 and 0 <= f["accuracy"] <= 1
        assert f"{f['auc']:.4f}" in r.output
    ds = synthetic_dataset(seed=7, events=40_000, horizon_ns=100_000_000)
    assert report["data_sha256"] == ds.sha256()
    assert report["layout_version"] == LAYOUT_VERSION
    assert set(report["libraries"]) >= {"lightgbm", "scikit-learn", "numpy"}
    assert report["calibration"]["rows"] > 0 and len(report["calibration"]["reliability_raw"]) == 10
    # the bundle predicts with the LightGBM text model it carries, then the calibrator
    bundle = load_bundle(out / "model.json")
    booster = lgb.Booster(model_file=str(out / "model.txt"))
    X = ds.X[:200].copy()
    X[:, [1, 2]] = np.nan  # the ignored level columns (mid, microprice) are masked
    np.testing.assert_allclose(bundle.predict_raw(ds.X[:200]), booster.predict(X), rtol=0, atol=1e-12)
    p = bundle.predict_proba(ds.X[:200])
    assert np.all((p >= 0) & (p <= 1))
    # deterministic: a second run writes the same model
    r2 = _run(["--out", str(tmp_path / "m2"), *SMALL])
    assert r2.exit_code == 0
    assert (tmp_path / "m2" / "model.txt").read_bytes() == (out / "model.txt").read_bytes()


def test_train_stack_triple_barrier_with_sentinel(tmp_path):
    r = _run(["--out", str(tmp_path), "--events", "100000", "--rounds", "15", "--folds", "3", "--model", "stack",
              "--blend", "average", "--label", "triple-barrier", "--horizon", "2s", "--no-register"])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["config"]["kind"] == "stack" and report["data"]["label"] == "triple_barrier"
    assert not (tmp_path / "model.txt").exists()  # only the LightGBM model kind writes a bare booster
    r = _run(["--out", str(tmp_path / "s"), "--events", "200000", "--rounds", "15", "--folds", "5",
              "--sentinel", "--no-register"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "s" / "report.json").read_text())["sentinel"]
    assert s["passed"] and "leakage sentinel (shuffled labels)" in r.output


def test_train_registers_the_onnx_model_the_registry_serves(tmp_path):
    args = ["--out", str(tmp_path / "m"), "--events", "40000", "--rounds", "10", "--folds", "3",
            "--registry", str(tmp_path / "reg")]
    r = _run(args)
    assert r.exit_code == 0, r.output
    try:
        from bot.ml.registry import Registry
    except ImportError:
        assert "not registered: bot.ml.registry is not available" in r.output
        return
    import hashlib

    from bot.ml.dataset import synthetic_dataset
    from bot.ml.inference import load_serving
    from bot.ml.train import load_bundle

    report = json.loads((tmp_path / "m" / "report.json").read_text())
    assert report["onnx_parity"]["raw_max_abs_diff"] < 1e-5
    sha = hashlib.sha256((tmp_path / "m" / "model.onnx").read_bytes()).hexdigest()
    assert f"registered {sha}" in r.output
    with Registry(tmp_path / "reg") as reg:
        e = reg.get(sha)
        assert e.state == "registered" and e.training_data_hash == report["data_sha256"]
        assert e.features_layout_version == report["layout_version"]
        assert e.meta["bundle_sha256"] == hashlib.sha256((tmp_path / "m" / "model.json").read_bytes()).hexdigest()
        reg.promote(sha, "active", reason="test")
        entry, served = load_serving(reg)
    assert entry.sha256 == sha
    # what the registry serves predicts what the bundle predicts (float32 rows, as ONNX reads them)
    X = synthetic_dataset(seed=11, events=20_000, horizon_ns=100_000_000).X[:300].astype(np.float32)
    native = load_bundle(tmp_path / "m" / "model.json").predict_raw(X.astype(np.float64))
    np.testing.assert_allclose(served.predict_raw_batch(X), native, rtol=0, atol=1e-5)
    # other model kinds have no ONNX export: said, not registered
    r = _run(["--out", str(tmp_path / "s"), "--events", "40000", "--rounds", "5", "--folds", "3",
              "--model", "logistic", "--registry", str(tmp_path / "reg")])
    assert r.exit_code == 0 and "not registered: the registry serves ONNX" in r.output


def test_train_on_a_features_parquet(tmp_path):
    from bot.data.synthetic import synthetic_market
    from bot.features.compute import write_feature_series

    ev, inst = synthetic_market(60_000, seed=5)
    path = tmp_path / "f.parquet"
    write_feature_series(path, ev, inst, interval_ns=100_000_000)
    r = _run([str(path), "--out", str(tmp_path / "m"), "--rounds", "10", "--folds", "3", "--no-register"])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "m" / "report.json").read_text())
    assert report["data"]["source"] == str(path)


def test_train_on_recorded_data(tmp_path, shared_data):
    files = sorted(str(p) for p in (shared_data / "binance" / "spot").glob("*.gz"))
    r = _run([*files, "--out", str(tmp_path), "--rounds", "20", "--horizon", "1s", "--no-register"])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["data"]["symbol"] and report["metrics"]["cv"]["rows"] > 1000
    assert report["metrics"]["cv"]["auc"] > 0.5


@pytest.mark.parametrize("args, msg", [
    (["--interval", "fast"], "--interval"),
    (["--horizon", "-1s"], "--horizon"),
    (["--label", "triple-barrier", "--horizon-samples", "3"], "--horizon-samples applies to --label sign"),
    (["--folds", "1"], "--folds"),
    (["--regimes", "moon"], "regime must be one of"),
])
def test_train_bad_arguments(tmp_path, args, msg):
    r = _run(["--out", str(tmp_path), "--events", "5000", "--no-register", *args])
    assert r.exit_code != 0
    assert msg in r.output


def test_train_horizon_in_events(tmp_path):
    """--every N samples every N event rows; --horizon-samples K then labels K*N events ahead."""
    r = _run(["--out", str(tmp_path), "--events", "40000", "--every", "50", "--horizon-samples", "2",
              "--rounds", "10", "--folds", "3", "--no-register"])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "report.json").read_text())["data"]
    assert data["horizon_samples"] == 2 and data["horizon_ns"] == 0
    assert data["samples"] >= 3 * 40_000 // 50 * 0.9  # about one sample per 50 rows, 3 regimes
    assert data["rows"] + data["dropped"] == data["samples"]
