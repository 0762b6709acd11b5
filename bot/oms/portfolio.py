"""Positions, average cost, realized/unrealized PnL and fees in exact arithmetic.

Money is kept in tick-lots (price ticks * quantity lots; the instrument's tick_size *
lot_size converts to quote currency at the edges) as ``fractions.Fraction``: average cost
divides, so an exact rational is the only way to keep every unit. Average-cost method:

  * a fill that opens or extends a position adds price*qty to the cost basis;
  * a fill that reduces it removes cost_basis * closed / |position| and realizes
    (exit price - average cost) * closed * sign(position); the rest (a flip) opens anew;
  * cash moves by -price*qty for buys, +price*qty for sells, and -fee for every fee (a
    negative fee is a rebate).

Identity (tested over random sequences, to the last unit):
    initial_cash == cash + cost_basis + fees_paid - realized_pnl
"""

from __future__ import annotations

from fractions import Fraction

from bot.model import Position, Side


class PortfolioError(ValueError):
    """A fill or cash movement the portfolio cannot book (bad side, quantity or price)."""


def _check_int(name, v, positive=True):
    if isinstance(v, bool) or not isinstance(v, int) or (positive and v <= 0):
        raise PortfolioError(f"{name} must be a {'positive ' if positive else ''}int, got {v!r}")


class Portfolio:
    def __init__(self, initial_cash=0):
        self.initial_cash = Fraction(initial_cash)
        self.cash = Fraction(initial_cash)
        self.fees_paid = Fraction(0)
        self.positions: dict[str, Position] = {}

    def position(self, symbol: str) -> Position:
        return self.positions.setdefault(symbol, Position())

    def apply_fill(self, symbol: str, side: str, qty: int, price: int, fee=0) -> Fraction:
        """Book one fill; returns the PnL it realized. Checks everything before changing."""
        if side not in (Side.BUY, Side.SELL):
            raise PortfolioError(f"side must be 'buy' or 'sell', got {side!r}")
        _check_int("qty", qty)
        _check_int("price", price)
        fee = Fraction(fee)
        pos = self.position(symbol)
        signed = qty if side == "buy" else -qty
        realized = Fraction(0)
        if pos.qty == 0 or (pos.qty > 0) == (signed > 0):
            pos.cost_basis += signed * Fraction(price)
            pos.qty += signed
        else:
            closed = min(qty, abs(pos.qty))
            removed = pos.cost_basis * closed / abs(pos.qty)
            direction = 1 if pos.qty > 0 else -1
            realized = direction * (closed * Fraction(price)) - removed
            pos.cost_basis -= removed
            pos.qty += direction * -closed
            opened = qty - closed
            if opened:
                pos.cost_basis += (signed // qty) * opened * Fraction(price)
                pos.qty += (signed // qty) * opened
            pos.realized_pnl += realized
        self.cash -= signed * Fraction(price) + fee
        self.fees_paid += fee
        return realized

    @property
    def realized_pnl(self) -> Fraction:
        return sum((p.realized_pnl for p in self.positions.values()), Fraction(0))

    @property
    def cost_basis(self) -> Fraction:
        return sum((p.cost_basis for p in self.positions.values()), Fraction(0))

    def unrealized_pnl(self, marks: dict[str, int]) -> Fraction:
        return sum((p.unrealized_pnl(marks[s]) for s, p in self.positions.items() if p.qty),
                   Fraction(0))

    def conservation_gap(self) -> Fraction:
        """initial_cash - (cash + cost_basis + fees_paid - realized_pnl); 0 when consistent."""
        return self.initial_cash - (self.cash + self.cost_basis + self.fees_paid - self.realized_pnl)
