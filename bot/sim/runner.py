"""Drive a strategy through the simulated venue with the OMS keeping orders and positions.

Every `interval_ns` of feed time the driver advances the venue to t, hands the reports the
strategy can see by t to the OMS, reads the market's touch at t, asks the strategy for its
quotes and sends changes (cancel + new) at t + market-data latency; the venue adds entry
latency. Money is exact: the OMS portfolio keeps tick-lots as Fractions and fees arrive as
Decimals of quote currency; the summary converts with the instrument's tick and lot size.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import numpy as np

from bot.data.instruments import Instrument
from bot.oms import Amend, Cancel, OrderManager, Submit
from bot.sim.venue import Report, SimVenue, VenueConfig
from bot.strategy.microprice_mm import MicropriceMM


@dataclass
class SimResult:
    instrument: Instrument
    events: int
    seconds: float
    orders_sent: int
    rejects: Counter
    fills: list[Report]
    position_lots: int
    realized_ticklots: Fraction
    unrealized_ticklots: Fraction
    fees_quote: Decimal
    volume_quote: Decimal
    last_mid_ticks: Fraction | None
    queue: dict
    conservation_gap: Fraction
    order_states: Counter = field(default_factory=Counter)

    def to_quote(self, ticklots: Fraction) -> Decimal:
        """Quote currency, rounded to 1e-8 for display (the books stay exact)."""
        unit = self.instrument.tick_size * self.instrument.lot_size
        return (Decimal(ticklots.numerator) * unit / Decimal(ticklots.denominator)).quantize(
            Decimal("0.00000001"))

    def summary(self) -> dict:
        maker = [f for f in self.fills if f.liquidity == "maker"]
        taker = [f for f in self.fills if f.liquidity == "taker"]
        return {
            "instrument": f"{self.instrument.venue}:{self.instrument.symbol}",
            "events": self.events,
            "replay_seconds": round(self.seconds, 3),
            "orders_sent": self.orders_sent,
            "rejects": dict(self.rejects),
            "order_states": dict(self.order_states),
            "fills": len(self.fills),
            "maker_fills": len(maker),
            "taker_fills": len(taker),
            "volume_quote": f"{self.volume_quote:.2f}",
            "fees_quote": f"{self.fees_quote:.8f}",
            "position": str(self.instrument.lots_to_qty(self.position_lots)),
            "realized_pnl_quote": f"{self.to_quote(self.realized_ticklots):.8f}",
            "unrealized_pnl_quote": f"{self.to_quote(self.unrealized_ticklots):.8f}",
            "net_pnl_quote": f"{self.to_quote(self.realized_ticklots + self.unrealized_ticklots) - self.fees_quote:.8f}",
            "conservation_gap": str(self.conservation_gap),
            "queue": self.queue,
        }


def default_order_qty(inst: Instrument, price_ticks: int) -> int:
    """Lots worth about twice the venue's minimum notional at this price (at least 1)."""
    unit = inst.tick_size * inst.lot_size
    need = (2 * inst.min_notional) / (price_ticks * unit) if inst.min_notional > 0 else 1
    return max(1, int(need.to_integral_value(rounding="ROUND_CEILING")))


def send_requests(oms: OrderManager, venue: SimVenue, t: int) -> int:
    """Drain the OMS outbox into the venue at strategy time t; returns requests sent."""
    n = 0
    while oms.outbox:
        req = oms.outbox.popleft()
        if isinstance(req, Submit):
            o = req.order
            venue.submit(t, o.client_id, o.side, o.qty, o.price or 0,
                         tif="ioc" if o.kind == "market" else o.tif,
                         kind="stop" if o.kind == "stop" else "limit")
        elif isinstance(req, Cancel):
            venue.cancel(t, req.client_id)
        elif isinstance(req, Amend):
            venue.amend(t, req.client_id, req.price, req.qty)
        n += 1
    return n


def apply_report(oms: OrderManager, r: Report, unit: Decimal, rejects: Counter | None = None):
    """Hand one venue report to the OMS (fees converted to tick-lots, exactly)."""
    _apply(oms, r, unit, Counter() if rejects is None else rejects)


def _apply(oms: OrderManager, r: Report, unit: Decimal, rejects: Counter):
    if r.kind == "amended":
        oms.on_amended(r.client_id, r.price, r.qty)
    elif r.kind == "amend_reject":
        oms.on_amend_rejected(r.client_id)
    elif r.kind == "ack":
        oms.on_ack(r.client_id)
    elif r.kind == "reject":
        oms.on_reject(r.client_id, r.reason)
        rejects[r.reason] += 1
    elif r.kind == "fill":
        oms.on_fill(r.client_id, r.qty, r.price, Fraction(r.fee) / Fraction(unit))
    elif r.kind == "cancelled":
        oms.on_cancelled(r.client_id)
    elif r.kind == "expired":
        oms.on_expired(r.client_id)
    # cancel_reject: the order had already finished; its fill or end report carries the news


def run_market_maker(events: np.ndarray, inst: Instrument, cfg: VenueConfig,
                     strategy: MicropriceMM | None = None, interval_ns: int = 100_000_000,
                     order_qty: int | None = None) -> SimResult:
    if interval_ns < 1:
        raise ValueError(f"interval_ns must be >= 1, got {interval_ns}")
    if len(events) == 0:
        raise ValueError("no events to simulate on")
    t_start = time.perf_counter()
    venue = SimVenue(events, inst, cfg)
    oms = OrderManager(symbol=inst.symbol)
    unit = inst.tick_size * inst.lot_size
    rejects: Counter = Counter()
    md_rng = np.random.default_rng(cfg.seed + 1)
    working: dict[str, str | None] = {"buy": None, "sell": None}
    sent = 0
    last_mid = None
    t = int(events["ts_local"][0])
    end = int(events["ts_local"][-1])
    while t <= end:
        for r in venue.advance(t):
            _apply(oms, r, unit, rejects)
        b, a = venue.core.best("buy"), venue.core.best("sell")
        if b is not None and a is not None and b[0] < a[0]:
            last_mid = Fraction(b[0] + a[0], 2)
            if strategy is None:
                qty = order_qty or default_order_qty(inst, b[0])
                strategy = MicropriceMM(order_qty=qty)
            pos = oms.portfolio.position(inst.symbol).qty
            want = strategy.quotes(b[0], b[1], a[0], a[1], pos)
            t_act = t + cfg.md_latency.sample(md_rng)
            for side, px in want.items():
                cur = oms.orders.get(working[side]) if working[side] else None
                live = cur is not None and not cur.state.terminal
                if live and strategy.keep(cur.price, px):
                    continue
                if live:
                    oms.cancel(cur.client_id)
                if px is not None:
                    cid = f"{side[0]}{sent}"
                    sent += 1
                    oms.submit(cid, side, strategy.order_qty, px)
                    working[side] = cid
                else:
                    working[side] = None
            send_requests(oms, venue, t_act)
        t += interval_ns
    for r in venue.finish():
        _apply(oms, r, unit, rejects)
    p = oms.portfolio
    pos = p.position(inst.symbol)
    unreal = pos.qty * last_mid - pos.cost_basis if last_mid is not None else Fraction(0)
    fills = venue.fills
    return SimResult(
        instrument=inst, events=len(events), seconds=time.perf_counter() - t_start,
        orders_sent=sent, rejects=rejects, fills=fills, position_lots=pos.qty,
        realized_ticklots=pos.realized_pnl, unrealized_ticklots=unreal,
        fees_quote=sum((f.fee for f in fills), Decimal(0)),
        volume_quote=sum((f.price * f.qty * unit for f in fills), Decimal(0)),
        last_mid_ticks=last_mid, queue=venue.queue_summary(),
        conservation_gap=p.conservation_gap(),
        order_states=Counter(o.state.value for o in oms.orders.values()))
