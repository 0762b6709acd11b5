"""The seeded synthetic market (engine.synth) with its instrument: the default data source,
so every command runs with no recorded data at hand."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from bot.model import Instrument
from engine import synth

INSTRUMENT = Instrument(synth.SPEC["venue"], synth.SPEC["symbol"], Decimal(synth.SPEC["tick_size"]),
                        Decimal(synth.SPEC["lot_size"]), Decimal(synth.SPEC["min_notional"]))


def synthetic_market(n_events: int, seed: int = 0, regime: str = "sideways") -> tuple[np.ndarray, Instrument]:
    """(events, instrument): `n_events` rows of engine.synth.generate and the synthetic spec."""
    return synth.generate(n_events, seed=seed, regime=regime), INSTRUMENT
