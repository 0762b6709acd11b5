"""Instrument specs: exact conversion between exchange decimal strings and int64 ticks/lots.

Inside the engine prices are int64 ticks and quantities int64 lots; the spec converts at
the edges. Conversion is exact (no float): a value that is not a whole number of ticks or
lots is an error naming the value, never a rounding.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class InstrumentError(ValueError):
    """A value does not fit the instrument's tick or lot grid, or the spec is invalid."""


def _scale_of(step: Decimal) -> int:
    """Decimal places of a step like 0.01 -> 2 (steps are powers of ten times 1, 2 or 5)."""
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp))


@dataclass(frozen=True)
class Instrument:
    venue: str
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal = Decimal(0)

    def __post_init__(self):
        for name in ("tick_size", "lot_size"):
            v = getattr(self, name)
            if not isinstance(v, Decimal) or not v.is_finite() or v <= 0:
                raise InstrumentError(f"{self.venue}:{self.symbol} {name} must be a positive Decimal, got {v!r}")
        # A step that divides 10**-scale evenly lets text convert by integer arithmetic.
        for name in ("tick_size", "lot_size"):
            step = getattr(self, name)
            scale = _scale_of(step)
            units = step.scaleb(scale)
            if units != units.to_integral_value():
                raise InstrumentError(f"{self.venue}:{self.symbol} {name} {step} is not a decimal step")
        object.__setattr__(self, "_price_scale", _scale_of(self.tick_size))
        object.__setattr__(self, "_qty_scale", _scale_of(self.lot_size))
        object.__setattr__(self, "_tick_units", int(self.tick_size.scaleb(self._price_scale)))
        object.__setattr__(self, "_lot_units", int(self.lot_size.scaleb(self._qty_scale)))

    # -- text -> int -------------------------------------------------------------------
    def price_to_ticks(self, text: str) -> int:
        return _text_to_steps(text, self._price_scale, self._tick_units, "price", self)

    def qty_to_lots(self, text: str) -> int:
        return _text_to_steps(text, self._qty_scale, self._lot_units, "quantity", self)

    # -- int -> Decimal ----------------------------------------------------------------
    def ticks_to_price(self, ticks: int) -> Decimal:
        return self.tick_size * int(ticks)

    def lots_to_qty(self, lots: int) -> Decimal:
        return self.lot_size * int(lots)


def decimal_text_units(text: str, scale: int) -> int:
    """'61837.63000000' at scale 2 -> 6183763, exactly. Raises ValueError(text) for anything
    that is not a plain non-negative decimal, or that is finer than 10**-scale."""
    whole, dot, frac = text.partition(".")
    # Grammar: digits, optionally '.' and digits. Rejects '', '.5', '5.', '-1', '1e5', 'nan'.
    if not (whole.isascii() and whole.isdigit()) or (dot and not (frac.isascii() and frac.isdigit())):
        raise ValueError(text)
    if len(frac) > scale:
        if frac[scale:].strip("0"):
            raise ValueError(text)
        frac = frac[:scale]
    digits = whole + frac.ljust(scale, "0")
    return int(digits)


def _text_to_steps(text, scale: int, step_units: int, what: str, inst: Instrument) -> int:
    s = text if isinstance(text, str) else str(text)
    try:
        units = decimal_text_units(s, scale)
    except ValueError:
        raise InstrumentError(
            f"{inst.venue}:{inst.symbol} {what} {s!r} is not a non-negative decimal on the 10^-{scale} grid") from None
    steps, rem = divmod(units, step_units)
    if rem:
        raise InstrumentError(f"{inst.venue}:{inst.symbol} {what} {s!r} is not a multiple of the step")
    return steps


def parse_decimal(text: str, what: str) -> Decimal:
    try:
        v = Decimal(text)
    except InvalidOperation:
        raise InstrumentError(f"{what} {text!r} is not a decimal number") from None
    if not v.is_finite():
        raise InstrumentError(f"{what} {text!r} is not finite")
    return v


# Specs for the instruments Bot4 replays out of the box (Binance, August 2024). The lot is
# the finest quantity the feed carries: spot book levels and trades show 6 decimals
# (finer than the 0.00001 order step), so the engine must represent them exactly.
BUILTIN = {
    ("binance-spot", "BTCUSDT"): Instrument("binance-spot", "BTCUSDT", Decimal("0.01"), Decimal("0.000001"), Decimal("5")),
    ("binance-usdm", "BTCUSDT"): Instrument("binance-usdm", "BTCUSDT", Decimal("0.1"), Decimal("0.001"), Decimal("100")),
}


def lookup(venue: str, symbol: str) -> Instrument:
    try:
        return BUILTIN[(venue, symbol.upper())]
    except KeyError:
        known = ", ".join(f"{v}:{s}" for v, s in sorted(BUILTIN))
        raise InstrumentError(f"no instrument spec for {venue}:{symbol}; known: {known}") from None
