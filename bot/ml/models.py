"""Classifiers over the feature vector: LightGBM, logistic regression, and a stacking ensemble.

Every model has ``fit(X, y, t0=None, t1=None) -> self`` and ``predict_proba(X) -> p`` (the
probability of class 1, 1-D float64), and serializes to plain data (``to_dict``) that
``model_from_dict`` restores with identical predictions.

The ensemble's combiner (the meta-learner of ``stacking``, the weights of ``average``)
is fitted ONLY on out-of-fold predictions of the base models: inside the training set, a
purged k-fold by time (bot.ml.cv, with the rows' label windows) fits fresh base models on
the other folds and predicts the held-out fold, so every value the combiner sees comes from
a model that never trained on that row. The base models are then refitted on the whole
training set for prediction. Blend modes:
- ``stacking``: logistic regression on the base models' log-odds;
- ``average``: weighted average of the base probabilities, weights proportional to each
  model's out-of-fold AUC above 0.5 (equal weights if none is above), or given;
- ``vote``: the fraction of base models whose probability is above 0.5 (soft majority).
"""

from __future__ import annotations

import warnings

import numpy as np

LGBM_DEFAULTS = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 50,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "verbose": -1,
}


# Absolute price levels (ticks) are not stationary: a split on them learns the level of the
# training period, not the market's behaviour. Models ignore them by default.
DEFAULT_IGNORE = ("mid", "microprice")


def _ignore_index(ignore) -> tuple[int, ...]:
    from engine.feature_layout import INDEX

    bad = [n for n in ignore if n not in INDEX]
    if bad:
        raise ValueError(f"ignored feature(s) {bad} are not in the feature layout")
    return tuple(sorted(INDEX[n] for n in ignore))


def _masked(X, cols) -> np.ndarray:
    """X with the ignored columns set to NaN (missing): LightGBM never splits on an all-missing
    column and the logistic model imputes it with a constant, so they carry no weight."""
    if not cols:
        return X
    X = np.array(X, dtype=np.float64, copy=True)
    X[:, list(cols)] = np.nan
    return X


def _check_xy(X, y=None):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    if y is None:
        return X
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"y must hold only 0 and 1, got values {np.unique(y)[:5].tolist()}")
    if len(np.unique(y)) < 2:
        raise ValueError("y holds one class only; a classifier needs both")
    return X, y.astype(np.int8)


class LgbmModel:
    """LightGBM binary classifier, deterministic (fixed seed, deterministic=True, force_row_wise,
    `num_threads` threads): the same data and parameters give the same model bit for bit."""

    kind = "lgbm"

    def __init__(self, rounds: int = 100, seed: int = 7, num_threads: int = 1, params: dict | None = None,
                 ignore=DEFAULT_IGNORE):
        if rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {rounds}")
        self.rounds, self.seed, self.num_threads = int(rounds), int(seed), int(num_threads)
        self.ignore = tuple(ignore)
        self._cols = _ignore_index(self.ignore)
        self.params = {**LGBM_DEFAULTS, **(params or {})}
        self.booster = None

    def _full_params(self) -> dict:
        return {**self.params, "seed": self.seed, "deterministic": True, "force_row_wise": True,
                "num_threads": self.num_threads}

    def fit(self, X, y, t0=None, t1=None):
        import lightgbm as lgb

        X, y = _check_xy(X, y)
        ds = lgb.Dataset(_masked(X, self._cols), label=y, free_raw_data=True)
        self.booster = lgb.train(self._full_params(), ds, num_boost_round=self.rounds)
        return self

    def predict_proba(self, X) -> np.ndarray:
        if self.booster is None:
            raise RuntimeError("LgbmModel.predict_proba before fit")
        X = _masked(_check_xy(X), self._cols)
        return np.asarray(self.booster.predict(X, num_threads=self.num_threads), dtype=np.float64)

    def model_text(self) -> str:
        return self.booster.model_to_string()

    def to_dict(self) -> dict:
        return {"kind": self.kind, "rounds": self.rounds, "seed": self.seed, "num_threads": self.num_threads,
                "params": self.params, "ignore": list(self.ignore), "model": self.model_text()}

    @classmethod
    def from_dict(cls, d: dict) -> LgbmModel:
        import lightgbm as lgb

        m = cls(d["rounds"], d["seed"], d["num_threads"], d["params"], d["ignore"])
        m.booster = lgb.Booster(model_str=d["model"])
        return m


class LogisticModel:
    """Logistic regression on median-imputed, standardized features (non-finite values count
    as missing). Prediction is plain numpy over the fitted medians, scales and coefficients."""

    kind = "logistic"

    def __init__(self, C: float = 1.0, ignore=DEFAULT_IGNORE):
        self.C = float(C)
        self.ignore = tuple(ignore)
        self._cols = _ignore_index(self.ignore)
        self.median = self.mean = self.scale = self.coef = None
        self.intercept = 0.0

    def _prep(self, X) -> np.ndarray:
        X = np.where(np.isfinite(X), X, np.nan)
        X = np.where(np.isnan(X), self.median, X)
        return (X - self.mean) / self.scale

    def fit(self, X, y, t0=None, t1=None):
        from sklearn.linear_model import LogisticRegression

        X, y = _check_xy(X, y)
        X = _masked(X, self._cols)
        Xf = np.where(np.isfinite(X), X, np.nan)
        with warnings.catch_warnings():  # an all-missing (ignored) column has no median: 0
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(Xf, axis=0)
        self.median = np.where(np.isfinite(med), med, 0.0)
        Xi = np.where(np.isnan(Xf), self.median, Xf)
        self.mean = Xi.mean(axis=0)
        sd = Xi.std(axis=0)
        self.scale = np.where(sd > 0, sd, 1.0)
        lr = LogisticRegression(C=self.C, max_iter=2000)
        lr.fit((Xi - self.mean) / self.scale, y)
        self.coef, self.intercept = lr.coef_[0].astype(np.float64), float(lr.intercept_[0])
        return self

    def predict_proba(self, X) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("LogisticModel.predict_proba before fit")
        z = self._prep(_masked(_check_xy(X), self._cols)) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "C": self.C, "ignore": list(self.ignore), "median": self.median.tolist(), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: dict) -> LogisticModel:
        m = cls(d["C"], d["ignore"])
        m.median, m.mean, m.scale, m.coef = (np.asarray(d[k], dtype=np.float64)
                                             for k in ("median", "mean", "scale", "coef"))
        m.intercept = float(d["intercept"])
        return m


BLENDS = ("stacking", "average", "vote")
_EPS = 1e-6


def _logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class StackingEnsemble:
    """Base models combined by a blend fitted on out-of-fold predictions (module docstring).

    `base` is a list of zero-argument factories returning unfitted models; `inner_splits`
    and `embargo_ns` set the purged k-fold that produces the out-of-fold predictions."""

    kind = "stack"

    def __init__(self, base=None, blend: str = "stacking", weights=None, inner_splits: int = 4,
                 embargo_ns: int = 0, seed: int = 7):
        if blend not in BLENDS:
            raise ValueError(f"blend must be one of {', '.join(BLENDS)}, got {blend!r}")
        self.base_factories = base or [lambda: LgbmModel(seed=seed), LogisticModel]
        if len(self.base_factories) < 2:
            raise ValueError(f"an ensemble needs at least 2 base models, got {len(self.base_factories)}")
        self.blend, self.inner_splits, self.embargo_ns = blend, int(inner_splits), int(embargo_ns)
        self.given_weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        if self.given_weights is not None and (self.given_weights.shape != (len(self.base_factories),)
                                               or np.any(self.given_weights < 0) or self.given_weights.sum() <= 0):
            raise ValueError(f"weights must be {len(self.base_factories)} non-negative numbers with a positive sum, "
                             f"got {weights!r}")
        self.models = []
        self.oof_ = None        # [n_train, n_base] out-of-fold base predictions the blend was fitted on
        self.oof_rows_ = None   # the training rows those predictions belong to
        self.weights = None
        self.meta = None        # LogisticModel over the base log-odds (stacking)

    def out_of_fold(self, X, y, t0, t1):
        """(rows, P): P[:, m] is base model m's prediction for training row rows[i], made by a
        model fitted on the other folds with the purge and embargo (never on that row)."""
        from bot.ml.cv import purged_splits

        folds = purged_splits(t0, t1, self.inner_splits, self.embargo_ns, mode="kfold")
        rows = np.concatenate([f.test for f in folds])
        P = np.empty((len(rows), len(self.base_factories)))
        at = 0
        for f in folds:
            for m, make in enumerate(self.base_factories):
                model = make().fit(X[f.train], y[f.train])
                P[at:at + len(f.test), m] = model.predict_proba(X[f.test])
            at += len(f.test)
        order = np.argsort(rows, kind="stable")
        return rows[order], P[order]

    def fit_blend(self, P, y):
        """Fit the combiner on base predictions P [n, n_base] (out-of-fold by contract)."""
        from sklearn.metrics import roc_auc_score

        P = np.asarray(P, dtype=np.float64)
        if self.blend == "stacking":
            self.meta = LogisticModel(C=1.0, ignore=()).fit(_logit(P), y)
        elif self.blend == "average":
            if self.given_weights is not None:
                w = self.given_weights
            else:
                w = np.array([max(roc_auc_score(y, P[:, m]) - 0.5, 0.0) for m in range(P.shape[1])])
                if w.sum() <= 0:
                    w = np.ones(P.shape[1])
            self.weights = w / w.sum()
        return self

    def fit(self, X, y, t0=None, t1=None):
        X, y = _check_xy(X, y)
        if t0 is None or t1 is None:
            raise ValueError("StackingEnsemble.fit needs the rows' label windows t0 and t1 for its purged inner folds")
        rows, P = self.out_of_fold(X, y, t0, t1)
        self.oof_rows_, self.oof_ = rows, P
        self.fit_blend(P, y[rows])
        self.models = [make().fit(X, y) for make in self.base_factories]
        return self

    def combine(self, P) -> np.ndarray:
        if self.blend == "stacking":
            return self.meta.predict_proba(_logit(P))
        if self.blend == "average":
            return P @ self.weights
        return (P > 0.5).mean(axis=1)

    def base_predictions(self, X) -> np.ndarray:
        X = _check_xy(X)
        return np.column_stack([m.predict_proba(X) for m in self.models])

    def predict_proba(self, X) -> np.ndarray:
        if not self.models:
            raise RuntimeError("StackingEnsemble.predict_proba before fit")
        return self.combine(self.base_predictions(X))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "blend": self.blend, "inner_splits": self.inner_splits,
                "embargo_ns": self.embargo_ns, "models": [m.to_dict() for m in self.models],
                "weights": None if self.weights is None else self.weights.tolist(),
                "meta": None if self.meta is None else self.meta.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> StackingEnsemble:
        e = cls(base=[None] * len(d["models"]), blend=d["blend"], inner_splits=d["inner_splits"],
                embargo_ns=d["embargo_ns"])
        e.models = [model_from_dict(m) for m in d["models"]]
        e.weights = None if d["weights"] is None else np.asarray(d["weights"])
        e.meta = None if d["meta"] is None else LogisticModel.from_dict(d["meta"])
        return e


MODEL_KINDS = {"lgbm": LgbmModel, "logistic": LogisticModel, "stack": StackingEnsemble}


def model_from_dict(d: dict):
    kind = d.get("kind")
    if kind not in MODEL_KINDS:
        raise ValueError(f"model kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    return MODEL_KINDS[kind].from_dict(d)


def make_model(kind: str, rounds: int = 100, seed: int = 7, blend: str = "stacking", embargo_ns: int = 0,
               num_threads: int = 1, ignore=DEFAULT_IGNORE):
    """A fresh model of `kind` (lgbm | logistic | stack); the ensemble's bases are LightGBM
    (same rounds and seed) and logistic regression."""
    if kind == "lgbm":
        return LgbmModel(rounds=rounds, seed=seed, num_threads=num_threads, ignore=ignore)
    if kind == "logistic":
        return LogisticModel(ignore=ignore)
    if kind == "stack":
        return StackingEnsemble(base=[lambda: LgbmModel(rounds=rounds, seed=seed, num_threads=num_threads, ignore=ignore),
                                      lambda: LogisticModel(ignore=ignore)],
                                blend=blend, embargo_ns=embargo_ns, seed=seed)
    raise ValueError(f"model kind must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
