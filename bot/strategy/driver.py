"""The driver: runs any strategy over any venue. Events in, strategy callbacks, orders out
through the OMS, reports back.

The venue owns the event loop (bot.venues.base.Venue.run): for the simulated venue it is
C (engine.simdriver), which advances the market and our orders to each decision time and
calls back into Python only when the step has reports (`_on_reports`) and at the step
itself (`_on_step`, or the strategy's on_decision directly when nothing else is needed).

Two ways orders are kept:
  direct (no journal): a plain order goes from ctx.submit straight to the venue, whose C
        driver applies every report to the order's state, the position and the integer
        books as it pops; the strategy reads those (`VenueView`). A step's reports reach
        Python as one batch, kept as rows; they are decoded only for the strategy's
        on_fill/on_order callbacks and for the orders of contingent groups (OCO, OTO,
        brackets), which the OMS keeps. The summary is computed from the rows at the end.
  journaled (a store, or an on_told observer): every order goes through the OMS, every
        OMS change becomes a journal record (bot.store.session.SessionRecorder) and the
        strategy is told a change once it is durable (StrategyView).
Requests leave at the step's action time (feed time + market-data latency).

Money stays exact: the venue's fees are integer units in C and exact Decimals here; the
portfolio keeps tick-lots as Fractions; the summary converts with the instrument's tick
and lot size.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import numpy as np

from bot.model import Instrument, Order, OrderType, Side, TimeInForce
from bot.oms import Amend, Cancel, OrderManager, Portfolio, Submit
from bot.store.session import SessionRecorder, SessionStore, StrategyView
from bot.strategy.api import Bar, Context, Strategy, StrategyError, overridden
from bot.venues.base import REPORT_KINDS
from engine.events import EV_TRADE

_TRADE = EV_TRADE
_FILL = REPORT_KINDS.index("fill")
_REJECT = REPORT_KINDS.index("reject")


class VenueView:
    """What the strategy knows when nothing is journaled: the reports as the venue's C
    driver applied them (every report is told at once), and the OMS for the orders of
    contingent groups. The same questions as bot.store.session.StrategyView."""

    def __init__(self, venue, oms: OrderManager):
        self.venue = venue
        self.orders = oms.orders

    @property
    def position(self) -> int:
        return self.venue.position

    def live(self, client_id: str) -> bool:
        o = self.orders.get(client_id)
        if o is not None:
            return not o.state.terminal
        return self.venue.has(client_id) and self.venue.live(client_id)

    def open_ids(self) -> list[str]:
        return [c for c in self.venue.client_ids() if self.live(c)]


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
    portfolio: Portfolio | None = None  # every fill booked, average cost, exact
    order_of: Callable[[str], Order] | None = None  # client id -> the order at the end
    client_ids: list[str] = field(default_factory=list)  # every order sent, in order

    @property
    def orders(self) -> dict[str, Order]:
        """Every order at the end, by client id (built on demand)."""
        return {c: self.order_of(c) for c in self.client_ids}

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
            self.told = VenueView(venue, self.oms)
            self.recorder = None
        self.direct = self.recorder is None
        self._rows: list[bytes] = []  # direct: every report row popped, as raw REPORT_DTYPE bytes
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
        self._report_callbacks = bool(self._callbacks & {"on_fill", "on_order"})
        self._features = None
        self._bar = None
        self._last_touch = None
        self.ctx = Context(self)

    # ---- strategy actions (through Context) -------------------------------------------
    def submit(self, cid: str, side: Side, qty: int, price: int | None, kind: OrderType,
               tif: TimeInForce) -> None:
        if cid in self.oms.orders or (self.direct and self.venue.has(cid)):
            raise StrategyError(f"client id {cid!r} was already used in this run")
        if not self.direct:
            self.oms.submit(cid, side, qty, price, kind, tif)
            self._send()
            return
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise StrategyError(f"order {cid}: qty must be a positive int (lots), got {qty!r}")
        if kind is OrderType.MARKET:
            if price is not None:
                raise StrategyError(f"order {cid}: a market order has no price, got {price!r}")
        elif isinstance(price, bool) or not isinstance(price, int) or price <= 0:
            raise StrategyError(f"order {cid}: price must be a positive int (ticks), got {price!r}")
        self._check_open()
        self.venue.submit(self.venue.act_ts, cid, side, qty, price or 0,
                          "ioc" if kind is OrderType.MARKET else tif,
                          kind="stop" if kind is OrderType.STOP else "limit")
        self.sent += 1

    def _plain(self, cid: str) -> bool:
        """A direct order (kept by the venue, not the OMS); unknown ids are an error."""
        if cid in self.oms.orders:
            return False
        if self.direct and self.venue.has(cid):
            return True
        raise StrategyError(f"unknown client order id {cid!r}")

    def cancel(self, cid: str) -> None:
        if self._plain(cid):
            if self.venue.live(cid):  # a finished order needs no cancel (as the OMS does it)
                self._check_open()
                self.venue.cancel(self.venue.act_ts, cid)
            return
        self.oms.cancel(cid)
        self._send()

    def amend(self, cid: str, price: int, qty: int) -> None:
        if self._plain(cid):
            if not self.venue.live(cid):
                raise StrategyError(f"order {cid} is {self.venue.order(cid).state.value}: nothing to amend")
            self._check_open()
            self.venue.amend(self.venue.act_ts, cid, price, qty)
            return
        o = self.oms.orders[cid]
        if o.state.terminal:
            raise StrategyError(f"order {cid} is {o.state.value}: nothing to amend")
        self.oms.outbox.append(Amend(cid, price, qty))
        self._send()

    def balances(self) -> dict[str, Fraction]:
        if self.direct:
            a = self.venue.account()
            return {"base_lots": Fraction(a["position"]),
                    "quote_ticklots": a["cash"] - Fraction(a["fees"]) / Fraction(self.unit)}
        p = self.oms.portfolio
        return {"base_lots": Fraction(p.position(self.oms.symbol).qty),
                "quote_ticklots": p.cash - p.initial_cash}

    def order(self, cid: str) -> Order:
        o = self.oms.orders.get(cid)
        if o is not None:
            return o
        if self.direct and self.venue.has(cid):
            return self.venue.order(cid)
        raise StrategyError(f"unknown client order id {cid!r}")

    def group(self, make) -> None:
        """A contingent group (OCO, OTO, bracket): the OMS makes it, its orders go out."""
        make(self.oms)
        self._send()

    def set_timer(self, name: str, at_ns: int) -> None:
        if isinstance(at_ns, bool) or not isinstance(at_ns, int):
            raise StrategyError(f"timer {name!r}: at_ns must be an int, got {at_ns!r}")
        self._timers.append((at_ns, name))
        self._timers.sort()

    def _check_open(self) -> None:
        if self.ended:
            self.oms.outbox.clear()
            raise StrategyError("the data has ended: no order can be sent from on_stop")

    def _send(self) -> None:
        """Drain the OMS outbox into the venue at this step's action time."""
        venue, oms = self.venue, self.oms
        self._check_open()
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
        """One report about an order the OMS keeps (every order when journaled; the orders
        of contingent groups when direct, where the totals come from the rows instead)."""
        oms, kind = self.oms, r.kind
        if kind == "fill":
            if self.recorder is not None:
                r = self.recorder.fill_report(r)
            if not self.direct:
                self.fees += r.fee
                self.fills.append(r)
            oms.on_fill(r.client_id, r.qty, r.price, Fraction(r.fee) / Fraction(self.unit))
        elif kind == "ack":
            oms.on_ack(r.client_id)
        elif kind == "reject":
            oms.on_reject(r.client_id, r.reason)
            if not self.direct:
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

    def _on_reports(self, rows) -> None:
        if self.direct:
            self._rows.append(rows.tobytes())  # the C loop's view is only valid during the call
            if not (self.oms.orders or self._report_callbacks):
                return
        oms, cb = self.oms, self._callbacks
        for r in self.venue.decode(rows):
            if r.client_id in oms.orders:
                self._apply(r)
            elif r.kind == "fill":  # a direct order: only the strategy is told
                if "on_fill" in cb:
                    self.strategy.on_fill(self.ctx, r.to_fill())
            elif "on_order" in cb and r.kind != "cancel_reject":
                self.strategy.on_order(self.ctx, self.venue.order(r.client_id), r)
        if oms.outbox and not self.ended:
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
            self.ended = True  # what the OMS asks for after the data ended is not sent
            if self.direct:
                rows = venue.finish_rows()
                if len(rows):
                    self._on_reports(rows)
                self._totals_from_rows()
            else:
                for r in venue.finish():
                    self._apply(r)
            if recorder is not None:
                recorder.deliver(everything=True)
            if "on_stop" in cb:
                self.strategy.on_stop(self.ctx)
            if recorder is not None:
                store_info = recorder.finish(self.oms, end)
        finally:
            if recorder is not None:
                recorder.abort()
        if self.direct:
            p = Portfolio()
            for f in self.fills:
                p.apply_fill(inst.symbol, f.side, f.qty, f.price, Fraction(f.fee) / Fraction(self.unit))
            states = Counter(venue.states())
            for o in self.oms.orders.values():  # the groups' orders: the OMS's word
                states[venue.order(o.client_id).state.value] -= 1
                states[o.state.value] += 1
            states = +states
        else:
            p = self.oms.portfolio
            states = Counter(o.state.value for o in self.oms.orders.values())
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
            order_states=states, store=store_info, oms=self.oms, portfolio=p, order_of=self.order,
            client_ids=list(venue.client_ids()) if self.direct else list(self.oms.orders))

    def _totals_from_rows(self) -> None:
        """Direct: the fills, fees and rejects of the run, from every report row popped."""
        if not self._rows:
            return
        rows = np.frombuffer(b"".join(self._rows), dtype=self.venue.report_dtype)
        kinds = rows["kind"]
        self.fills = self.venue.decode(rows[kinds == _FILL])
        self.fees = sum((f.fee for f in self.fills), Decimal(0))
        reasons = self.venue.reason_names
        self.rejects = Counter(reasons[k] for k in rows["reason"][kinds == _REJECT].tolist())
