"""A simple built-in market maker: quote one order a side around the microprice.

microprice = (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty), the touch prices
weighted by the opposite side's size (Stoikov 2018, "The micro-price", first-order form:
the imbalance-weighted mid). Quotes sit half_spread ticks either side of it, shifted
against inventory by skew_ticks per order-size of position, never crossing the touch, and
a side stops quoting at max_position. A working quote is replaced only when its target
moved requote_ticks or more. Exact arithmetic: prices are int ticks, the
microprice a Fraction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class MicropriceMM:
    order_qty: int           # lots per quote
    half_spread_ticks: int = 1
    skew_ticks: int = 1       # quote shift per order_qty of inventory
    max_position: int = 0     # lots; 0 = 5 * order_qty
    requote_ticks: int = 2    # replace a working quote only when the target moved this far

    def __post_init__(self):
        for name in ("order_qty", "half_spread_ticks"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        for name in ("skew_ticks", "max_position", "requote_ticks"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")

    def keep(self, working_price: int, target: int | None) -> bool:
        """Leave a working quote alone when the new target is within requote_ticks of it
        (fewer cancel/replace cycles: venues rate-limit orders)."""
        return target is not None and abs(target - working_price) < max(self.requote_ticks, 1)

    @staticmethod
    def microprice(bid_px: int, bid_qty: int, ask_px: int, ask_qty: int) -> Fraction:
        return Fraction(bid_px * ask_qty + ask_px * bid_qty, bid_qty + ask_qty)

    def quotes(self, bid_px: int, bid_qty: int, ask_px: int, ask_qty: int,
               position: int) -> dict[str, int | None]:
        """{'buy': price or None, 'sell': price or None} for the current touch and position."""
        micro = self.microprice(bid_px, bid_qty, ask_px, ask_qty)
        skew = Fraction(self.skew_ticks * position, self.order_qty)
        buy = math.floor(micro - self.half_spread_ticks - skew)
        sell = math.ceil(micro + self.half_spread_ticks - skew)
        buy = min(buy, ask_px - 1)    # stay passive: never at or through the opposite touch
        sell = max(sell, bid_px + 1)
        limit = self.max_position or 5 * self.order_qty
        return {"buy": buy if position < limit and buy > 0 else None,
                "sell": sell if position > -limit else None}
