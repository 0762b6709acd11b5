"""The driver: runs any strategy over any venue. Events in, strategy callbacks, orders out
through the OMS, reports back.

The venue owns the event loop (bot.venues.base.Venue.run): for the simulated venue it is
C (engine.simdriver), which advances the market and our orders to each decision time and
calls back into Python only when the step has reports (`_on_reports`) and at the step
itself (`_on_step`, or the strategy's on_decision directly when nothing else is needed).
The driver hands reports to the OMS, the OMS's changes to the session journal
(bot.store.session.OmsJournal: with a store the strategy is told of each change once it
is durable; without one it reads the OMS itself, `OmsView`, and no record is made), and
the strategy's actions to the OMS and from its outbox to the venue at the step's action
time (feed time + market-data latency).

Money stays exact: the OMS portfolio keeps tick-lots as Fractions, fees arrive as
Decimals of the quote asset; the summary converts with the instrument's tick and lot size.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import numpy as np

from bot.model import Instrument, OrderType, Side, TimeInForce
from bot.oms import Amend, Cancel, OrderManager, Submit
from bot.store.session import SessionRecorder, SessionStore, StrategyView
from bot.strategy.api import Bar, Context, Strategy, StrategyError, overridden
from engine.events import EV_TRADE

_TRADE = EV_TRADE


class OmsView:
    """What the strategy knows when nothing is journaled: the OMS as it stands (every
    report is told at once). The same questions as bot.store.session.StrategyView."""

    def __init__(self, oms: OrderManager):
        self.orders = oms.orders
        self._position = oms.portfolio.position(oms.symbol)

    @property
    def position(self) -> int:
        return self._position.qty

    def live(self, client_id: str) -> bool:
        o = self.orders.get(client_id)
        return o is not None and not o.state.terminal

    def open_ids(self) -> list[str]:
        return [c for c, o in self.orders.items() if not o.state.terminal]


@dataclass
class RunResult:
    """What a run did, exactly; `summary()` gives it in quote currency."""

    instrument: Instrument
    strategy: str
    events: int
    seconds: float
    steps: int
    orders_sent: int
    rejects: Counter
    fills: list
    position_lots: int
    realized_ticklots: Fraction
    unrealized_ticklots: Fraction
    fees_quote: Decimal
    volume_quote: Decimal
    last_mid_ticks: Fraction | None
    queue: dict
    conservation_gap: Fraction
    order_states: Counter = field(default_factory=Counter)
    store: dict | None = None
    oms: OrderManager | None = None

    def to_quote(self, ticklots: Fraction) -> Decimal:
        """Quote currency, rounded to 1e-8 for display (the books stay exact)."""
        unit = self.instrument.tick_size * self.instrument.lot_size
        return (Decimal(ticklots.numerator) * unit / Decimal(ticklots.denominator)).quantize(
            Decimal("0.00000001"))

    def summary(self) -> dict:
        maker = sum(1 for f in self.fills if f.liquidity == "maker")
        return {
            "instrument": f"{self.instrument.venue}:{self.instrument.symbol}",
            "strategy": self.strategy,
            "events": self.events,
            "replay_seconds": round(self.seconds, 3),
            "decision_steps": self.steps,
            "orders_sent": self.orders_sent,
            "rejects": dict(self.rejects),
            "order_states": dict(self.order_states),
            "fills": len(self.fills),
            "maker_fills": maker,
            "taker_fills": len(self.fills) - maker,
            "volume_quote": f"{self.volume_quote:.2f}",
            "fees_quote": f"{self.fees_quote:.8f}",
            "position": str(self.instrument.lots_to_qty(self.position_lots)),
            "realized_pnl_quote": f"{self.to_quote(self.realized_ticklots):.8f}",
            "unrealized_pnl_quote": f"{self.to_quote(self.unrealized_ticklots):.8f}",
            "net_pnl_quote": f"{self.to_quote(self.realized_ticklots + self.unrealized_ticklots) - self.fees_quote:.8f}",
            "conservation_gap": str(self.conservation_gap),
            "queue": self.queue,
            **({"store": self.store} if self.store is not None else {}),
        }


class Driver:
    """Run `strategy` on `venue`, a decision step every `interval_ns` of feed time.

    session: journal every order event and fill to a store (bot.store.session.SessionStore).
    on_told(record, watermark): sees each journal record as the strategy is told it."""

    def __init__(self, venue, strategy: Strategy, *, interval_ns: int = 100_000_000,
                 session: SessionStore | None = None, on_told=None):
        if not isinstance(strategy, Strategy):
            raise StrategyError(f"strategy must be a bot.strategy.Strategy, got {type(strategy).__name__}")
        if isinstance(interval_ns, bool) or not isinstance(interval_ns, int) or interval_ns < 1:
            raise StrategyError(f"interval_ns must be an int >= 1, got {interval_ns!r}")
        self.venue = venue
        self.strategy = strategy
        self.interval_ns = interval_ns
        inst = venue.instrument
        self.unit = inst.tick_size * inst.lot_size
        self.oms = OrderManager(symbol=inst.symbol)
        if session is not None or on_told is not None:
            self.told = StrategyView()
            self.recorder = SessionRecorder(session, inst, self.told, on_told)
        else:
            self.told = OmsView(self.oms)
            self.recorder = None
        self.ended = False
        self.rejects: Counter = Counter()
        self.fills: list = []
        self.fees = Decimal(0)
        self.sent = 0
        self.steps = 0
        self.now = 0
        self.running = False  # inside venue.run: the clock is the venue's step time
        self._timers: list[tuple[int, str]] = []
        self._callbacks = overridden(strategy)
        self._features = None
        self._bar = None
        self._last_touch = None
        self.ctx = Context(self)

    # ---- strategy actions (through Context) -------------------------------------------
    def submit(self, cid: str, side: Side, qty: int, price: int | None, kind: OrderType,
               tif: TimeInForce) -> None:
        if cid in self.oms.orders:
            raise StrategyError(f"client id {cid!r} was already used in this run")
        self.oms.submit(cid, side, qty, price, kind, tif)
        self._send()

    def cancel(self, cid: str) -> None:
        self.oms.cancel(cid)
        self._send()

    def amend(self, cid: str, price: int, qty: int) -> None:
        o = self.oms._get(cid)
        if o.state.terminal:
            raise StrategyError(f"order {cid} is {o.state.value}: nothing to amend")
        self.oms.outbox.append(Amend(cid, price, qty))
        self._send()

    def group(self, make) -> None:
        """A contingent group (OCO, OTO, bracket): the OMS makes it, its orders go out."""
        make(self.oms)
        self._send()

    def set_timer(self, name: str, at_ns: int) -> None:
        if isinstance(at_ns, bool) or not isinstance(at_ns, int):
            raise StrategyError(f"timer {name!r}: at_ns must be an int, got {at_ns!r}")
        self._timers.append((at_ns, name))
        self._timers.sort()

    def _send(self) -> None:
        """Drain the OMS outbox into the venue at this step's action time."""
        venue, oms = self.venue, self.oms
        if self.ended:
            oms.outbox.clear()
            raise StrategyError("the data has ended: no order can be sent from on_stop")
        t = venue.act_ts
        while oms.outbox:
            req = oms.outbox.popleft()
            if isinstance(req, Submit):
                o = req.order
                if self.recorder is not None:
                    self.told.intend(o.client_id, o.price)  # a strategy knows its own orders at once
                    self.recorder.submitted(o, t)
                venue.submit(t, o.client_id, o.side, o.qty, o.price or 0,
                             "ioc" if o.kind == OrderType.MARKET else o.tif,
                             kind="stop" if o.kind == OrderType.STOP else "limit")
                self.sent += 1
            elif isinstance(req, Cancel):
                venue.cancel(t, req.client_id)
            else:
                venue.amend(t, req.client_id, req.price, req.qty)

    # ---- reports -------------------------------------------------------------------------
    def _apply(self, r) -> None:
        oms, kind = self.oms, r.kind
        if kind == "fill":
            if self.recorder is not None:
                r = self.recorder.fill_report(r)
            self.fees += r.fee
            self.fills.append(r)
            oms.on_fill(r.client_id, r.qty, r.price, Fraction(r.fee) / Fraction(self.unit))
        elif kind == "ack":
            oms.on_ack(r.client_id)
        elif kind == "reject":
            oms.on_reject(r.client_id, r.reason)
            self.rejects[r.reason] += 1
        elif kind == "cancelled":
            oms.on_cancelled(r.client_id)
        elif kind == "expired":
            oms.on_expired(r.client_id)
        elif kind == "amended":
            oms.on_amended(r.client_id, r.price, r.qty)
        elif kind == "amend_reject":
            oms.on_amend_rejected(r.client_id)
        # cancel_reject: the order had already finished; its fill or end report says how
        order = oms.orders[r.client_id]
        if self.recorder is not None:
            self.recorder.reported(r, order)
        cb = self._callbacks
        if kind == "fill":
            if "on_fill" in cb:
                self.strategy.on_fill(self.ctx, r.to_fill())
        elif "on_order" in cb and kind != "cancel_reject":
            self.strategy.on_order(self.ctx, order, r)

    def _on_reports(self, reports) -> None:
        for r in self.venue.decode(reports):
            self._apply(r)
        if self.oms.outbox:
            self._send()

    # ---- the step ------------------------------------------------------------------------
    def _on_step(self) -> None:
        """The general step: journal delivery, the market callbacks, timers, features."""
        venue, strat, ctx, cb = self.venue, self.strategy, self.ctx, self._callbacks
        self.now = t = venue.now
        if self.recorder is not None:
            self.recorder.deliver()
        if self._features is not None or "on_trade" in cb or "on_bar" in cb:
            lo, hi = venue.step_rows()
            rows = venue.events[lo:hi]
            if self._features is not None and hi > lo:
                self._features.process(self._book, rows)
            if "on_trade" in cb or "on_bar" in cb:
                trades = rows[rows["kind"] == _TRADE]
                if len(trades):
                    if "on_trade" in cb:
                        strat.on_trade(ctx, trades)
                    if "on_bar" in cb:
                        self._bars(trades)
        if "on_book" in cb:
            touch = venue.touch()
            if touch != self._last_touch:
                self._last_touch = touch
                strat.on_book(ctx)
        while self._timers and self._timers[0][0] <= t:
            _, name = self._timers.pop(0)
            strat.on_timer(ctx, name)
        if "on_decision" in cb:
            strat.on_decision(ctx, self._features.sample() if self._features is not None else None)

    def _bars(self, trades: np.ndarray) -> None:
        width = self.strategy.bar_interval_ns
        for ts, px, qty in zip(trades["ts_local"].tolist(), trades["price"].tolist(), trades["qty"].tolist()):
            start = ts - ts % width
            b = self._bar
            if b is not None and start != b[0]:
                self.strategy.on_bar(self.ctx, Bar(*b))
                b = None
            if b is None:
                self._bar = [start, px, px, px, px, qty, 1]
            else:
                b[2], b[3], b[4] = max(b[2], px), min(b[3], px), px
                b[5] += qty
                b[6] += 1

    # ---- the run -------------------------------------------------------------------------
    def run(self) -> RunResult:
        venue, inst, recorder = self.venue, self.venue.instrument, self.recorder
        events = venue.events
        if len(events) == 0:
            raise StrategyError("no events to run on")
        t0 = time.perf_counter()
        start = int(events["ts_local"][0])
        end = int(events["ts_local"][-1])
        if self.strategy.wants_features:
            from engine.book import Book
            from engine.features import Features

            self._book, self._features = Book(), Features()
        cb = self._callbacks
        general = (recorder is not None or self._features is not None
                   or bool(cb & {"on_trade", "on_bar", "on_book", "on_timer"}))
        if general:
            step = self._on_step
        elif "on_decision" in cb:
            # nothing but the decision: the C loop calls the strategy itself
            step = functools.partial(self.strategy.on_decision, self.ctx, None)
        else:
            step = None
        store_info = None
        try:
            if recorder is not None:
                recorder.start(self.oms, start)
            if "on_start" in cb:
                self.now = start
                self.strategy.on_start(self.ctx)
            self.running = True
            try:
                venue.run(start, end, self.interval_ns, self._on_reports, step)
            finally:
                self.running = False
            self.steps = venue.steps
            touch = venue.touch()
            last_mid = Fraction(touch[0] + touch[2], 2) if 0 < touch[0] < touch[2] else None
            self.now = end
            for r in venue.finish():
                self._apply(r)
            self.ended = True
            if recorder is not None:
                recorder.deliver(everything=True)
            if "on_stop" in cb:
                self.strategy.on_stop(self.ctx)
            if recorder is not None:
                store_info = recorder.finish(self.oms, end)
        finally:
            if recorder is not None:
                recorder.abort()
        p = self.oms.portfolio
        pos = p.position(inst.symbol)
        unreal = pos.qty * last_mid - pos.cost_basis if last_mid is not None else Fraction(0)
        return RunResult(
            instrument=inst, strategy=type(self.strategy).__name__, events=len(events),
            seconds=time.perf_counter() - t0, steps=self.steps, orders_sent=self.sent,
            rejects=self.rejects, fills=self.fills, position_lots=pos.qty,
            realized_ticklots=pos.realized_pnl, unrealized_ticklots=unreal, fees_quote=self.fees,
            volume_quote=sum((f.price * f.qty * self.unit for f in self.fills), Decimal(0)),
            last_mid_ticks=last_mid, queue=venue.queue_summary(),
            conservation_gap=p.conservation_gap(),
            order_states=Counter(o.state.value for o in self.oms.orders.values()),
            store=store_info, oms=self.oms)
