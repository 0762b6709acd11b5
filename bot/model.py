"""The trading vocabulary every domain shares: sides, order types, time in force, order
states, orders, fills, positions and instrument specs. Defined once, here; the OMS, the
venues, the strategies and the reports use these types, and the store converts them to its
own integer codes at its edge (bot.store.records).

Numbers are exact: prices int ticks, quantities int lots, money in tick-lots (price ticks *
quantity lots) as ints or Fractions; an Instrument converts decimal text to ticks and lots
and back without floats. The enums are string enums, so ``Side.BUY == "buy"``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell (the sign of the position change)."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    STOP = "stop"  # stop-market: price is the trigger


class TimeInForce(enum.StrEnum):
    GTC = "gtc"  # good till cancelled
    IOC = "ioc"  # immediate or cancel
    FOK = "fok"  # fill or kill
    GTD = "gtd"  # good till a time


class Liquidity(enum.StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class OrderState(enum.StrEnum):
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


class InvalidTransition(ValueError):
    """An order was asked to move to a state its current state cannot reach."""


class OrderError(ValueError):
    """An order field or a report about an order is invalid."""


def as_member(kind, value, what):
    """`value` as a member of `kind` (a member, or its string value); OrderError otherwise."""
    member = kind._value2member_map_.get(value) if isinstance(value, str) else None
    if member is None:
        raise OrderError(f"{what} must be one of {tuple(m.value for m in kind)}, got {value!r}")
    return member


@dataclass
class Order:
    client_id: str
    side: Side
    qty: int  # total quantity in lots (an amend changes it)
    price: int | None  # limit price, or trigger price for stops, in ticks
    kind: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
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
        if type(self.side) is not Side:
            self.side = as_member(Side, self.side, "side")
        if type(self.kind) is not OrderType:
            self.kind = as_member(OrderType, self.kind, "kind")
        if type(self.tif) is not TimeInForce:
            self.tif = as_member(TimeInForce, self.tif, "tif")
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


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders. fee: quote currency, exact (negative: rebate)."""

    client_id: str
    side: Side
    price: int  # ticks
    qty: int  # lots
    liquidity: Liquidity
    fee: Decimal
    ts: int  # ns, when it happened at the venue


@dataclass
class Position:
    """A position by the average-cost method (bot.oms.portfolio books fills into it)."""

    qty: int = 0  # signed lots
    cost_basis: Fraction = Fraction(0)  # signed tick-lots of the open position
    realized_pnl: Fraction = Fraction(0)

    @property
    def avg_cost(self) -> Fraction | None:
        return self.cost_basis / self.qty if self.qty else None

    def unrealized_pnl(self, mark: int) -> Fraction:
        return self.qty * Fraction(mark) - self.cost_basis


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
    # Inverse (coin-margined) contracts: quote value of one contract (lot_size counts
    # contracts then); None for everything quoted in base units.
    contract_size: Decimal | None = None

    def __post_init__(self):
        for name in ("tick_size", "lot_size"):
            v = getattr(self, name)
            if not isinstance(v, Decimal) or not v.is_finite() or v <= 0:
                raise InstrumentError(f"{self.venue}:{self.symbol} {name} must be a positive Decimal, got {v!r}")
        c = self.contract_size
        if c is not None and (not isinstance(c, Decimal) or not c.is_finite() or c <= 0):
            raise InstrumentError(f"{self.venue}:{self.symbol} contract_size must be a positive Decimal, got {c!r}")
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
