"""Labelled datasets over the feature layout (engine.feature_layout): one row per feature sample.

Every row carries its timestamp ``t0`` (the sample's ts_local, ns) and its label end time
``t1`` (the time of the last price the label looked at), so validation can purge by time
(bot.ml.cv). Two labellings:

- ``sign``: the sign of the forward mid return over a horizon, given in time (the first
  sample at or after t0 + horizon_ns) or in samples (the sample `horizon_samples` ahead).
  Rows whose forward return is exactly zero have no sign and are dropped (the count is kept
  in ``meta``); the mid is in ticks, so a one-tick-spread market has many of them.
- ``triple_barrier`` (López de Prado, Advances in Financial Machine Learning, ch. 3.4): from
  each sample, an upper barrier at +pt*sigma, a lower one at -sl*sigma and a vertical one at
  t0 + horizon_ns; the label is 1 if the upper barrier is touched first, 0 if the lower one
  is, and the sign of the return at the vertical barrier otherwise (dropped if zero or if
  there is no mid there). sigma is the ex-ante standard deviation of one-sample log mid
  returns over the previous `vol_window` samples (known at t0); rows without a full window
  of finite returns (every sample with a mid) are dropped.

The forward (or barrier) log return of each row is kept in ``ret`` so a strategy can be
scored on the same rows. Rows are in time order (t0 non-decreasing). ``meta["dropped_by"]``
says why samples got no label, and :func:`label_problem` says why a dataset cannot train a
classifier (no labelled rows, or one class only) before anything is fitted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

from engine.feature_layout import INDEX, LAYOUT_VERSION, N_FEATURES, NAMES, FeatureParams

MID = INDEX["mid"]


@dataclass(frozen=True)
class Dataset:
    """X [n, N_FEATURES] float64 (layout order), y {0,1} int8, t0/t1 int64 ns, ret float64
    (the label's log return), segment int16 (which source series a row came from)."""

    X: np.ndarray
    y: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    ret: np.ndarray
    segment: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.y)
        if self.X.ndim != 2 or self.X.shape != (n, N_FEATURES):
            raise ValueError(f"Dataset.X must have shape ({n}, {N_FEATURES}), got {self.X.shape}")
        for name in ("t0", "t1", "ret", "segment"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Dataset.{name} has {len(getattr(self, name))} rows, y has {n}")
        if n and np.any(np.diff(self.t0) < 0):
            raise ValueError("Dataset.t0 must be non-decreasing (rows in time order)")
        if n and np.any(self.t1 < self.t0):
            i = int(np.argmax(self.t1 < self.t0))
            raise ValueError(f"Dataset.t1[{i}]={int(self.t1[i])} precedes t0[{i}]={int(self.t0[i])}")

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx) -> Dataset:
        return replace(self, X=self.X[idx], y=self.y[idx], t0=self.t0[idx], t1=self.t1[idx],
                       ret=self.ret[idx], segment=self.segment[idx])

    def sha256(self) -> str:
        """SHA-256 of the training data as the model sees it (X, y, t0, t1, little-endian)."""
        h = hashlib.sha256()
        for a, dt in ((self.X, "<f8"), (self.y, "i1"), (self.t0, "<i8"), (self.t1, "<i8")):
            h.update(np.ascontiguousarray(a, dtype=dt).tobytes())
        return h.hexdigest()


def _check_series(ts: np.ndarray, values: np.ndarray):
    ts = np.asarray(ts, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != N_FEATURES or values.shape[0] != len(ts):
        raise ValueError(f"values must have shape ({len(ts)}, {N_FEATURES}), got {values.shape}")
    if len(ts) and np.any(np.diff(ts) < 0):
        raise ValueError("ts must be non-decreasing")
    return ts, values


def sign_labels(ts, mid, horizon_ns: int = 0, horizon_samples: int = 0):
    """(rows, y, t1, ret) of the forward-return sign label; exactly one horizon > 0.

    Row i looks at sample j = the first with ts[j] >= ts[i] + horizon_ns (time) or
    j = i + horizon_samples; rows with no such j, or with mid[j] == mid[i], are dropped.
    """
    ts = np.asarray(ts, dtype=np.int64)
    mid = np.asarray(mid, dtype=np.float64)
    if (horizon_ns > 0) == (horizon_samples > 0) or horizon_ns < 0 or horizon_samples < 0:
        raise ValueError(f"give exactly one of horizon_ns={horizon_ns} or horizon_samples={horizon_samples} (> 0)")
    n = len(ts)
    if horizon_ns > 0:
        j = np.searchsorted(ts, ts + np.int64(horizon_ns), side="left")
        # the horizon point must be strictly later than t0 (ts may repeat)
        j = np.maximum(j, np.arange(n) + 1)
    else:
        j = np.arange(n) + horizon_samples
    ok = j < n
    rows = np.nonzero(ok)[0]
    jj = j[ok]
    with np.errstate(divide="ignore", invalid="ignore"):  # a missing or zero mid: dropped below
        ret = np.log(mid[jj] / mid[rows])
    keep = np.isfinite(ret) & (ret != 0)
    rows, jj, ret = rows[keep], jj[keep], ret[keep]
    return rows, (ret > 0).astype(np.int8), ts[jj], ret


def rolling_vol(mid, window: int) -> np.ndarray:
    """sigma[i] = std (ddof=0) of the one-sample log mid returns ending at i, over the
    previous `window` returns (log(mid[i-window+1..i] / mid[i-window..i-1])); NaN before,
    and NaN where the window holds a non-finite return (a sample without a positive mid).
    A missing mid spoils only the windows that contain it, not the rest of the series."""
    if window < 2:
        raise ValueError(f"vol_window must be >= 2, got {window}")
    mid = np.asarray(mid, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.diff(np.log(mid))
    out = np.full(len(mid), np.nan)
    if len(r) >= window:
        bad = ~np.isfinite(r)
        r = np.where(bad, 0.0, r)
        c1 = np.concatenate(([0.0], np.cumsum(r)))
        c2 = np.concatenate(([0.0], np.cumsum(r * r)))
        cb = np.concatenate(([0], np.cumsum(bad)))
        s1 = c1[window:] - c1[:-window]
        s2 = c2[window:] - c2[:-window]
        var = np.maximum(s2 / window - (s1 / window) ** 2, 0.0)
        out[window:] = np.where(cb[window:] - cb[:-window] > 0, np.nan, np.sqrt(var))
    return out


def triple_barrier_labels(ts, mid, horizon_ns: int, pt: float = 1.0, sl: float = 1.0,
                          vol_window: int = 50, sigma=None):
    """(rows, y, t1, ret) of the triple-barrier label (see the module docstring).

    Barriers in log return: +pt*sigma[i] and -sl*sigma[i]; `sigma` defaults to
    rolling_vol(mid, vol_window). The path of row i is samples i+1 .. v(i), where v(i) is
    the first sample with ts >= ts[i] + horizon_ns (rows without one are dropped). A touch
    is ret >= upper or ret <= lower; the first touching sample ends the label.
    """
    ts = np.asarray(ts, dtype=np.int64)
    mid = np.asarray(mid, dtype=np.float64)
    if horizon_ns <= 0:
        raise ValueError(f"horizon_ns must be > 0, got {horizon_ns}")
    if not (pt > 0 and sl > 0):
        raise ValueError(f"pt and sl must be > 0, got pt={pt}, sl={sl}")
    n = len(ts)
    sigma = rolling_vol(mid, vol_window) if sigma is None else np.asarray(sigma, dtype=np.float64)
    v = np.maximum(np.searchsorted(ts, ts + np.int64(horizon_ns), side="left"), np.arange(n) + 1)
    ok = (v < n) & np.isfinite(sigma) & (sigma > 0)
    rows = np.nonzero(ok)[0]
    if len(rows) == 0:
        return rows, np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0)
    vr = v[rows]
    with np.errstate(divide="ignore", invalid="ignore"):  # a missing mid gives NaN returns: no touch
        logmid = np.log(mid)
    up, lo = pt * sigma[rows], -sl * sigma[rows]
    end = vr.copy()                    # sample that ends the label
    label = np.full(len(rows), -1, np.int8)  # -1: no barrier touched yet
    kmax = int((vr - rows).max())
    for k in range(1, kmax + 1):       # O(n * longest path), vectorized over rows
        idx = rows + k
        active = (label < 0) & (idx <= vr)
        if not active.any():
            break
        r = logmid[np.minimum(idx, n - 1)] - logmid[rows]
        hit_up = active & (r >= up)
        hit_lo = active & (r <= lo) & ~hit_up
        label[hit_up] = 1
        label[hit_lo] = 0
        end[hit_up | hit_lo] = idx[hit_up | hit_lo]
    ret = logmid[end] - logmid[rows]
    vertical = label < 0
    label[vertical] = (ret[vertical] > 0).astype(np.int8)
    keep = ~(vertical & (ret == 0)) & np.isfinite(ret)
    return rows[keep], label[keep], ts[end[keep]], ret[keep]


def build_dataset(ts, values, label: str = "sign", horizon_ns: int = 1_000_000_000,
                  horizon_samples: int = 0, pt: float = 1.0, sl: float = 1.0, vol_window: int = 50,
                  segment: int = 0, meta: dict | None = None) -> Dataset:
    """A Dataset from one feature series (``ts`` [n] ns, ``values`` [n, N_FEATURES])."""
    ts, values = _check_series(ts, values)
    mid = values[:, MID]
    n = len(ts)
    # samples whose horizon lies beyond the data (the label needs a later sample)
    if horizon_samples:
        beyond = min(n, int(horizon_samples))
    else:
        beyond = int(np.count_nonzero(ts + np.int64(horizon_ns) > ts[-1])) if n else 0
        beyond = max(beyond, min(n, 1))
    no_vol = 0
    if label == "sign":
        rows, y, t1, ret = sign_labels(ts, mid, horizon_ns if not horizon_samples else 0, horizon_samples)
    elif label == "triple_barrier":
        if horizon_samples:
            raise ValueError("triple_barrier labels take a time horizon (horizon_ns), not horizon_samples")
        sigma = rolling_vol(mid, vol_window)
        no_vol = int(np.count_nonzero(~(np.isfinite(sigma[:n - beyond]) & (sigma[:n - beyond] > 0))))
        rows, y, t1, ret = triple_barrier_labels(ts, mid, horizon_ns, pt, sl, vol_window, sigma=sigma)
    else:
        raise ValueError(f"label must be 'sign' or 'triple_barrier', got {label!r}")
    m = {"layout_version": LAYOUT_VERSION, "names": list(NAMES), "label": label,
         "horizon_ns": int(horizon_ns) if not horizon_samples else 0,
         "horizon_samples": int(horizon_samples), "samples": int(n), "rows": int(len(rows)),
         "dropped": int(n - len(rows)),
         "dropped_by": {"beyond_data": beyond, "no_volatility": no_vol,
                        "flat": int(n - len(rows) - beyond - no_vol)},
         "span_ns": int(ts[-1] - ts[0]) if n else 0}
    if label == "triple_barrier":
        m.update(pt=pt, sl=sl, vol_window=vol_window)
    m.update(meta or {})
    return Dataset(X=values[rows], y=y, t0=ts[rows], t1=t1, ret=ret,
                   segment=np.full(len(rows), segment, np.int16), meta=m)


def _duration(ns: int) -> str:
    return f"{ns / 1e9:.3g} s" if ns < 60_000_000_000 else f"{ns / 60e9:.3g} min"


def label_problem(ds: Dataset) -> str | None:
    """Why `ds` cannot train a classifier, in one line saying what to change; None if it can.

    A dataset without labelled rows (every sample's horizon beyond the data, no volatility
    estimate for the triple barrier, or no move over the horizon), or with one class only,
    is refused here instead of failing (or printing NaN rates) inside training."""
    n = len(ds)
    m = ds.meta
    label = str(m.get("label", "sign")).replace("_", "-")
    horizon = (f"{m['horizon_samples']} samples" if m.get("horizon_samples")
               else _duration(int(m.get("horizon_ns", 0))))
    if n == 0:
        samples = int(m.get("samples", 0))
        if samples == 0:
            return "no feature samples: the data is empty or too short to sample"
        by = m.get("dropped_by")
        if not by:
            return f"no labelled rows: none of the {samples} samples got a {label} label"
        head = f"no labelled rows: none of the {samples} samples got a {label} label with horizon {horizon}"
        if by["beyond_data"] >= samples:
            return (f"{head}: the data spans {_duration(int(m.get('span_ns', 0)))}, so no sample has one "
                    "horizon of data after it; use a shorter horizon or more data")
        if by["no_volatility"] >= max(by["flat"], 1):
            return (f"{head}: {by['no_volatility']} samples have no volatility estimate (the barriers need "
                    f"{m.get('vol_window', '?')} previous samples with a mid and a moving price); "
                    "use more data or the sign label")
        return (f"{head}: the mid did not move (or was missing) over the horizon for {by['flat']} samples "
                f"({by['beyond_data']} are within one horizon of the end); use a longer horizon")
    classes = np.unique(ds.y)
    if len(classes) < 2:
        return (f"all {n} {label} labels are {int(classes[0])} ({'up' if classes[0] else 'down'}): "
                "a classifier needs both classes; use more data or another horizon")
    return None


def concat(parts: list[Dataset]) -> Dataset:
    """Datasets of consecutive, non-overlapping periods joined in time order."""
    if not parts:
        raise ValueError("concat needs at least one dataset")
    for a, b in zip(parts, parts[1:]):
        if len(a) and len(b) and b.t0[0] <= a.t1.max():
            raise ValueError(f"datasets overlap in time: next starts at {int(b.t0[0])}, "
                             f"previous labels end at {int(a.t1.max())}")
    # keys every part agrees on, the counts summed, and each part's own metadata
    meta = {k: v for k, v in parts[0].meta.items() if all(p.meta.get(k) == v for p in parts[1:])}
    for k in ("samples", "rows", "dropped"):
        meta[k] = int(sum(p.meta.get(k, 0) for p in parts))
    if all("dropped_by" in p.meta for p in parts):
        meta["dropped_by"] = {k: int(sum(p.meta["dropped_by"][k] for p in parts))
                              for k in parts[0].meta["dropped_by"]}
    meta["span_ns"] = int(sum(p.meta.get("span_ns", 0) for p in parts))
    meta["segments"] = [p.meta for p in parts]
    return Dataset(X=np.concatenate([p.X for p in parts]), y=np.concatenate([p.y for p in parts]),
                   t0=np.concatenate([p.t0 for p in parts]), t1=np.concatenate([p.t1 for p in parts]),
                   ret=np.concatenate([p.ret for p in parts]),
                   segment=np.concatenate([p.segment for p in parts]), meta=meta)


def events_series(events: np.ndarray, interval_ns: int = 100_000_000, every: int = 0) -> dict:
    """Feature series (bot.features.compute.feature_series) with the data-dependent VPIN bucket."""
    from bot.features.compute import default_vpin_bucket, feature_series

    params = replace(FeatureParams(), vpin_bucket=default_vpin_bucket(events))
    return feature_series(events, params, every=every, interval_ns=0 if every else interval_ns)


SYNTH_REGIMES = ("bull", "bear", "sideways")


def synthetic_dataset(seed: int = 7, events: int = 100_000, regimes=SYNTH_REGIMES,
                      interval_ns: int = 100_000_000, every: int = 0, **label_kw) -> Dataset:
    """Labelled rows of engine.synth streams, one per regime (seed + k for the k-th), placed
    one after another in time (each shifted to start one horizon after the previous ends),
    so a split by time sees regime changes. ``segment`` is the regime's index in `regimes`.
    Features are sampled every `interval_ns` of time, or every `every` event rows if given."""
    from engine.synth import generate

    parts, offset = [], 0
    gap = int(label_kw.get("horizon_ns", 1_000_000_000)) + interval_ns
    for k, regime in enumerate(regimes):
        ev = generate(events, seed=seed + k, regime=regime)
        s = events_series(ev, interval_ns=interval_ns, every=every)
        ts = s["ts"] - s["ts"][0] + offset
        d = build_dataset(ts, s["values"], segment=k,
                          meta={"source": "synthetic", "seed": seed + k, "regime": regime, "events": events},
                          **label_kw)
        parts.append(d)
        offset = int(ts[-1]) + gap
    return concat(parts)
