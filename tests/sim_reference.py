"""A plain-Python model of the simulated venue: the reference the C driver
(engine.simdriver, behind bot.venues.sim.SimVenue) is checked against report for report.

Our orders meet a recorded (or generated) L2 market with latency, fees, market impact,
venue filters and rate limits; queue positions are the C core's (engine.simvenue). Time is
the feed's local receive time. A request made at strategy time t reaches the venue at
t + entry latency; its acknowledgement, rejection and fills become visible ack latency
after they happen. Latencies are constant or lognormal from one numpy generator in call
order (the C driver draws its own stream: parity holds for constant latencies). Fees are
basis points of the quote notional by 30-day volume tier, exact Decimals; taker fills pay
ceil(price * gamma * sigma * sqrt(Q / ADV)) ticks of impact. Filters at arrival: rate
limit, no liquidity, min notional, percent-price band.

`reference_market_maker` is the decision loop of the market maker as it was written in
Python (cancel and replace around the microprice every interval), for comparing fills.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction

import numpy as np

from bot.model import Instrument
from bot.oms import Amend, Cancel, OrderManager, Submit
from bot.strategy.microprice_mm import MicropriceMM, default_order_qty
from bot.venues.base import Report
from bot.venues.sim import VenueConfig, fee_schedule
from engine import simvenue as core

NS_PER_DAY = 86_400 * 10**9


def latency_sample(lat, rng: np.random.Generator) -> int:
    if lat.sigma == 0 or lat.median_ns == 0:
        return lat.median_ns
    return int(lat.median_ns * math.exp(lat.sigma * rng.standard_normal()))


def impact_ticks(imp, price: int, qty: int) -> int:
    frac = imp.gamma * imp.sigma * math.sqrt(qty / imp.adv_lots)
    return math.ceil(price * frac) if frac > 0 else 0


def fee_rates(fees, volume_30d: Decimal) -> tuple[Decimal, Decimal]:
    tier = fees.tiers[0]
    for t in fees.tiers:
        if volume_30d >= t.min_volume:
            tier = t
    return tier.maker_bps, tier.taker_bps


@dataclass
class _OrderInfo:
    client_id: str
    core_id: int
    side: str
    price: int
    qty: int
    placed_ts: int = 0
    ahead_at_place: int = 0
    filled: int = 0
    first_fill_ts: int | None = None
    kind: str = "limit"


@dataclass
class QueueStats:
    orders_rested: int = 0
    ahead_at_place_total: int = 0
    maker_lots: int = 0
    rested_lots: int = 0
    fill_delays_ns: list = field(default_factory=list)


class SimVenue:
    def __init__(self, events: np.ndarray, instrument: Instrument, config: VenueConfig | None = None):
        config = config if config is not None else VenueConfig()
        self.instrument = instrument
        self.config = config
        self.fees = fee_schedule(config, instrument)
        self.core = core.VenueCore(events, max_orders=config.max_orders,
                                   queue_model=config.queue_model, queue_power=config.queue_power)
        self.rng = np.random.default_rng(config.seed)
        self._pending: list = []  # heap of (arrival_ts, seq, action)
        self._visible: list = []  # heap of (visible_ts, seq, Report)
        self._last_visible: dict[str, int] = {}
        self._seq = 0
        self._orders: dict[str, _OrderInfo] = {}
        self._by_core: dict[int, _OrderInfo] = {}
        self._next_core_id = 1
        self._volume: deque = deque()  # (ts, quote notional) of our fills, for fee tiers
        self._volume_sum = Decimal(0)
        self._rate: deque = deque()
        self.queue = QueueStats()
        self.fills: list[Report] = []
        self._unit = instrument.tick_size * instrument.lot_size  # quote value of one tick-lot

    # ---- strategy side -----------------------------------------------------------------
    def submit(self, t: int, client_id: str, side: str, qty: int, price: int = 0,
               tif: str = "gtc", post_only: bool = False, expire_ts: int = 0,
               kind: str = "limit") -> None:
        """Send an order at strategy time t. kind "limit" (price 0: market) or "stop" (a
        stop-market order; price is its trigger; tif gtc, or gtd with expire_ts)."""
        if kind not in ("limit", "stop"):
            raise ValueError(f"kind must be 'limit' or 'stop', got {kind!r}")
        if kind == "stop" and (price < 1 or tif not in ("gtc", "gtd") or post_only):
            raise ValueError(f"a stop needs a trigger price >= 1 and tif gtc/gtd, got price "
                             f"{price!r} tif {tif!r}")
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
        for name, v, lo in (("qty", qty, 1), ("price", price, 0), ("expire_ts", expire_ts, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
        if tif not in core.TIFS:
            raise ValueError(f"tif must be one of {', '.join(core.TIFS)}, got {tif!r}")
        if price == 0 and tif not in ("ioc", "fok"):
            raise ValueError(f"a market order (price 0) needs tif ioc or fok, got {tif!r}")
        if tif == "gtd" and expire_ts <= t:
            raise ValueError(f"expire_ts must be after the send time for gtd, got {expire_ts}")
        if not isinstance(post_only, bool):
            raise ValueError(f"post_only must be a bool, got {post_only!r}")
        if post_only and (price == 0 or tif not in ("gtc", "gtd")):
            raise ValueError(f"post_only needs a limit price and tif gtc or gtd, got price "
                             f"{price} tif {tif!r}")
        if client_id in self._orders:
            raise ValueError(f"client_id {client_id!r} already used at this venue")
        info = _OrderInfo(client_id, self._next_core_id, side, price, qty, kind=kind)
        self._next_core_id += 1
        self._orders[client_id] = info
        self._by_core[info.core_id] = info
        arrival = t + latency_sample(self.config.entry_latency, self.rng)
        self._schedule(arrival, ("place", info, tif, post_only, expire_ts))

    def amend(self, t: int, client_id: str, price: int, qty: int) -> None:
        """Change a working order to `price` and total quantity `qty` (filled included).
        Reported as "amended" or "amend_reject"; a limit keeps its queue place only when
        the price is unchanged and the quantity does not grow."""
        if client_id not in self._orders:
            raise ValueError(f"unknown client_id {client_id!r}")
        for name, v in (("price", price), ("qty", qty)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        self._schedule(t + latency_sample(self.config.entry_latency, self.rng),
                       ("amend", self._orders[client_id], price, qty))

    def cancel(self, t: int, client_id: str) -> None:
        if client_id not in self._orders:
            raise ValueError(f"unknown client_id {client_id!r}")
        self._schedule(t + latency_sample(self.config.entry_latency, self.rng), ("cancel", self._orders[client_id]))

    def advance(self, t: int) -> list[Report]:
        """Run the venue up to time t; returns the reports the strategy sees by t."""
        while self._pending and self._pending[0][0] <= t:
            arrival, _, action = heapq.heappop(self._pending)
            self._absorb(self.core.run_until(arrival))
            self._act(self._venue_time(arrival), action)
        self._absorb(self.core.run_until(t))
        out = []
        while self._visible and self._visible[0][0] <= t:
            out.append(heapq.heappop(self._visible)[2])
        return out

    def finish(self) -> list[Report]:
        """Replay to the end of the data; every remaining report."""
        end = np.iinfo(np.int64).max
        while self._pending:
            arrival, _, action = heapq.heappop(self._pending)
            self._absorb(self.core.run_until(arrival))
            self._act(self._venue_time(arrival), action)
        self._absorb(self.core.run_until(end))
        out = [r for _, _, r in sorted(self._visible)]
        self._visible.clear()
        return out

    @property
    def done(self) -> bool:
        return self.core.done and not self._pending

    def next_ts(self):
        return self.core.next_ts()

    # ---- internals ----------------------------------------------------------------------
    def _venue_time(self, arrival):
        now = self.core.now
        return arrival if now is None else max(arrival, now)

    def _schedule(self, ts, action):
        self._seq += 1
        heapq.heappush(self._pending, (ts, self._seq, action))

    def _emit(self, report: Report) -> Report:
        # one order's reports reach the strategy in the order they happened (a private
        # stream is ordered per order), whatever the latency draws
        last = self._last_visible.get(report.client_id)
        if last is not None and report.visible_ts < last:
            report = replace(report, visible_ts=last)
        self._last_visible[report.client_id] = report.visible_ts
        self._seq += 1
        heapq.heappush(self._visible, (report.visible_ts, self._seq, report))
        return report

    def _ack_at(self, ts):
        return ts + latency_sample(self.config.ack_latency, self.rng)

    def _reject(self, ts, info, reason):
        self._emit(Report("reject", info.client_id, ts, self._ack_at(ts), info.side, info.price,
                          info.qty, 0, reason=reason))

    def _mid(self):
        b, a = self.core.best("buy"), self.core.best("sell")
        if b is None or a is None:
            return None
        return Fraction(b[0] + a[0], 2)

    def _check_filters(self, ts, info) -> str | None:
        window = self.config.rate_limit_window_ns
        while self._rate and self._rate[0] <= ts - window:
            self._rate.popleft()
        if len(self._rate) >= self.config.rate_limit_orders:
            return "rate_limited"
        self._rate.append(ts)
        ref = info.price
        if ref == 0:
            opp = self.core.best("sell" if info.side == "buy" else "buy")
            if opp is None:
                return "no_liquidity"
            ref = opp[0]
        if ref * info.qty * self._unit < self.instrument.min_notional:
            return "min_notional"
        mid = self._mid()
        band = self.config.percent_price
        if info.price and info.kind == "limit" and mid is not None and not (
                mid * (1 - band) <= info.price <= mid * (1 + band)):
            return "percent_price"
        return None

    def _fee(self, ts, price, qty, liquidity) -> Decimal:
        while self._volume and self._volume[0][0] <= ts - 30 * NS_PER_DAY:
            self._volume_sum -= self._volume.popleft()[1]
        maker_bps, taker_bps = fee_rates(self.fees, self._volume_sum)
        notional = price * qty * self._unit
        self._volume.append((ts, notional))
        self._volume_sum += notional
        return notional * (maker_bps if liquidity == "maker" else taker_bps) / Decimal(10_000)

    def _fill(self, ts, info, price, qty, leaves, liquidity, ahead):
        fee = self._fee(ts, price, qty, liquidity)
        info.filled += qty
        if info.first_fill_ts is None and liquidity == "maker":
            info.first_fill_ts = ts
            self.queue.fill_delays_ns.append(ts - info.placed_ts)
        if liquidity == "maker":
            self.queue.maker_lots += qty
        r = Report("fill", info.client_id, ts, self._ack_at(ts), info.side, price, qty, leaves,
                   liquidity, fee, ahead=ahead)
        self.fills.append(self._emit(r))

    def _act(self, ts, action):
        if action[0] == "cancel":
            info = action[1]
            leaves = self.core.cancel(info.core_id)
            if leaves is None:
                self._emit(Report("cancel_reject", info.client_id, ts, self._ack_at(ts),
                                  info.side, reason="not_working"))
            else:
                self._emit(Report("cancelled", info.client_id, ts, self._ack_at(ts), info.side,
                                  info.price, leaves, 0))
            return
        if action[0] == "amend":
            self._amend(ts, *action[1:])
            return
        _, info, tif, post_only, expire_ts = action
        reason = self._check_filters(ts, info)
        if reason is None and tif == "gtd" and expire_ts <= ts:
            reason = "expired_on_arrival"
        if reason:
            self._reject(ts, info, reason)
            return
        if info.kind == "stop":
            status = self.core.place_stop(info.core_id, info.side, info.price, info.qty,
                                          expire_ts if tif == "gtd" else 0)
            if status != "ok":
                self._reject(ts, info, status)
            else:
                info.placed_ts = ts
                self._emit(Report("ack", info.client_id, ts, self._ack_at(ts), info.side,
                                  info.price, info.qty, info.qty))
            return
        status, reports, resting, ahead = self.core.place(
            ts, info.core_id, info.side, info.price, info.qty, tif, post_only, expire_ts)
        if status != "ok":
            self._reject(ts, info, status)
            return
        self._emit(Report("ack", info.client_id, ts, self._ack_at(ts), info.side, info.price,
                          info.qty, info.qty, ahead=ahead))
        info.placed_ts = ts
        self._absorb(reports)
        if resting:
            self._rested(info, resting, ahead)
        elif info.qty - info.filled > 0:  # IOC / FOK / market remainder is dropped
            self._emit(Report("cancelled", info.client_id, ts, self._ack_at(ts), info.side,
                              info.price, info.qty - info.filled, 0, reason=tif))

    def _rested(self, info, resting, ahead):
        info.ahead_at_place = ahead
        self.queue.orders_rested += 1
        self.queue.ahead_at_place_total += ahead
        self.queue.rested_lots += resting

    def _amend(self, ts, info, price, qty):
        leaves = qty - info.filled
        if leaves <= 0:
            self._emit(Report("amend_reject", info.client_id, ts, self._ack_at(ts), info.side,
                              price, qty, reason="below_filled"))
            return
        # the core keeps a limit's queue place exactly when the price stays and leaves do not grow
        kept = info.kind == "limit" and price == info.price and leaves <= info.qty - info.filled
        status, reports, resting, ahead = self.core.amend(ts, info.core_id, price, leaves)
        if status != "ok":
            self._emit(Report("amend_reject", info.client_id, ts, self._ack_at(ts), info.side,
                              price, qty, reason="not_working" if status == "unknown_id" else status))
            return
        info.price, info.qty = price, qty
        self._emit(Report("amended", info.client_id, ts, self._ack_at(ts), info.side, price, qty,
                          leaves, ahead=ahead))
        self._absorb(reports)
        if info.kind == "limit" and resting and not kept:
            self._rested(info, resting, ahead)

    def _absorb(self, reports):
        """Turn core reports into strategy reports; taker fills pay the impact term on the
        order's whole taken quantity in this batch."""
        taker = core.KINDS.index("taker")
        taken: dict[int, int] = {}
        for r in reports[reports["kind"] == taker]:
            taken[int(r["id"])] = taken.get(int(r["id"]), 0) + int(r["qty"])
        for r in reports:
            info = self._by_core[int(r["id"])]
            kind = core.KINDS[r["kind"]]
            ts = int(r["ts"])
            if kind == "expired":
                self._emit(Report("expired", info.client_id, ts, self._ack_at(ts), info.side,
                                  info.price, int(r["qty"]), 0))
            elif kind == "triggered":
                continue  # the fills that follow carry the news
            elif kind == "dropped":
                self._emit(Report("cancelled", info.client_id, ts, self._ack_at(ts), info.side,
                                  info.price, int(r["qty"]), 0, reason="stop_unfilled"))
            elif kind == "taker":
                px = int(r["price"])
                bump = impact_ticks(self.config.impact, px, taken[int(r["id"])])
                px = px + bump if info.side == "buy" else max(px - bump, 1)
                self._fill(ts, info, px, int(r["qty"]), int(r["leaves"]), "taker", 0)
            else:
                self._fill(ts, info, int(r["price"]), int(r["qty"]), int(r["leaves"]), "maker",
                           info.ahead_at_place)

    # ---- summaries ----------------------------------------------------------------------
    def queue_summary(self) -> dict:
        q = self.queue
        delays = sorted(q.fill_delays_ns)
        return {
            "orders_rested": q.orders_rested,
            "mean_ahead_at_place_lots": (q.ahead_at_place_total / q.orders_rested) if q.orders_rested else 0.0,
            "rested_lots": q.rested_lots,
            "maker_lots": q.maker_lots,
            "maker_fill_ratio": (q.maker_lots / q.rested_lots) if q.rested_lots else 0.0,
            "median_time_to_first_fill_ms": (delays[len(delays) // 2] / 1e6) if delays else None,
            **{f"core_{k}": v for k, v in self.core.stats().items()},
        }


def send_requests(oms: OrderManager, venue: SimVenue, t: int, on_submit=None) -> int:
    """Drain the OMS outbox into the venue at strategy time t; returns requests sent."""
    n = 0
    while oms.outbox:
        req = oms.outbox.popleft()
        if isinstance(req, Submit):
            o = req.order
            if on_submit is not None:
                on_submit(o, t)
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
    if r.kind == "amended":
        oms.on_amended(r.client_id, r.price, r.qty)
    elif r.kind == "amend_reject":
        oms.on_amend_rejected(r.client_id)
    elif r.kind == "ack":
        oms.on_ack(r.client_id)
    elif r.kind == "reject":
        oms.on_reject(r.client_id, r.reason)
        if rejects is not None:
            rejects[r.reason] += 1
    elif r.kind == "fill":
        oms.on_fill(r.client_id, r.qty, r.price, Fraction(r.fee) / Fraction(unit))
    elif r.kind == "cancelled":
        oms.on_cancelled(r.client_id)
    elif r.kind == "expired":
        oms.on_expired(r.client_id)


def reference_market_maker(events: np.ndarray, inst: Instrument, cfg: VenueConfig,
                           interval_ns: int = 100_000_000) -> tuple[SimVenue, OrderManager]:
    """The market maker's loop in Python over the reference venue: (venue, OMS) at the end
    (venue.fills holds every fill report)."""
    venue = SimVenue(events, inst, cfg)
    oms = OrderManager(symbol=inst.symbol)
    unit = inst.tick_size * inst.lot_size
    md_rng = np.random.default_rng(cfg.seed + 1)
    working: dict[str, str | None] = {"buy": None, "sell": None}
    strategy = None
    sent = 0
    t, end = int(events["ts_local"][0]), int(events["ts_local"][-1])
    while t <= end:
        for r in venue.advance(t):
            apply_report(oms, r, unit)
        b, a = venue.core.best("buy"), venue.core.best("sell")
        if b is not None and a is not None and b[0] < a[0]:
            if strategy is None:
                strategy = MicropriceMM(order_qty=default_order_qty(inst, b[0]))
            position = oms.portfolio.position(inst.symbol).qty
            want = strategy.quotes(b[0], b[1], a[0], a[1], position)
            t_act = t + latency_sample(cfg.md_latency, md_rng)
            for side, px in want.items():
                cid = working[side]
                live = cid is not None and not oms.orders[cid].state.terminal
                if live and strategy.keep(oms.orders[cid].price, px):
                    continue
                if live:
                    oms.cancel(cid)
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
        apply_report(oms, r, unit)
    return venue, oms
