"""Features. Microstructure: the versioned vector layout (layout.py) and the batch driver
that turns an event array into a feature time series (compute.py); the per-event work is
in C (csrc/micro_features.c) behind engine.features. Bar (TA) features: ta.py."""

from engine.feature_layout import LAYOUT_VERSION, N_FEATURES, NAMES, FeatureParams

__all__ = ["LAYOUT_VERSION", "N_FEATURES", "NAMES", "FeatureParams"]
