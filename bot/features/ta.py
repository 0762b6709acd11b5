"""Bar-level TA features: a fixed, named, versioned set of engine.ta indicator outputs.

The microstructure feature vector (engine.feature_layout) is per book event; this set is per
bar. ``TA_FEATURES`` lists (column name, indicator, parameters, output); changing it bumps
``TA_LAYOUT_VERSION``. Batch (``compute``) and streaming (``TaFeatureStream``) give the same
row for the same bars, bit for bit, because engine.ta does.
"""

from __future__ import annotations

import math

import numpy as np

from engine import ta

TA_LAYOUT_VERSION = 1

# (column, indicator, params, output name)
TA_FEATURES: tuple[tuple[str, str, dict, str], ...] = (
    ("sma_20", "sma", {"n": 20}, "sma"),
    ("ema_20", "ema", {"n": 20}, "ema"),
    ("rsi_14", "rsi", {"n": 14}, "rsi"),
    ("macd", "macd", {}, "macd"),
    ("macd_signal", "macd", {}, "signal"),
    ("macd_hist", "macd", {}, "hist"),
    ("stoch_k", "stoch", {}, "slowk"),
    ("stoch_d", "stoch", {}, "slowd"),
    ("cci_14", "cci", {"n": 14}, "cci"),
    ("willr_14", "willr", {"n": 14}, "willr"),
    ("mfi_14", "mfi", {"n": 14}, "mfi"),
    ("roc_10", "roc", {"n": 10}, "roc"),
    ("tsi", "tsi", {}, "tsi"),
    ("ultosc", "ultosc", {}, "ultosc"),
    ("adx_14", "adx", {"n": 14}, "adx"),
    ("aroon_down", "aroon", {"n": 14}, "down"),
    ("aroon_up", "aroon", {"n": 14}, "up"),
    ("sar", "sar", {}, "sar"),
    ("supertrend", "supertrend", {}, "supertrend"),
    ("supertrend_dir", "supertrend", {}, "direction"),
    ("atr_14", "atr", {"n": 14}, "atr"),
    ("bb_upper", "bbands", {"n": 20}, "upper"),
    ("bb_lower", "bbands", {"n": 20}, "lower"),
    ("keltner_upper", "keltner", {}, "upper"),
    ("keltner_lower", "keltner", {}, "lower"),
    ("donchian_upper", "donchian", {"n": 20}, "upper"),
    ("donchian_lower", "donchian", {"n": 20}, "lower"),
    ("ichimoku_tenkan", "ichimoku", {}, "tenkan"),
    ("ichimoku_kijun", "ichimoku", {}, "kijun"),
    ("chaikin_volatility", "chaikin_volatility", {}, "chaikin_volatility"),
    ("garman_klass_20", "garman_klass", {"n": 20}, "garman_klass"),
    ("parkinson_20", "parkinson", {"n": 20}, "parkinson"),
    ("obv", "obv", {}, "obv"),
    ("vwap_20", "vwap", {"n": 20}, "vwap"),
    ("ad", "ad", {}, "ad"),
    ("cmf_20", "cmf", {"n": 20}, "cmf"),
    ("force_index_13", "force_index", {"n": 13}, "force_index"),
    ("ease_of_movement_14", "ease_of_movement", {"n": 14}, "ease_of_movement"),
    ("hurst_100", "hurst", {"n": 100, "max_lag": 20}, "hurst"),
)

TA_NAMES: tuple[str, ...] = tuple(f[0] for f in TA_FEATURES)


def _groups():
    """Each distinct (indicator, params) once, with the columns it feeds."""
    groups: dict[tuple, list[tuple[str, int]]] = {}
    for column, name, params, output in TA_FEATURES:
        key = (name, tuple(sorted(params.items())))
        groups.setdefault(key, []).append((column, ta.SPECS[name][3].index(output)))
    return groups


def compute(bars) -> dict[str, np.ndarray]:
    """Every TA feature column over ``bars`` (a bot.data.ohlcv.Bars), in TA_NAMES order."""
    cols = {"open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close,
            "volume": bars.volume}
    out: dict[str, np.ndarray] = {}
    for (name, params), targets in _groups().items():
        res = ta.batch(name, *(cols[f] for f in ta.SPECS[name][1]), **dict(params))
        res = res if isinstance(res, tuple) else (res,)
        for column, k in targets:
            out[column] = res[k]
    return {name: out[name] for name in TA_NAMES}


class TaFeatureStream:
    """The same features a bar at a time: ``update(o, h, l, c, v)`` returns a float64 row
    in TA_NAMES order (NaN where an indicator is still warming up)."""

    def __init__(self):
        self._streams = []
        for (name, params), targets in _groups().items():
            self._streams.append((ta.Stream(name, **dict(params)),
                                  [(TA_NAMES.index(column), k) for column, k in targets]))
        self._row = np.empty(len(TA_NAMES), dtype=np.float64)

    def update(self, o: float, h: float, lo: float, c: float, v: float) -> np.ndarray:
        # check the bar once, up front, so a bad bar changes no indicator
        for field, x in (("open", o), ("high", h), ("low", lo), ("close", c), ("volume", v)):
            if not math.isfinite(x):
                raise ValueError(f"TaFeatureStream.update: {field} is not finite: {x!r}")
            if field != "volume" and x <= 0.0:  # Garman-Klass, Parkinson, Hurst take logs
                raise ValueError(f"TaFeatureStream.update: {field} must be > 0, got {x!r}")
        results = [stream.update(o, h, lo, c, v) for stream, _ in self._streams]
        row = self._row.copy()
        for (_, targets), res in zip(self._streams, results):
            res = res if isinstance(res, tuple) else (res,)
            for idx, k in targets:
                row[idx] = res[k]
        return row
