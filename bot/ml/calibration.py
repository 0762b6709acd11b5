"""Probability calibration: isotonic regression per market regime, with a global fallback.

Fitted on out-of-fold predictions only (bot.ml.train passes walk-forward test predictions),
so the map corrects how the model behaves on data it has not seen.

Regime rule (computable live from the feature vector): terciles of ``realized_vol``
(engine.feature_layout) over the calibration rows. Regime 0 is realized_vol <= the 1/3
quantile, 1 up to the 2/3 quantile, 2 above; a non-finite realized_vol has no regime (-1)
and gets the global map. A regime with fewer than `min_rows` rows, or only one class, also
falls back to the global map.

Each isotonic map is stored as its breakpoints (sklearn's X_thresholds_, y_thresholds_) and
applied by linear interpolation clipped at the ends, which is what
``IsotonicRegression(out_of_bounds="clip").predict`` computes, so a map read back from JSON
predicts exactly what the fitted one did.
"""

from __future__ import annotations

import numpy as np

from engine.feature_layout import INDEX

REGIME_FEATURE = "realized_vol"
N_REGIMES = 3


def brier(p, y) -> float:
    """Mean squared error of the probability against the 0/1 outcome (Brier 1950)."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.mean((p - y) ** 2))


def reliability_table(p, y, bins: int = 10) -> list[dict]:
    """Equal-width probability bins: [lo, hi), count, mean prediction, observed frequency of 1
    (the last bin includes 1.0). Empty bins are listed with count 0 and no means."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    b = np.minimum((p * bins).astype(np.int64), bins - 1)
    out = []
    for k in range(bins):
        m = b == k
        n = int(m.sum())
        out.append({"lo": k / bins, "hi": (k + 1) / bins, "count": n,
                    "mean_pred": float(p[m].mean()) if n else None,
                    "frac_pos": float(y[m].mean()) if n else None})
    return out


def expected_calibration_error(p, y, bins: int = 10) -> float:
    """Count-weighted mean |mean prediction - observed frequency| over the reliability bins."""
    t = reliability_table(p, y, bins)
    n = sum(r["count"] for r in t)
    return float(sum(r["count"] * abs(r["mean_pred"] - r["frac_pos"]) for r in t if r["count"]) / max(n, 1))


class IsotonicMap:
    """A fitted monotone map p -> calibrated p (breakpoints, linear between, clipped outside)."""

    def __init__(self, x, y):
        self.x, self.y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    @classmethod
    def fit(cls, p, y) -> IsotonicMap:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
        iso.fit(np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64))
        return cls(iso.X_thresholds_, iso.y_thresholds_)

    def __call__(self, p) -> np.ndarray:
        return np.interp(np.asarray(p, dtype=np.float64), self.x, self.y)

    def to_dict(self) -> dict:
        return {"x": self.x.tolist(), "y": self.y.tolist()}


class RegimeCalibrator:
    """Isotonic maps per realized-volatility tercile plus a global one (module docstring)."""

    def __init__(self, min_rows: int = 500):
        if min_rows < 2:
            raise ValueError(f"min_rows must be >= 2, got {min_rows}")
        self.min_rows = int(min_rows)
        self.edges = None            # the two tercile edges of realized_vol
        self.global_map = None
        self.maps: dict[int, IsotonicMap] = {}

    def regime(self, X) -> np.ndarray:
        """Regime (0, 1, 2, or -1 for none) of each feature row."""
        rv = np.asarray(X, dtype=np.float64)[:, INDEX[REGIME_FEATURE]]
        r = np.searchsorted(self.edges, rv, side="left").astype(np.int64)
        r[~np.isfinite(rv)] = -1
        return r

    def fit(self, p, y, X) -> RegimeCalibrator:
        p, y = np.asarray(p, dtype=np.float64), np.asarray(y)
        X = np.asarray(X, dtype=np.float64)
        if p.shape != y.shape or X.shape[0] != len(p):
            raise ValueError(f"p {p.shape}, y {y.shape} and X {X.shape} must have the same number of rows")
        if len(np.unique(y)) < 2:
            raise ValueError("calibration needs both classes in y")
        rv = X[:, INDEX[REGIME_FEATURE]]
        fin = rv[np.isfinite(rv)]
        self.edges = np.quantile(fin, [1 / 3, 2 / 3]) if len(fin) else np.array([np.inf, np.inf])
        self.global_map = IsotonicMap.fit(p, y)
        reg = self.regime(X)
        self.maps = {}
        for k in range(N_REGIMES):
            m = reg == k
            if m.sum() >= self.min_rows and len(np.unique(y[m])) == 2:
                self.maps[k] = IsotonicMap.fit(p[m], y[m])
        return self

    def transform(self, p, X) -> np.ndarray:
        if self.global_map is None:
            raise RuntimeError("RegimeCalibrator.transform before fit")
        p = np.asarray(p, dtype=np.float64)
        out = self.global_map(p)
        reg = self.regime(X)
        for k, f in self.maps.items():
            m = reg == k
            if m.any():
                out[m] = f(p[m])
        return out

    def to_dict(self) -> dict:
        return {"kind": "isotonic_by_regime", "regime_feature": REGIME_FEATURE, "min_rows": self.min_rows,
                "edges": self.edges.tolist(), "global": self.global_map.to_dict(),
                "regimes": {str(k): f.to_dict() for k, f in self.maps.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> RegimeCalibrator:
        if d.get("kind") != "isotonic_by_regime" or d.get("regime_feature") != REGIME_FEATURE:
            raise ValueError(f"not an isotonic_by_regime calibrator over {REGIME_FEATURE}: "
                             f"kind={d.get('kind')!r}, regime_feature={d.get('regime_feature')!r}")
        c = cls(d["min_rows"])
        c.edges = np.asarray(d["edges"], dtype=np.float64)
        c.global_map = IsotonicMap(d["global"]["x"], d["global"]["y"])
        c.maps = {int(k): IsotonicMap(v["x"], v["y"]) for k, v in d["regimes"].items()}
        return c
