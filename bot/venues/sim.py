"""The simulated venue: our orders meet a recorded (or generated) L2 market with latency,
fees, market impact, venue filters and rate limits. The scheduling, filters, fees, impact,
report ordering, queue positions and the decision loop are C (engine.simdriver over
csrc/simdriver.c and csrc/simvenue.c); this module holds the configuration and converts at
the edges (decimal fees and thresholds to exact integers, client ids to the C ids, report
rows to bot.venues.base.Report).

Time is the feed's local receive time (ts_local, ns). A request made at strategy time t
reaches the venue at t + entry latency; its acknowledgement, rejection and fills become
visible to the strategy ack latency after they happen at the venue. Latencies are
constant or lognormal (median * exp(sigma * z), z from a seeded generator in C), so the
same seed and data give identical fills.

Fees are basis points of the quote notional by 30-day quote volume tier (the tier reached
by volume traded before the fill); a negative maker rate is a rebate. In C a fee is an
integer of fee units (1 unit = tick_size * lot_size / (10000 * R) quote, R = 10^k the
smallest power of ten that makes every tier's rate whole); here it becomes an exact
Decimal. Orders that take liquidity walk the visible book level by level, then pay the
square-root impact term: each taker fill's price is moved against us by
ceil(price * gamma * sigma * sqrt(Q / ADV)) ticks, Q the order's taken quantity and ADV
the average daily volume, both in lots (Almgren et al. 2005, "Direct estimation of equity
market impact"; the usual square-root law).

Filters at arrival, each a rejection with a reason: a sliding-window order rate limit,
min notional and the percent-price band around the mid (prices and quantities are ints
on the grid by construction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np

from bot.model import Instrument, Order, OrderState, Side
from bot.venues.base import REPORT_KINDS, Report
from engine import simdriver as core
from engine.simvenue import QUEUE_MODELS

NS_PER_DAY = 86_400 * 10**9


class VenueConfigError(ValueError):
    """A simulated-venue setting is out of range or inconsistent."""


@dataclass(frozen=True)
class Latency:
    """Constant (sigma 0) or lognormal with the given median, in ns."""
    median_ns: int = 0
    sigma: float = 0.0

    def __post_init__(self):
        if isinstance(self.median_ns, bool) or not isinstance(self.median_ns, int) or self.median_ns < 0:
            raise VenueConfigError(f"latency median_ns must be an int >= 0, got {self.median_ns!r}")
        if not (self.sigma >= 0 and math.isfinite(self.sigma)):
            raise VenueConfigError(f"latency sigma must be >= 0, got {self.sigma!r}")


@dataclass(frozen=True)
class FeeTier:
    min_volume: Decimal  # 30-day quote volume at which the tier starts
    maker_bps: Decimal   # negative: rebate
    taker_bps: Decimal


# Binance spot regular tiers (2024, no BNB discount), quote = USDT: the schedule of any
# market without one of its own below.
DEFAULT_TIERS = (
    FeeTier(Decimal(0), Decimal("10"), Decimal("10")),
    FeeTier(Decimal(1_000_000), Decimal("9"), Decimal("10")),
    FeeTier(Decimal(5_000_000), Decimal("8"), Decimal("10")),
    FeeTier(Decimal(20_000_000), Decimal("4.2"), Decimal("6")),
)


@dataclass(frozen=True)
class FeeSchedule:
    tiers: tuple[FeeTier, ...] = DEFAULT_TIERS

    def __post_init__(self):
        if not self.tiers or self.tiers[0].min_volume != 0:
            raise VenueConfigError("fee tiers must start at min_volume 0")
        vols = [t.min_volume for t in self.tiers]
        if vols != sorted(vols) or len(set(vols)) != len(vols):
            raise VenueConfigError(f"fee tier volumes must be strictly increasing, got {vols}")


# Binance USD-M futures regular tiers (2024, by 30-day USDT volume, no BNB discount).
USDM_TIERS = (
    FeeTier(Decimal(0), Decimal("2"), Decimal("5")),
    FeeTier(Decimal(15_000_000), Decimal("1.6"), Decimal("4")),
    FeeTier(Decimal(50_000_000), Decimal("1.4"), Decimal("3.5")),
    FeeTier(Decimal(100_000_000), Decimal("1.2"), Decimal("3.2")),
    FeeTier(Decimal(600_000_000), Decimal("1"), Decimal("3")),
)
# Binance COIN-M futures, regular first tier (2024). COIN-M tiers go by 30-day volume in
# the base coin, which this venue does not track (it books inverse contracts' notional in
# quote units), so only the first tier is modelled.
COINM_TIERS = (FeeTier(Decimal(0), Decimal("2"), Decimal("5")),)

FEE_SCHEDULES = {"binance-usdm": FeeSchedule(USDM_TIERS), "binance-coinm": FeeSchedule(COINM_TIERS)}


def fee_schedule(config: VenueConfig, instrument: Instrument) -> FeeSchedule:
    """The config's fee schedule, or else the instrument's market's (FEE_SCHEDULES by venue,
    spot's DEFAULT_TIERS for any other market)."""
    if config.fees is not None:
        return config.fees
    return FEE_SCHEDULES.get(instrument.venue, FeeSchedule())


@dataclass(frozen=True)
class Impact:
    """Square-root impact: price moves by gamma * sigma * sqrt(Q / ADV) (fraction of price)."""
    gamma: float = 0.0
    sigma: float = 0.0  # daily volatility, fraction
    adv_lots: int = 1

    def __post_init__(self):
        if self.gamma < 0 or self.sigma < 0 or self.adv_lots <= 0:
            raise VenueConfigError(f"impact needs gamma >= 0, sigma >= 0, adv_lots > 0; got {self}")


@dataclass(frozen=True)
class VenueConfig:
    entry_latency: Latency = Latency(1_000_000)
    ack_latency: Latency = Latency(1_000_000)
    md_latency: Latency = Latency(0)
    fees: FeeSchedule | None = None  # None: the market's own (fee_schedule)
    impact: Impact = Impact()
    percent_price: Fraction = Fraction(1, 5)  # price within mid * (1 -/+ this)
    rate_limit_orders: int = 50                # at most this many orders ...
    rate_limit_window_ns: int = 10 * 10**9     # ... per sliding window
    queue_model: str = "risk_averse"
    queue_power: float = 2.0
    max_orders: int = 256
    seed: int = 7

    def __post_init__(self):
        if self.queue_model not in QUEUE_MODELS:
            raise VenueConfigError(f"queue_model must be one of {', '.join(QUEUE_MODELS)}, "
                                   f"got {self.queue_model!r}")
        if self.rate_limit_orders < 1 or self.rate_limit_window_ns < 1:
            raise VenueConfigError("rate limit needs orders >= 1 and window_ns >= 1")
        if not (0 < self.percent_price):
            raise VenueConfigError(f"percent_price must be > 0, got {self.percent_price}")


def _ceil_div(a: Fraction | Decimal, b: Decimal) -> int:
    """ceil(a / b) for exact decimals: the smallest integer n with n * b >= a."""
    q = Fraction(a) / Fraction(b)
    return -((-q.numerator) // q.denominator)


def fee_rate_scale(tiers) -> int:
    """R = 10^k, the smallest power of ten that makes every tier's bps rate an integer."""
    k = 0
    for t in tiers:
        for bps in (t.maker_bps, t.taker_bps):
            k = max(k, -min(0, Decimal(bps).normalize().as_tuple().exponent))
    return 10**k


class SimVenue:
    """The simulated venue (bot.venues.base.Venue) over engine.simdriver.

    Orders are named by client ids here and by the C driver's integer ids below; reports
    come back as bot.venues.base.Report with exact Decimal fees."""

    def __init__(self, events: np.ndarray, instrument: Instrument, config: VenueConfig = VenueConfig()):
        self.instrument = instrument
        self.config = config
        self.events = events
        unit = instrument.tick_size * instrument.lot_size
        self.fees = fee_schedule(config, instrument)
        scale = fee_rate_scale(self.fees.tiers)
        self._fee_unit = unit / Decimal(10_000 * scale)  # quote value of one fee unit
        tiers = [(_ceil_div(t.min_volume, unit), int(t.maker_bps * scale), int(t.taker_bps * scale))
                 for t in self.fees.tiers]
        pct = Fraction(config.percent_price)
        self.core = core.SimDriver(
            events,
            entry_latency=(config.entry_latency.median_ns, config.entry_latency.sigma),
            ack_latency=(config.ack_latency.median_ns, config.ack_latency.sigma),
            md_latency=(config.md_latency.median_ns, config.md_latency.sigma),
            fee_tiers=tiers, impact_gamma=config.impact.gamma, impact_sigma=config.impact.sigma,
            impact_adv_lots=config.impact.adv_lots, percent_price=(pct.numerator, pct.denominator),
            min_notional_ticklots=_ceil_div(instrument.min_notional, unit),
            rate_limit_orders=config.rate_limit_orders, rate_limit_window_ns=config.rate_limit_window_ns,
            queue_model=config.queue_model, queue_power=config.queue_power,
            max_orders=config.max_orders, seed=config.seed)
        self._ids: dict[str, int] = {}
        self._cids: list[str] = [""]  # C id -> client id (ids start at 1)
        self.fills: list[Report] = []

    # ---- orders ---------------------------------------------------------------------------
    def submit(self, t: int, client_id: str, side: str, qty: int, price: int = 0, tif: str = "gtc",
               post_only: bool = False, expire_ts: int = 0, kind: str = "limit") -> None:
        """Send an order at strategy time t. kind "limit" (price 0: market, tif ioc/fok) or
        "stop" (a stop-market order; price is its trigger; tif gtc, or gtd with expire_ts)."""
        if not isinstance(client_id, str) or not client_id:
            raise ValueError(f"client_id must be a non-empty string, got {client_id!r}")
        if client_id in self._ids:
            raise ValueError(f"client_id {client_id!r} already used at this venue")
        cid = self.core.submit(t, str(side), qty, price, str(tif), post_only, expire_ts, str(kind))
        self._ids[client_id] = cid
        self._cids.append(client_id)

    def _id(self, client_id: str) -> int:
        try:
            return self._ids[client_id]
        except KeyError:
            raise ValueError(f"unknown client_id {client_id!r}") from None

    def cancel(self, t: int, client_id: str) -> None:
        self.core.cancel(t, self._id(client_id))

    def amend(self, t: int, client_id: str, price: int, qty: int) -> None:
        """Change a working order to `price` and total quantity `qty` (filled included).
        Reported as "amended" or "amend_reject"; a limit keeps its queue place only when
        the price is unchanged and the quantity does not grow."""
        self.core.amend(t, self._id(client_id), price, qty)

    # ---- reports --------------------------------------------------------------------------
    def decode(self, rows) -> list[Report]:
        """Reports from C report rows (engine.simdriver.REPORT_DTYPE)."""
        out = []
        cids, fee_unit, reasons, liq = self._cids, self._fee_unit, core.REASONS, core.LIQUIDITY
        fill = REPORT_KINDS.index("fill")
        for r in rows.tolist():
            ts, visible_ts, _seq, cid, price, qty, leaves, ahead, fee_units, kind, side, liquidity, reason = r[:13]
            out.append(Report(REPORT_KINDS[kind], cids[cid], ts, visible_ts, "buy" if side == 0 else "sell",
                              price, qty, leaves, liq[liquidity],
                              Decimal(fee_units) * fee_unit if kind == fill else Decimal(0),
                              reasons[reason], ahead))
        return out

    def _reports(self, rows) -> list[Report]:
        reports = self.decode(rows)
        self.fills.extend(r for r in reports if r.kind == "fill")
        return reports

    def advance(self, t: int) -> list[Report]:
        """Run the venue up to time t; the reports the strategy sees by t."""
        return self._reports(self.core.advance(t))

    def finish(self) -> list[Report]:
        """Replay to the end of the data; every remaining report."""
        return self._reports(self.core.finish())

    def finish_rows(self) -> np.ndarray:
        """finish() as report rows (engine.simdriver.REPORT_DTYPE), undecoded."""
        return self.core.finish()

    # ---- our orders as reported (the C driver applies each report as it pops) -------------
    def has(self, client_id: str) -> bool:
        return client_id in self._ids

    def live(self, client_id: str) -> bool:
        """Not finished, as far as the reports popped so far say."""
        return self.core.live(self._id(client_id))

    def order(self, client_id: str) -> Order:
        """The order as the reports popped so far describe it (bot.model.Order)."""
        c = self.core.order(self._id(client_id))
        market = c["kind"] == "limit" and c["price"] == 0
        o = Order(client_id, c["side"], c["qty"], None if market else c["price"],
                  "market" if market else c["kind"], "gtc" if market else c["tif"])
        o.filled, o.state = c["filled"], OrderState(c["state"])
        return o

    @property
    def report_dtype(self) -> np.dtype:
        """The dtype of report rows (engine.simdriver.REPORT_DTYPE)."""
        return core.REPORT_DTYPE

    @property
    def reason_names(self) -> tuple[str, ...]:
        """Names of the reason codes in report rows."""
        return core.REASONS

    def states(self) -> list[str]:
        """Every order's state as reported so far, in sending order."""
        state = self.core.state
        return [state(i) for i in range(1, len(self._cids))]

    def client_ids(self) -> list[str]:
        """Every order sent, in sending order."""
        return self._cids[1:]

    @property
    def position(self) -> int:
        """Signed lots, from the fills popped so far."""
        return self.core.position

    # ---- the loop and the market --------------------------------------------------------
    def run(self, start_ns: int, end_ns: int, interval_ns: int, on_reports, on_step) -> None:
        self.core.run(start_ns, end_ns, interval_ns, on_reports, on_step)

    @property
    def now(self) -> int:
        """The current decision step's feed time."""
        return self.core.step_t

    @property
    def act_ts(self) -> int:
        return self.core.act_ts

    @property
    def steps(self) -> int:
        return self.core.steps

    def touch(self) -> tuple[int, int, int, int]:
        return self.core.touch

    def depth(self, side: Side, n: int) -> np.ndarray:
        px, qty = self.core.depth(str(Side(side)), n)
        return np.stack([px, qty], axis=1)

    def step_rows(self) -> tuple[int, int]:
        return self.core.step_rows()

    @property
    def done(self) -> bool:
        return self.core.done

    def queue_summary(self) -> dict:
        return self.core.queue_summary()

    def account(self) -> dict:
        """The C driver's exact accounting of the reports popped so far: position lots,
        cash tick-lots, fees (Decimal quote), volume tick-lots and fill counts."""
        a = dict(self.core.account())
        a["fees"] = Decimal(a.pop("fee_units")) * self._fee_unit
        return a
