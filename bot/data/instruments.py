"""Instrument specs Bot4 knows (bot.model.Instrument converts exactly between exchange
decimal text and int64 ticks/lots), and decimal parsing for spec files and options."""

from decimal import Decimal, InvalidOperation

from bot.model import Instrument, InstrumentError


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
