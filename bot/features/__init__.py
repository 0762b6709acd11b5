"""Microstructure features: the versioned vector layout (layout.py) and the batch driver
that turns an event array into a feature time series (compute.py). The per-event work is
in C (csrc/features.c) behind engine.features."""

from bot.features.layout import LAYOUT_VERSION, N_FEATURES, NAMES, FeatureParams

__all__ = ["LAYOUT_VERSION", "N_FEATURES", "NAMES", "FeatureParams"]
