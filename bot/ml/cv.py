"""Purged cross-validation with an embargo, by time (López de Prado, Advances in Financial
Machine Learning, ch. 7.4).

Rows are label windows [t0_i, t1_i] (ns) in time order. The span [min t0, max t0] is cut
into equal TIME blocks (not equal row counts); a row belongs to the block holding its t0.

- ``walk_forward`` (default): n_splits + 1 blocks; fold k tests block k (k = 1..n_splits)
  and trains only on rows with t0 before the test window (the past).
- ``kfold``: n_splits blocks; fold k tests block k and trains on every other block, before
  and after it (AFML's purged k-fold; used for out-of-fold predictions inside a training set).

The test window of a fold is [min t0, max t1] of its test rows. Then, for the training set:
- purge: drop every row whose [t0, t1] overlaps the test window (t0 <= test_end and
  t1 >= test_start), so no label seen in training shares time with a test label;
- embargo: drop every row with test_end < t0 <= test_end + embargo_ns, because features
  computed just after the test window still carry its information (serial correlation).
  In walk_forward mode every training row starts before the test window, so the embargo
  removes nothing there; it bites in kfold mode, where training rows follow the test window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fold:
    train: np.ndarray      # row indices, ascending
    test: np.ndarray       # row indices, ascending
    test_start: int        # ns: min t0 of the test rows
    test_end: int          # ns: max t1 of the test rows
    purged: int            # candidate training rows removed for label overlap
    embargoed: int         # candidate training rows removed by the embargo (after purging)


def _check(t0, t1):
    t0 = np.asarray(t0, dtype=np.int64)
    t1 = np.asarray(t1, dtype=np.int64)
    if t0.ndim != 1 or t0.shape != t1.shape:
        raise ValueError(f"t0 and t1 must be 1-D of the same length, got {t0.shape} and {t1.shape}")
    if len(t0) and np.any(np.diff(t0) < 0):
        raise ValueError("t0 must be non-decreasing (rows in time order)")
    if np.any(t1 < t0):
        i = int(np.argmax(t1 < t0))
        raise ValueError(f"t1[{i}]={int(t1[i])} precedes t0[{i}]={int(t0[i])}")
    return t0, t1


def time_blocks(t0, n_blocks: int) -> np.ndarray:
    """Block number (0..n_blocks-1) of each row: equal time spans of [min t0, max t0]."""
    t0 = np.asarray(t0, dtype=np.int64)
    lo, hi = int(t0[0]), int(t0[-1])
    span = hi - lo
    if span <= 0:
        raise ValueError("all rows share one timestamp; a split by time needs a time span")
    # integer arithmetic: block = floor((t0 - lo) * n / (span + 1)), always < n_blocks
    off = (t0 - lo).astype(object) if span > (1 << 62) // max(n_blocks, 1) else (t0 - lo)
    return np.asarray(off * n_blocks // (span + 1), dtype=np.int64)


def purged_splits(t0, t1, n_splits: int = 5, embargo_ns: int = 0, mode: str = "walk_forward",
                  purge: bool = True) -> list[Fold]:
    """The folds described in the module docstring. Raises ValueError on bad arguments or a
    fold with no test or no training rows (too few rows or too many splits for the span).
    ``purge=False`` skips the purge (only to show what leaks without it)."""
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ValueError(f"n_splits must be an int >= 2, got {n_splits!r}")
    if isinstance(embargo_ns, bool) or not isinstance(embargo_ns, (int, np.integer)) or embargo_ns < 0:
        raise ValueError(f"embargo_ns must be an int >= 0, got {embargo_ns!r}")
    if mode not in ("walk_forward", "kfold"):
        raise ValueError(f"mode must be 'walk_forward' or 'kfold', got {mode!r}")
    t0, t1 = _check(t0, t1)
    if len(t0) < 2:
        raise ValueError(f"need at least 2 rows to split, got {len(t0)}")
    n_blocks = n_splits + 1 if mode == "walk_forward" else n_splits
    block = time_blocks(t0, n_blocks)
    first = 1 if mode == "walk_forward" else 0
    folds = []
    for k in range(first, n_blocks):
        test = np.nonzero(block == k)[0]
        if len(test) == 0:
            raise ValueError(f"fold {k - first}: no rows in test block {k} of {n_blocks}; use fewer splits")
        start, end = int(t0[test].min()), int(t1[test].max())
        cand = block < k if mode == "walk_forward" else block != k
        overlap = cand & (t0 <= end) & (t1 >= start) if purge else np.zeros_like(cand)
        after = cand & ~overlap & (t0 > end) & (t0 <= end + embargo_ns)
        train = np.nonzero(cand & ~overlap & ~after)[0]
        if len(train) == 0:
            raise ValueError(f"fold {k - first}: no training rows left after purge and embargo")
        folds.append(Fold(train=train, test=test, test_start=start, test_end=end,
                          purged=int(overlap.sum()), embargoed=int(after.sum())))
    return folds
