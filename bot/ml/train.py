"""Training pipeline: purged walk-forward CV, out-of-fold calibration, final fit, model files.

``cross_validate`` fits a fresh model per walk-forward fold (bot.ml.cv) and scores it on the
fold's test rows: AUC, log loss, Brier score, accuracy, and a one-unit strategy that goes
long when p > 0.5 and short otherwise, earning the row's label return (``Dataset.ret``).
Calibration is evaluated walk-forward as well: the calibrator for fold k is fitted on the
out-of-fold predictions of folds before k only, so its Brier score is out of sample too.

``leakage_sentinel`` runs the same pipeline after permuting the (label, return) pairs across
rows. Permuted labels are independent of the features, so any pipeline that does not leak
has out-of-sample AUC distributed as the Mann-Whitney null: mean 0.5, standard deviation
sqrt((n0 + n1 + 1) / (12 n0 n1)) over the n0 + n1 test rows (about 0.0058 for 10,000 balanced
rows, 0.0105 for 3,000). The AUC tolerance 0.03 is therefore at least 3 standard deviations
above 3,000 balanced test rows (the sentinel refuses fewer). The strategy returns pos * ret
with pos independent of the permuted ret (which is exchangeable), so the per-row Sharpe ratio
has standard deviation about 1/sqrt(n) (Lo 2002, at Sharpe 0); the tolerance is 4/sqrt(n).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.feature_layout import LAYOUT_VERSION, NAMES, describe
from bot.ml.calibration import (RegimeCalibrator, brier, expected_calibration_error,
                                reliability_table)
from bot.ml.cv import purged_splits
from bot.ml.dataset import Dataset, label_problem
from bot.ml.models import BLENDS, DEFAULT_IGNORE, MODEL_KINDS, make_model, model_from_dict

BUNDLE_FORMAT = "bot4-model/1"
SENTINEL_AUC_TOL = 0.03
SENTINEL_MIN_TEST_ROWS = 3000


@dataclass(frozen=True)
class TrainConfig:
    n_splits: int = 5
    embargo_ns: int = 1_000_000_000
    purge: bool = True
    kind: str = "lgbm"          # lgbm | logistic | stack
    blend: str = "stacking"     # for kind=stack: stacking | average | vote
    rounds: int = 100
    seed: int = 7
    num_threads: int = 1
    calib_min_rows: int = 500     # fewest rows for a regime's own isotonic map
    ignore: tuple = DEFAULT_IGNORE  # feature names the models do not use (bot.ml.models)

    def __post_init__(self):
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"kind must be one of {', '.join(MODEL_KINDS)}, got {self.kind!r}")
        if self.blend not in BLENDS:
            raise ValueError(f"blend must be one of {', '.join(BLENDS)}, got {self.blend!r}")
        for k in ("n_splits", "rounds", "num_threads", "calib_min_rows"):
            if getattr(self, k) < 1:
                raise ValueError(f"TrainConfig.{k} must be >= 1, got {getattr(self, k)}")
        if self.embargo_ns < 0:
            raise ValueError(f"TrainConfig.embargo_ns must be >= 0, got {self.embargo_ns}")

    def model(self):
        return make_model(self.kind, rounds=self.rounds, seed=self.seed, blend=self.blend,
                          embargo_ns=self.embargo_ns, num_threads=self.num_threads, ignore=self.ignore)


def metrics(p, y) -> dict:
    """AUC, log loss, Brier score and accuracy (threshold 0.5) of probabilities p on labels y."""
    from sklearn.metrics import roc_auc_score

    p, y = np.asarray(p, dtype=np.float64), np.asarray(y)
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    both = len(np.unique(y)) == 2
    return {"rows": int(len(y)),
            "auc": float(roc_auc_score(y, p)) if both else None,
            "log_loss": float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))),
            "brier": brier(p, y),
            "accuracy": float(np.mean((p > 0.5) == (y == 1)))}


def strategy_sharpe(p, ret) -> dict:
    """Per-row Sharpe (mean / std) of pos * ret with pos = +1 if p > 0.5 else -1."""
    pnl = np.where(np.asarray(p) > 0.5, 1.0, -1.0) * np.asarray(ret, dtype=np.float64)
    sd = float(pnl.std())
    sr = float(pnl.mean() / sd) if sd > 0 else 0.0
    return {"rows": int(len(pnl)), "sharpe_per_row": sr, "t_stat": sr * math.sqrt(len(pnl)),
            "mean_log_return": float(pnl.mean())}


@dataclass
class CvResult:
    folds: list = field(default_factory=list)     # per-fold dicts
    rows: np.ndarray = None                       # test rows, ascending
    oof: np.ndarray = None                        # raw out-of-fold probability per test row
    fold_of: np.ndarray = None                    # fold number of each test row
    overall: dict = None
    strategy: dict = None
    calibration: dict = None


def cross_validate(ds: Dataset, cfg: TrainConfig, progress=None) -> CvResult:
    """Walk-forward purged CV of cfg.model() on ds (module docstring). `progress(k)` is called
    after each fold."""
    folds = purged_splits(ds.t0, ds.t1, cfg.n_splits, cfg.embargo_ns, mode="walk_forward", purge=cfg.purge)
    res = CvResult()
    rows, oof, fold_of = [], [], []
    for k, f in enumerate(folds):
        tr = ds.take(f.train)
        te = ds.take(f.test)
        model = cfg.model().fit(tr.X, tr.y, tr.t0, tr.t1)
        p = model.predict_proba(te.X)
        m = metrics(p, te.y)
        m.update(fold=k, train_rows=int(len(f.train)), purged=f.purged, embargoed=f.embargoed,
                 test_start_ns=f.test_start, test_end_ns=f.test_end,
                 strategy_sharpe_per_row=strategy_sharpe(p, te.ret)["sharpe_per_row"])
        res.folds.append(m)
        rows.append(f.test)
        oof.append(p)
        fold_of.append(np.full(len(f.test), k))
        if progress:
            progress(k)
    res.rows, res.oof, res.fold_of = np.concatenate(rows), np.concatenate(oof), np.concatenate(fold_of)
    y = ds.y[res.rows]
    res.overall = metrics(res.oof, y)
    res.strategy = strategy_sharpe(res.oof, ds.ret[res.rows])
    res.calibration = walk_forward_calibration(ds, res, cfg.calib_min_rows)
    return res


def walk_forward_calibration(ds: Dataset, res: CvResult, min_rows: int) -> dict:
    """Brier score and reliability before and after calibration, on folds 1.. where each fold's
    calibrator was fitted on the out-of-fold predictions of the earlier folds only."""
    raw, cal, ys = [], [], []
    for k in range(1, len(res.folds)):
        past, now = res.fold_of < k, res.fold_of == k
        yp = ds.y[res.rows[past]]
        if len(np.unique(yp)) < 2:
            continue
        c = RegimeCalibrator(min_rows).fit(res.oof[past], yp, ds.X[res.rows[past]])
        raw.append(res.oof[now])
        cal.append(c.transform(res.oof[now], ds.X[res.rows[now]]))
        ys.append(ds.y[res.rows[now]])
    if not raw:
        return {"rows": 0}
    raw, cal, ys = np.concatenate(raw), np.concatenate(cal), np.concatenate(ys)
    return {"rows": int(len(ys)), "brier_raw": brier(raw, ys), "brier_calibrated": brier(cal, ys),
            "ece_raw": expected_calibration_error(raw, ys), "ece_calibrated": expected_calibration_error(cal, ys),
            "reliability_raw": reliability_table(raw, ys), "reliability_calibrated": reliability_table(cal, ys)}


def leakage_sentinel(ds: Dataset, cfg: TrainConfig, seed: int = 12345) -> dict:
    """The CV of `cfg` on `ds` with (label, return) pairs permuted across rows; see the module
    docstring for the tolerances. Returns the AUC, Sharpe, tolerances and ``passed``."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(ds))
    shuffled = Dataset(X=ds.X, y=ds.y[perm], t0=ds.t0, t1=ds.t1, ret=ds.ret[perm], segment=ds.segment,
                       meta={**ds.meta, "shuffled_labels_seed": seed})
    res = cross_validate(shuffled, cfg)
    y = shuffled.y[res.rows]
    n1 = int(y.sum())
    n0 = len(y) - n1
    if len(y) < SENTINEL_MIN_TEST_ROWS:
        raise ValueError(f"the sentinel needs at least {SENTINEL_MIN_TEST_ROWS} test rows for its "
                         f"tolerance to mean something, got {len(y)}")
    auc = res.overall["auc"]
    sr = res.strategy["sharpe_per_row"]
    sharpe_tol = 4.0 / math.sqrt(len(y))
    return {"test_rows": int(len(y)), "auc": auc, "auc_null_sd": math.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1)),
            "auc_tolerance": SENTINEL_AUC_TOL, "sharpe_per_row": sr, "sharpe_tolerance": sharpe_tol,
            "passed": bool(abs(auc - 0.5) <= SENTINEL_AUC_TOL and abs(sr) <= sharpe_tol)}


def library_versions() -> dict:
    import lightgbm
    import sklearn

    return {"python": platform.python_version(), "numpy": np.__version__, "lightgbm": lightgbm.__version__,
            "scikit-learn": sklearn.__version__}


class TrainedModel:
    """A model plus its calibrator, read from a bundle: predict_proba gives calibrated p."""

    def __init__(self, model, calibrator: RegimeCalibrator, meta: dict):
        self.model, self.calibrator, self.meta = model, calibrator, meta

    def predict_raw(self, X) -> np.ndarray:
        return self.model.predict_proba(X)

    def predict_proba(self, X) -> np.ndarray:
        return self.calibrator.transform(self.model.predict_proba(X), X)


def load_bundle(path) -> TrainedModel:
    """Read a model.json written by `train`; refuses another format or feature layout."""
    d = json.loads(Path(path).read_text())
    if d.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"{path}: format {d.get('format')!r} is not {BUNDLE_FORMAT!r}")
    if d["layout"]["version"] != LAYOUT_VERSION or d["layout"]["names"] != list(NAMES):
        raise ValueError(f"{path}: feature layout v{d['layout']['version']} does not match this build's "
                         f"v{LAYOUT_VERSION}")
    return TrainedModel(model_from_dict(d["model"]), RegimeCalibrator.from_dict(d["calibrator"]), d["meta"])


def _export_onnx(model, calibrator, X, path, check_rows: int = 2000) -> dict | None:
    """Write the LightGBM model with its calibrator as ONNX (bot.ml.onnx_export) and return the
    largest differences from the native model on up to `check_rows` training rows (the ONNX
    trees read float32, so the native side gets the same float32-rounded rows); None when the
    exporter is not in this build."""
    try:
        from bot.ml.onnx_export import export_lightgbm, save_onnx
    except ImportError:
        return None
    import onnxruntime as ort

    data = save_onnx(export_lightgbm(model, calibrator), os.fspath(path))
    rows = np.asarray(X[:check_rows], dtype=np.float32)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: rows})))
    x64 = rows.astype(np.float64)
    raw = model.predict_proba(x64)
    return {"rows": int(len(rows)),
            "raw_max_abs_diff": float(np.abs(got["probabilities"][:, 1] - raw).max()),
            "calibrated_max_abs_diff": float(np.abs(got["calibrated"] - calibrator.transform(raw, x64)).max())}


def train(ds: Dataset, cfg: TrainConfig, out_dir, progress=None, sentinel: bool = False) -> dict:
    """CV, calibration on all out-of-fold predictions, final fit on every row, and files in
    out_dir: model.json (bundle: model, calibrator, metadata), for kind lgbm also model.txt
    (the LightGBM text model) and model.onnx (trees + calibrator, what the registry serves),
    and report.json. Returns the report. A dataset that cannot train a classifier
    (bot.ml.dataset.label_problem) is a ValueError before anything is fitted; out_dir is
    created only once cross-validation has succeeded."""
    problem = label_problem(ds)
    if problem:
        raise ValueError(problem)
    out = Path(out_dir)
    cv = cross_validate(ds, cfg, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    yo = ds.y[cv.rows]
    calibrator = RegimeCalibrator(cfg.calib_min_rows).fit(cv.oof, yo, ds.X[cv.rows])
    model = cfg.model().fit(ds.X, ds.y, ds.t0, ds.t1)
    if progress:
        progress(len(cv.folds))
    meta = {"layout_version": LAYOUT_VERSION, "feature_names": list(NAMES), "data_sha256": ds.sha256(),
            "data": {k: v for k, v in ds.meta.items() if k != "segments"}, "rows": int(len(ds)),
            "libraries": library_versions(), "config": asdict(cfg),
            "metrics": {"cv": cv.overall, "strategy": cv.strategy,
                        "calibration": {k: v for k, v in cv.calibration.items() if not k.startswith("reliability")}}}
    bundle = {"format": BUNDLE_FORMAT, "layout": describe(), "model": model.to_dict(),
              "calibrator": calibrator.to_dict(), "meta": meta}
    (out / "model.json").write_text(json.dumps(bundle))
    files = {"bundle": str(out / "model.json")}
    onnx_parity = None
    if cfg.kind == "lgbm":
        model.booster.save_model(os.fspath(out / "model.txt"))
        files["lightgbm"] = str(out / "model.txt")
        onnx_parity = _export_onnx(model, calibrator, ds.X, out / "model.onnx")
        if onnx_parity is not None:
            files["onnx"] = str(out / "model.onnx")
    report = {**meta, "folds": cv.folds, "calibration": cv.calibration, "files": files,
              "bundle_sha256": hashlib.sha256((out / "model.json").read_bytes()).hexdigest()}
    if onnx_parity is not None:
        report["onnx_parity"] = onnx_parity
    if sentinel:
        report["sentinel"] = leakage_sentinel(ds, cfg)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
