"""Purged walk-forward / k-fold CV by time with an embargo (bot.ml.cv), and the leakage sentinel."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.ml.cv import purged_splits, time_blocks

# Hand-built example: 12 rows at t0 = 0, 10, ..., 110 with 15-unit labels, except rows 1
# and 3 whose labels run to 45. Three time blocks of [0, 110]: rows 0-3, 4-7, 8-11.
T0 = np.arange(12, dtype=np.int64) * 10
T1 = T0 + 15
T1[1] = 45
T1[3] = 45


def test_time_blocks_hand_example():
    assert time_blocks(T0, 3).tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_walk_forward_hand_example():
    f0, f1 = purged_splits(T0, T1, n_splits=2, embargo_ns=12, mode="walk_forward")
    # fold 0 tests rows 4-7: window [40, 85]; rows 1 and 3 (labels to 45) overlap it
    assert f0.test.tolist() == [4, 5, 6, 7]
    assert (f0.test_start, f0.test_end) == (40, 85)
    assert f0.train.tolist() == [0, 2]
    assert (f0.purged, f0.embargoed) == (2, 0)
    # fold 1 tests rows 8-11: window [80, 125]; row 7 (label to 85) overlaps it
    assert f1.test.tolist() == [8, 9, 10, 11]
    assert f1.train.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert (f1.purged, f1.embargoed) == (1, 0)


def test_kfold_hand_example_with_embargo():
    f0, f1, f2 = purged_splits(T0, T1, n_splits=3, embargo_ns=12, mode="kfold")
    # test rows 0-3, window [0, 45]: row 4 (t0 40) overlaps; row 5 (t0 50) is in the embargo (45, 57]
    assert f0.train.tolist() == [6, 7, 8, 9, 10, 11]
    assert (f0.purged, f0.embargoed) == (1, 1)
    # test rows 4-7, window [40, 85]: rows 1, 3 and 8 overlap; row 9 (t0 90) in (85, 97]
    assert f1.train.tolist() == [0, 2, 10, 11]
    assert (f1.purged, f1.embargoed) == (3, 1)
    # test rows 8-11, window [80, 125]: row 7 overlaps; nothing after the window
    assert f2.train.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert (f2.purged, f2.embargoed) == (1, 0)


def test_no_purge_keeps_overlapping_rows():
    f0, _ = purged_splits(T0, T1, n_splits=2, mode="walk_forward", purge=False)
    assert f0.train.tolist() == [0, 1, 2, 3]
    assert f0.purged == 0


@pytest.mark.parametrize("kw, msg", [
    ({"n_splits": 1}, "n_splits"), ({"n_splits": True}, "n_splits"), ({"embargo_ns": -1}, "embargo_ns"),
    ({"mode": "random"}, "mode"), ({"n_splits": 11}, "fold 0: no training rows left"),
    ({"n_splits": 20, "mode": "kfold"}, "fold 2: no rows in test block 2"),
])
def test_bad_arguments_raise(kw, msg):
    with pytest.raises(ValueError, match=msg):
        purged_splits(T0, T1, **{"n_splits": 2, **kw})


def test_bad_windows_raise():
    with pytest.raises(ValueError, match="non-decreasing"):
        purged_splits(T0[::-1].copy(), T1[::-1].copy())
    bad = T1.copy()
    bad[5] = 0
    with pytest.raises(ValueError, match=r"t1\[5\]=0 precedes t0\[5\]=50"):
        purged_splits(T0, bad)
    with pytest.raises(ValueError, match="one timestamp"):
        purged_splits(np.zeros(5, np.int64), np.ones(5, np.int64))


def reference_splits(t0, t1, n_splits, embargo, mode):
    """Plain-Python model of the rules in bot.ml.cv's docstring, row by row."""
    t0, t1 = [int(v) for v in t0], [int(v) for v in t1]
    nb = n_splits + 1 if mode == "walk_forward" else n_splits
    lo, span = t0[0], t0[-1] - t0[0]
    block = [(t - lo) * nb // (span + 1) for t in t0]
    out = []
    for k in range(1 if mode == "walk_forward" else 0, nb):
        test = [i for i in range(len(t0)) if block[i] == k]
        start, end = min(t0[i] for i in test), max(t1[i] for i in test)
        train = []
        for i in range(len(t0)):
            if block[i] == k or (mode == "walk_forward" and block[i] > k):
                continue
            if t0[i] <= end and t1[i] >= start:
                continue  # purged
            if end < t0[i] <= end + embargo:
                continue  # embargoed
            train.append(i)
        out.append((test, train, start, end))
    return out


@st.composite
def label_windows(draw):
    n = draw(st.integers(4, 120))
    gaps = draw(st.lists(st.integers(0, 50), min_size=n - 1, max_size=n - 1))
    t0 = np.concatenate(([1_000], 1_000 + np.cumsum(gaps))).astype(np.int64)
    dur = np.array(draw(st.lists(st.integers(0, 300), min_size=n, max_size=n)), dtype=np.int64)
    return t0, t0 + dur


@settings(max_examples=150, deadline=None)
@given(label_windows(), st.integers(2, 6), st.integers(0, 200), st.sampled_from(["walk_forward", "kfold"]))
def test_splits_match_reference_and_never_leak(windows, n_splits, embargo, mode):
    t0, t1 = windows
    try:
        folds = purged_splits(t0, t1, n_splits, embargo, mode=mode)
    except ValueError:
        assume(False)
    ref = reference_splits(t0, t1, n_splits, embargo, mode)
    assert len(folds) == len(ref) == n_splits
    seen = set()
    prev_last = None
    for f, (test, train, start, end) in zip(folds, ref):
        assert f.test.tolist() == test and f.train.tolist() == train
        assert (f.test_start, f.test_end) == (start, end)
        tr = f.train
        # no training label window overlaps the test window
        assert not np.any((t0[tr] <= f.test_end) & (t1[tr] >= f.test_start))
        # no training row inside the embargo after the test window
        assert not np.any((t0[tr] > f.test_end) & (t0[tr] <= f.test_end + embargo))
        assert not set(tr.tolist()) & set(f.test.tolist())
        if mode == "walk_forward":
            assert np.all(t0[tr] < f.test_start)  # the past only
        # test folds disjoint and in time order
        assert not seen & set(f.test.tolist())
        seen |= set(f.test.tolist())
        if prev_last is not None:
            assert t0[f.test].min() > prev_last
        prev_last = t0[f.test].max()
    if mode == "kfold":
        assert seen == set(range(len(t0)))


# --- leakage sentinel ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def synth_ds():
    from bot.ml.dataset import synthetic_dataset

    return synthetic_dataset(seed=7, events=200_000, horizon_ns=100_000_000)


def test_leakage_sentinel_on_shuffled_labels(synth_ds):
    """Shuffled labels: out-of-sample AUC in 0.5 +- 0.03 and |Sharpe per row| <= 4/sqrt(n)
    (tolerances argued in bot.ml.train); the real labels score clearly above the band."""
    from bot.ml.train import TrainConfig, cross_validate, leakage_sentinel

    cfg = TrainConfig(rounds=40)
    s = leakage_sentinel(synth_ds, cfg, seed=1)
    assert s["test_rows"] >= 3000
    assert s["auc_null_sd"] < 0.03 / 3
    assert abs(s["auc"] - 0.5) <= 0.03
    assert abs(s["sharpe_per_row"]) <= 4 / np.sqrt(s["test_rows"])
    assert s["passed"]
    real = cross_validate(synth_ds, cfg)
    assert real.overall["auc"] > 0.53  # the pipeline finds the synthetic market's signal
    assert real.strategy["sharpe_per_row"] > 4 / np.sqrt(real.overall["rows"])


def test_leakage_sentinel_catches_training_on_test_rows(synth_ds, monkeypatch):
    """A broken splitter that trains on the test rows fails the sentinel: LightGBM memorizes
    the shuffled labels it is then scored on."""
    import bot.ml.train as T
    from bot.ml.cv import Fold

    real_splits = T.purged_splits

    def leaky(*a, **kw):
        return [Fold(np.union1d(f.train, f.test), f.test, f.test_start, f.test_end, 0, 0)
                for f in real_splits(*a, **kw)]

    monkeypatch.setattr(T, "purged_splits", leaky)
    s = T.leakage_sentinel(synth_ds, T.TrainConfig(rounds=40), seed=1)
    assert not s["passed"]
    assert s["auc"] > 0.6
