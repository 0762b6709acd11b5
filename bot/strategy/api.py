"""The strategy API: what a user writes against, the same for a backtest and a live session.

A strategy is a subclass of :class:`Strategy` that overrides the callbacks it needs; the
driver (bot.strategy.driver) calls only the ones a subclass overrides, so an unused
callback costs nothing. Every callback gets the :class:`Context`, through which the
strategy acts (submit, cancel, amend, OCO/OTO/bracket) and reads its state (position,
balances, open orders), the market (``ctx.market``), the clock (``ctx.now``) and logs.

Callbacks, in the order they can fire within one decision step (every `interval` of feed
time):
  on_start(ctx)                 once, before the first step
  on_order(ctx, order, report)  an order's state changed (ack, reject, cancel, expiry, amend)
  on_fill(ctx, fill)            one of our orders filled (bot.model.Fill)
  on_trade(ctx, trades)         the market trades of the step (EVENT_DTYPE rows, a view)
  on_book(ctx)                  the touch changed since the last step
  on_bar(ctx, bar)              a bar of `bar_interval_ns` closed (bot.strategy.api.Bar)
  on_timer(ctx, name)           a timer set with ctx.set_timer fired
  on_decision(ctx, features)    the decision point: features is the microstructure
                                feature vector (numpy float64 view, layout
                                engine.feature_layout) when the class sets
                                ``wants_features = True``, else None
  on_stop(ctx)                  once, after the data ends and every report is in

Prices are int ticks and quantities int lots (``ctx.instrument`` converts to and from
decimal text). Orders go out through the OMS and reach the venue at the step's action time
(feed time + market-data latency); their reports come back as the venue sends them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from bot.model import Instrument, Order, OrderType, Side, TimeInForce, as_member

CALLBACKS = ("on_start", "on_order", "on_fill", "on_trade", "on_book", "on_bar", "on_timer",
             "on_decision", "on_stop")


class StrategyError(ValueError):
    """A strategy or its parameters are invalid, or it asked for something it cannot do."""


class Strategy:
    """Base class of every strategy. Override the callbacks you need (module docstring).

    Class attributes a subclass may set:
      wants_features   keep the microstructure features and pass the vector to on_decision
      bar_interval_ns  the bar length for on_bar (default one minute)
    Parameters: ``bot4 backtest --param k=v`` passes keyword arguments to ``__init__``.
    """

    wants_features: bool = False
    bar_interval_ns: int = 60_000_000_000

    def on_start(self, ctx: Context) -> None:
        """Called once before the first decision step."""

    def on_order(self, ctx: Context, order: Order, report) -> None:
        """`order` changed state; `report` (bot.venues.base.Report) says how."""

    def on_fill(self, ctx: Context, fill) -> None:
        """One of our orders filled (bot.model.Fill)."""

    def on_trade(self, ctx: Context, trades: np.ndarray) -> None:
        """The market's trades of this step: EVENT_DTYPE rows (price, qty, side = aggressor)."""

    def on_book(self, ctx: Context) -> None:
        """The touch changed since the last step; read it from ctx.market."""

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        """A bar closed (open, high, low, close in ticks, volume in lots)."""

    def on_timer(self, ctx: Context, name: str) -> None:
        """A timer set with ctx.set_timer(name, at_ns) fired."""

    def on_decision(self, ctx: Context, features: np.ndarray | None) -> None:
        """The decision point of every step."""

    def on_stop(self, ctx: Context) -> None:
        """Called once at the end."""


def overridden(strategy: Strategy) -> frozenset[str]:
    """The callbacks `strategy`'s class overrides (the driver calls only these)."""
    cls = type(strategy)
    return frozenset(n for n in CALLBACKS if getattr(cls, n) is not getattr(Strategy, n))


@dataclass(frozen=True, slots=True)
class Bar:
    start_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int  # lots
    trades: int


class MarketView:
    """The market as the driver keeps it from the feed: the touch, depth and last trade.

    In a backtest the book is the recorded book with the liquidity our own orders took
    removed, which is what an exchange's feed shows its users after their trades."""

    __slots__ = ("_venue", "touch")

    def __init__(self, venue):
        self._venue = venue
        # touch() -> (bid price, bid qty, ask price, ask qty); 0, 0 for an empty side. The
        # venue's own method, bound once: the strategy reads it every step.
        self.touch = venue.touch

    @property
    def bid(self) -> int | None:
        b = self._venue.touch()[0]
        return b or None

    @property
    def ask(self) -> int | None:
        a = self._venue.touch()[2]
        return a or None

    @property
    def two_sided(self) -> bool:
        b, _, a, _ = self._venue.touch()
        return 0 < b < a

    @property
    def mid(self) -> Fraction | None:
        b, _, a, _ = self._venue.touch()
        return Fraction(b + a, 2) if 0 < b < a else None

    def depth(self, side: Side | str, n: int = 10) -> np.ndarray:
        """The best n levels of a side: int64 [k, 2] rows of (price ticks, qty lots)."""
        return self._venue.depth(Side(side), n)


class Context:
    """What a strategy acts through. Built by the driver; one per run."""

    def __init__(self, driver):
        self._d = driver
        self.instrument: Instrument = driver.venue.instrument
        self.market = MarketView(driver.venue)
        self.log = logging.getLogger(f"bot4.strategy.{type(driver.strategy).__name__}")
        self._next = 0

    # ---- state --------------------------------------------------------------------------
    @property
    def now(self) -> int:
        """Feed time of the current step, ns."""
        d = self._d
        return d.venue.now if d.running else d.now

    @property
    def position(self) -> int:
        """Signed lots, from the fills the strategy has been told of."""
        return self._d.told.position

    def balances(self) -> dict[str, Fraction]:
        """Flows since the start, exact, from the fills the venue reported so far: the base
        asset in lots and the quote asset (cash after fees) in tick-lots."""
        return self._d.balances()

    def order(self, client_id: str) -> Order:
        """The order as the strategy knows it (bot.model.Order)."""
        return self._d.order(client_id)

    def open_orders(self) -> list[Order]:
        """Orders the strategy has been told are working (or that it sent and awaits)."""
        return [self._d.order(c) for c in self._d.told.open_ids()]

    def is_open(self, client_id: str) -> bool:
        return self._d.told.live(client_id)

    # ---- actions ------------------------------------------------------------------------
    def new_id(self, side: Side | str) -> str:
        """A fresh client id: the side's initial and a per-run counter (b0, s1, ...)."""
        cid = f"{Side(side).value[0]}{self._next}"
        self._next += 1
        return cid

    def submit(self, side: Side | str, qty: int, price: int | None = None, *,
               kind: OrderType | str = OrderType.LIMIT, tif: TimeInForce | str = TimeInForce.GTC,
               client_id: str | None = None) -> str:
        """Send an order; returns its client id. A market order has no price."""
        side = as_member(Side, side, "side")
        cid = client_id or f"{side.value[0]}{self._next}"
        if client_id is None:
            self._next += 1
        self._d.submit(cid, side, qty, price, as_member(OrderType, kind, "kind"), as_member(TimeInForce, tif, "tif"))
        return cid

    def cancel(self, client_id: str) -> None:
        self._d.cancel(client_id)

    def amend(self, client_id: str, price: int, qty: int) -> None:
        """Change a working order's price and total quantity (filled included)."""
        self._d.amend(client_id, price, qty)

    def oco(self, group_id: str, legs: list[dict]) -> None:
        """One-cancels-other: legs are dicts of client_id, side, qty, price, kind."""
        self._d.group(lambda oms: oms.submit_oco(group_id, legs))

    def oto(self, group_id: str, parent: dict, child: dict) -> None:
        """One-triggers-other: the child is sent once the parent has filled completely."""
        self._d.group(lambda oms: oms.submit_oto(group_id, parent, child))

    def bracket(self, group_id: str, side: Side | str, qty: int, price: int | None,
                stop_offset: int, target_offset: int, kind: OrderType | str = OrderType.LIMIT) -> None:
        """Entry with a stop and a target at tick offsets from the average entry price."""
        self._d.group(lambda oms: oms.submit_bracket(group_id, Side(side), qty, price, stop_offset,
                                                     target_offset, OrderType(kind)))

    def set_timer(self, name: str, at_ns: int) -> None:
        """Call on_timer(ctx, name) at the first step at or after feed time at_ns."""
        self._d.set_timer(name, at_ns)
