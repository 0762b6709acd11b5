"""The built-in market maker: one quote a side around the microprice.

microprice = (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty), the touch prices
weighted by the opposite side's size (Stoikov 2018, "The micro-price", first-order form:
the imbalance-weighted mid). Quotes sit half_spread_ticks either side of it, shifted
against inventory by skew_ticks per order-size of position, never crossing the touch, and
a side stops quoting at max_position. A working quote is replaced (cancel, then a new
order) only when its target moved requote_ticks or more. Exact arithmetic on ints: with
microprice N/D and skew S/Q, the buy quote floor(N/D - h - S/Q) is one floor division of
N*Q - h*D*Q - S*D by D*Q (and the sell quote one ceiling division), so no Fraction is
built per decision. Without order_qty the quote size is about twice the venue's minimum
notional at the first touch seen.
"""

from __future__ import annotations

from decimal import ROUND_CEILING
from fractions import Fraction

from bot.model import Instrument
from bot.strategy.api import Context, Strategy, StrategyError


def default_order_qty(inst: Instrument, price_ticks: int) -> int:
    """Lots worth about twice the venue's minimum notional at this price (at least 1)."""
    unit = inst.tick_size * inst.lot_size
    if inst.min_notional <= 0:
        return 1
    need = (2 * inst.min_notional) / (price_ticks * unit)
    return max(1, int(need.to_integral_value(rounding=ROUND_CEILING)))


class MicropriceMM(Strategy):
    def __init__(self, order_qty: int | None = None, half_spread_ticks: int = 1, skew_ticks: int = 1,
                 max_position: int = 0, requote_ticks: int = 2):
        for name, v, lo in (("half_spread_ticks", half_spread_ticks, 1), ("skew_ticks", skew_ticks, 0),
                            ("max_position", max_position, 0), ("requote_ticks", requote_ticks, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise StrategyError(f"{name} must be an int >= {lo}, got {v!r}")
        if order_qty is not None and (isinstance(order_qty, bool) or not isinstance(order_qty, int)
                                      or order_qty < 1):
            raise StrategyError(f"order_qty must be an int >= 1 (lots), got {order_qty!r}")
        self.order_qty = order_qty
        self.half_spread_ticks = half_spread_ticks
        self.skew_ticks = skew_ticks
        self.max_position = max_position
        self.requote_ticks = requote_ticks
        # side -> (client id, price) of the working quote, or None
        self.working: dict[str, tuple[str, int] | None] = {"buy": None, "sell": None}

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
        n = bid_px * ask_qty + ask_px * bid_qty  # microprice = n / d
        d = bid_qty + ask_qty
        q = self.order_qty
        dq = d * q
        skew = self.skew_ticks * position * d  # skew_ticks * position / q, over d * q
        half = self.half_spread_ticks * dq
        buy = (n * q - half - skew) // dq
        sell = -((skew - n * q - half) // dq)  # ceil((n * q + half - skew) / dq)
        buy = min(buy, ask_px - 1)    # stay passive: never at or through the opposite touch
        sell = max(sell, bid_px + 1)
        limit = self.max_position or 5 * self.order_qty
        return {"buy": buy if position < limit and buy > 0 else None,
                "sell": sell if position > -limit else None}

    def on_decision(self, ctx: Context, features) -> None:
        bid, bid_qty, ask, ask_qty = ctx.market.touch()
        if not 0 < bid < ask:
            return
        if self.order_qty is None:
            self.order_qty = default_order_qty(ctx.instrument, bid)
        want = self.quotes(bid, bid_qty, ask, ask_qty, ctx.position)
        working = self.working
        for side, px in want.items():
            quote = working[side]
            live = quote is not None and ctx.is_open(quote[0])
            if live and self.keep(quote[1], px):  # never amended: its price is the one sent
                continue
            if live:
                ctx.cancel(quote[0])
            working[side] = (ctx.submit(side, self.order_qty, px), px) if px is not None else None
