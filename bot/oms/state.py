"""Order state machine.

States: new -> acknowledged -> partially_filled -> filled, and the other terminal states
cancelled, rejected, expired. ``Order.transition`` refuses anything not in ``TRANSITIONS``
with :class:`InvalidTransition` naming the order, the current state and the requested one.
Quantities are int lots, prices int ticks; the filled notional is kept as an int
(sum of price * qty in tick-lots) so the average fill price is an exact Fraction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from fractions import Fraction


class OrderState(enum.Enum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED,
                      OrderState.EXPIRED})

S = OrderState
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.NEW: frozenset({S.ACKNOWLEDGED, S.REJECTED, S.CANCELLED}),
    S.ACKNOWLEDGED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}

SIDES = ("buy", "sell")
KINDS = ("limit", "market", "stop")


class InvalidTransition(ValueError):
    """An order was asked to move to a state its current state cannot reach."""


class OrderError(ValueError):
    """An order field or a report about an order is invalid."""


@dataclass
class Order:
    client_id: str
    side: str
    qty: int  # total quantity in lots (an amend changes it)
    price: int | None  # limit price, or trigger price for stops, in ticks
    kind: str = "limit"
    tif: str = "gtc"
    state: OrderState = OrderState.NEW
    filled: int = 0
    filled_notional: int = 0  # sum of fill price * fill qty, tick-lots
    fees: Fraction = Fraction(0)
    group: str | None = None
    role: str = "single"  # single, oco, oto_parent, oto_child, entry, stop, target
    history: list[OrderState] = field(default_factory=list)

    def __post_init__(self):
        if not isinstance(self.client_id, str) or not self.client_id:
            raise OrderError(f"client_id must be a non-empty string, got {self.client_id!r}")
        if self.side not in SIDES:
            raise OrderError(f"side must be one of {SIDES}, got {self.side!r}")
        if self.kind not in KINDS:
            raise OrderError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.qty, bool) or not isinstance(self.qty, int) or self.qty <= 0:
            raise OrderError(f"qty must be a positive int (lots), got {self.qty!r}")
        if self.kind == "market":
            if self.price is not None:
                raise OrderError(f"price must be None for a market order, got {self.price!r}")
        elif isinstance(self.price, bool) or not isinstance(self.price, int) or self.price <= 0:
            raise OrderError(f"price must be a positive int (ticks), got {self.price!r}")
        self.history.append(self.state)

    @property
    def leaves(self) -> int:
        return 0 if self.state.terminal else self.qty - self.filled

    @property
    def avg_price(self) -> Fraction | None:
        return Fraction(self.filled_notional, self.filled) if self.filled else None

    def transition(self, new: OrderState) -> None:
        if new not in TRANSITIONS[self.state]:
            raise InvalidTransition(
                f"order {self.client_id}: cannot go from {self.state.value} to {new.value}")
        self.state = new
        self.history.append(new)

    def apply_fill(self, qty: int, price: int, fee: Fraction = Fraction(0)) -> None:
        """Record a fill; moves to partially_filled or filled. Checks before changing."""
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise OrderError(f"order {self.client_id}: fill qty must be a positive int, got {qty!r}")
        if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
            raise OrderError(f"order {self.client_id}: fill price must be a positive int, got {price!r}")
        if self.filled + qty > self.qty:
            raise OrderError(f"order {self.client_id}: fill of {qty} exceeds leaves "
                             f"{self.qty - self.filled}")
        target = S.FILLED if self.filled + qty == self.qty else S.PARTIALLY_FILLED
        if target not in TRANSITIONS[self.state]:
            raise InvalidTransition(
                f"order {self.client_id}: cannot take a fill in state {self.state.value}")
        self.filled += qty
        self.filled_notional += qty * price
        self.fees += Fraction(fee)
        self.transition(target)

    def amend_qty(self, new_qty: int) -> None:
        """A confirmed quantity change; finishing the order when new_qty == filled."""
        if self.state.terminal:
            raise InvalidTransition(f"order {self.client_id}: cannot amend in state {self.state.value}")
        if isinstance(new_qty, bool) or not isinstance(new_qty, int) or new_qty < self.filled or new_qty <= 0:
            raise OrderError(f"order {self.client_id}: amended qty must be an int >= filled "
                             f"({self.filled}) and > 0, got {new_qty!r}")
        self.qty = new_qty
