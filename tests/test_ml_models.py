"""Models (bot.ml.models): determinism, round trips, references, and the stacking contract
that the combiner sees out-of-fold predictions only."""

import json

import numpy as np
import pytest

from engine.feature_layout import INDEX, N_FEATURES
from bot.ml.models import (LgbmModel, LogisticModel, StackingEnsemble, make_model, model_from_dict)


def _data(n=3000, seed=0):
    """Rows in time order with a signal in two columns; unit label windows [t, t + 2]."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    X[rng.random((n, N_FEATURES)) < 0.02] = np.nan
    z = 1.2 * np.nan_to_num(X[:, INDEX["imbalance_1"]]) - 0.8 * np.nan_to_num(X[:, INDEX["ofi_1"]])
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int8)
    t0 = np.arange(n, dtype=np.int64) * 10
    return X, y, t0, t0 + 20


def test_lgbm_is_deterministic_and_round_trips():
    X, y, _, _ = _data()
    a = LgbmModel(rounds=30, seed=3).fit(X, y)
    b = LgbmModel(rounds=30, seed=3).fit(X, y)
    assert a.model_text() == b.model_text()
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = model_from_dict(json.loads(json.dumps(a.to_dict())))
    np.testing.assert_array_equal(c.predict_proba(X), a.predict_proba(X))


def test_ignored_columns_do_not_change_predictions():
    X, y, _, _ = _data()
    X2 = X.copy()
    X2[:, INDEX["mid"]] = np.arange(len(X)) * 1e6
    X2[:, INDEX["microprice"]] = -7.0
    for kind in ("lgbm", "logistic"):
        m = make_model(kind, rounds=20).fit(X, y)
        np.testing.assert_array_equal(m.predict_proba(X2), m.predict_proba(X))
        assert m.predict_proba(X).std() > 0.01
        if kind == "lgbm":  # the trees never reference an ignored column: the bare booster
            # (what the ONNX export converts) gives the same numbers on the unmasked vector
            np.testing.assert_array_equal(m.booster.predict(X2), m.predict_proba(X))
    with pytest.raises(ValueError, match="not in the feature layout"):
        LgbmModel(ignore=("price",))


def test_logistic_matches_sklearn_pipeline():
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, _, _ = _data()
    m = LogisticModel(ignore=()).fit(X, y)
    ref = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=2000))
    ref.fit(X, y)
    np.testing.assert_allclose(m.predict_proba(X), ref.predict_proba(X)[:, 1], atol=1e-6)
    r = model_from_dict(json.loads(json.dumps(m.to_dict())))
    np.testing.assert_array_equal(r.predict_proba(X), m.predict_proba(X))


def test_models_learn_the_signal_out_of_sample():
    from sklearn.metrics import roc_auc_score

    X, y, t0, t1 = _data(4000)
    Xt, yt, _, _ = _data(2000, seed=1)
    for kind in ("lgbm", "logistic", "stack"):
        m = make_model(kind, rounds=30).fit(X, y, t0, t1)
        assert roc_auc_score(yt, m.predict_proba(Xt)) > 0.7, kind


class Memorizer:
    """A poisoned base model: the true label for rows it was fitted on, 0.5 for any other.
    In-fold its predictions are perfect; out of fold they carry no information."""

    kind = "memorizer"

    def fit(self, X, y, t0=None, t1=None):
        self.seen = {row.tobytes(): float(label) for row, label in zip(np.asarray(X), y)}
        return self

    def predict_proba(self, X):
        return np.array([self.seen.get(row.tobytes(), 0.5) for row in np.asarray(X)])


def test_blend_sees_only_out_of_fold_predictions():
    X, y, t0, t1 = _data(2000)
    ens = StackingEnsemble(base=[lambda: LgbmModel(rounds=20), Memorizer], blend="stacking", embargo_ns=30)
    ens.fit(X, y, t0, t1)
    # every training row got exactly one out-of-fold prediction ...
    assert ens.oof_rows_.tolist() == list(range(len(y)))
    # ... from models that never saw it: the memorizer's column is its "unseen" value everywhere
    assert np.all(ens.oof_[:, 1] == 0.5)
    # so the meta-learner gives the poisoned model no weight at all
    assert ens.meta.coef[1] == 0.0
    assert ens.meta.coef[0] > 0.1
    # contrast: fitted on in-fold predictions, the combiner would trust the memorizer fully
    in_fold = np.column_stack([m.predict_proba(X) for m in ens.models])
    poisoned = StackingEnsemble(base=[lambda: LgbmModel(rounds=20), Memorizer]).fit_blend(in_fold, y)
    assert poisoned.meta.coef[1] > 5 * abs(poisoned.meta.coef[0])


def test_out_of_fold_rows_respect_purge_and_embargo():
    """Each out-of-fold prediction comes from base models fitted without the purged rows:
    record what every base model was fitted on and check it against the inner folds."""
    from bot.ml.cv import purged_splits

    X, y, t0, t1 = _data(1200)
    X[:, 0] = np.arange(len(X))  # row id, so fitted rows can be recorded
    fitted = []

    class Recorder(LogisticModel):
        def fit(self, X, y, t0=None, t1=None):
            fitted.append(np.asarray(X[:, 0], dtype=np.int64))
            return super().fit(X, y)

    ens = StackingEnsemble(base=[lambda: Recorder(ignore=()), lambda: LogisticModel(ignore=())],
                           inner_splits=4, embargo_ns=50).fit(X, y, t0, t1)
    folds = purged_splits(t0, t1, 4, 50, mode="kfold")
    assert len(fitted) == len(folds) + 1  # one fit per inner fold, then the final refit on all rows
    for f, rows in zip(folds, fitted):
        np.testing.assert_array_equal(rows, f.train)
        assert not np.any((t0[rows] <= f.test_end) & (t1[rows] >= f.test_start))
    np.testing.assert_array_equal(fitted[-1], np.arange(len(X)))
    assert ens.oof_.shape == (len(X), 2)


def test_blend_modes():
    X, y, t0, t1 = _data(2000)
    avg = make_model("stack", rounds=20, blend="average").fit(X, y, t0, t1)
    assert avg.weights.sum() == pytest.approx(1.0) and np.all(avg.weights >= 0)
    P = avg.base_predictions(X[:50])
    np.testing.assert_allclose(avg.predict_proba(X[:50]), P @ avg.weights)
    vote = make_model("stack", rounds=20, blend="vote").fit(X, y, t0, t1)
    Pv = vote.base_predictions(X[:200])
    np.testing.assert_array_equal(vote.predict_proba(X[:200]), (Pv > 0.5).sum(axis=1) / 2)
    fixed = StackingEnsemble(base=[lambda: LgbmModel(rounds=10), LogisticModel], blend="average",
                             weights=[3, 1]).fit(X, y, t0, t1)
    np.testing.assert_allclose(fixed.weights, [0.75, 0.25])
    for m in (avg, vote, make_model("stack", rounds=20).fit(X, y, t0, t1)):
        r = model_from_dict(json.loads(json.dumps(m.to_dict())))
        np.testing.assert_array_equal(r.predict_proba(X[:300]), m.predict_proba(X[:300]))


def test_bad_input_raises():
    X, y, t0, t1 = _data(200)
    with pytest.raises(ValueError, match="blend must be one of"):
        StackingEnsemble(blend="max")
    with pytest.raises(ValueError, match="weights must be 2 non-negative"):
        StackingEnsemble(weights=[1, -1])
    with pytest.raises(ValueError, match="one class only"):
        LgbmModel().fit(X, np.zeros(len(X), np.int8))
    with pytest.raises(ValueError, match="y must hold only 0 and 1"):
        LogisticModel().fit(X, np.full(len(X), 2))
    with pytest.raises(ValueError, match="X must be 2-D"):
        LogisticModel().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="label windows"):
        StackingEnsemble().fit(X, y)
    with pytest.raises(RuntimeError, match="before fit"):
        LgbmModel().predict_proba(X)
    with pytest.raises(ValueError, match="model kind must be one of"):
        model_from_dict({"kind": "svm"})
