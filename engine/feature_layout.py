"""The feature vector the model layer consumes: fixed order, fixed names, versioned.

The order here is the order of ``bot4_features_vector()`` in csrc/micro_features.h (the C enum
BOT4_F_*); engine.features checks at import that the two agree in length. Adding,
removing or re-defining a feature bumps LAYOUT_VERSION, so a model trained on one layout
refuses another. Units: prices in ticks, quantities in lots, times in seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

LAYOUT_VERSION = 1
LEVELS = 5

# (name, unit, one-line meaning). Formulas and sources: csrc/micro_features.h.
FEATURES: tuple[tuple[str, str, str], ...] = (
    ("spread", "ticks", "best ask - best bid"),
    ("mid", "ticks", "(best bid + best ask) / 2"),
    ("microprice", "ticks", "(bid*ask_qty + ask*bid_qty) / (bid_qty + ask_qty)"),
    ("microprice_mom", "ticks", "microprice now - microprice L decision points ago"),
    *((f"imbalance_{k}", "1", f"(bid_qty_{k} - ask_qty_{k}) / (bid_qty_{k} + ask_qty_{k})")
      for k in range(1, LEVELS + 1)),
    ("imbalance_cum", "1", f"depth imbalance of levels 1..{LEVELS} summed"),
    *((f"ofi_{k}", "lots", f"Cont-Kukanov-Stoikov OFI of level {k} summed over the window")
      for k in range(1, LEVELS + 1)),
    ("vpin_bvc", "1", "VPIN, bulk volume classification (Easley, Lopez de Prado, O'Hara 2012)"),
    ("vpin_aggressor", "1", "VPIN, volume classified by the feed's aggressor flag"),
    ("kyle_lambda", "ticks/lot", "rolling OLS slope of mid change on signed trade volume"),
    ("realized_vol", "1", "sqrt(sum of squared mid changes over the window) / mid"),
    ("trade_intensity", "1/s", "trades in the last K trades per second up to now"),
    ("signed_volume", "lots", "buyer- minus seller-initiated volume of the last K trades"),
    ("cancel_burst", "1", "touch depth removed unexplained by trades, short rate / long rate"),
    ("bid_age", "s", "time the current best bid price has stood"),
    ("ask_age", "s", "time the current best ask price has stood"),
    ("queue_ahead_bid", "lots", "queue ahead of a buy order joining the best bid now"),
    ("queue_ahead_ask", "lots", "queue ahead of a sell order joining the best ask now"),
    ("fill_eta_bid", "s", "queue_ahead_bid / recent sell-aggressor rate at the best bid"),
    ("fill_eta_ask", "s", "queue_ahead_ask / recent buy-aggressor rate at the best ask"),
)

NAMES: tuple[str, ...] = tuple(f[0] for f in FEATURES)
UNITS: dict[str, str] = {f[0]: f[1] for f in FEATURES}
INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}
N_FEATURES = len(NAMES)


@dataclass(frozen=True)
class FeatureParams:
    """Window lengths of the streaming features (see csrc/micro_features.h for each use).

    Windows counted in book messages: ofi_window, kyle_window, rv_window, cancel_short,
    cancel_long. In trades: trade_window (intensity, signed volume, queue fill rate),
    bvc_window (sigma of trade-to-trade price changes). vpin_bucket: lots per VPIN volume
    bucket; vpin_buckets: buckets averaged. momentum_lag: decision points.
    """

    ofi_window: int = 100
    kyle_window: int = 200
    rv_window: int = 200
    cancel_short: int = 20
    cancel_long: int = 500
    trade_window: int = 64
    bvc_window: int = 200
    vpin_bucket: int = 100_000
    vpin_buckets: int = 50
    momentum_lag: int = 10

    def __post_init__(self):
        for k, v in asdict(self).items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 1 or v > 1 << 24:
                raise ValueError(f"FeatureParams.{k} must be an int in [1, 2^24], got {v!r}")
        if self.cancel_short > self.cancel_long:
            raise ValueError(f"FeatureParams.cancel_short {self.cancel_short} exceeds cancel_long {self.cancel_long}")
        if self.vpin_bucket > 1 << 60:
            raise ValueError(f"FeatureParams.vpin_bucket {self.vpin_bucket} is too large")


def describe() -> dict:
    """The layout as plain data (written into every features Parquet file)."""
    return {"version": LAYOUT_VERSION, "names": list(NAMES), "units": [UNITS[n] for n in NAMES]}
