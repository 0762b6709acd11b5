"""The Venue protocol: what the driver (bot.strategy.driver) needs of a place to trade.

A venue takes orders (submit, cancel, amend) and gives back a stream of reports about them
and a stream of market events. The simulated venue (bot.venues.sim) is the first
implementation; a live exchange adapter is another. The driver never looks inside a venue:
strategies see the market through the driver's MarketView, built on `touch` and `depth`.

The event loop belongs to the venue, because where events come from decides how it runs:
the simulator replays an array in C, a live adapter waits on sockets. `run` calls
`on_reports(batch)` whenever reports became visible (decoded with `decode`) and then
`on_step()` at every decision time; requests made inside those callbacks are sent at
`act_ts` (the step's feed time plus market-data latency).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import numpy as np

from bot.model import Fill, Instrument, Liquidity, Side

REPORT_KINDS = ("ack", "reject", "fill", "cancelled", "cancel_reject", "expired", "amended",
                "amend_reject")


@dataclass(frozen=True, slots=True)
class Report:
    """What a venue says about one of our orders.

    kind: one of REPORT_KINDS. ts: when it happened at the venue; visible_ts: when we learn
    it. price/qty: of the fill, of the order (ack, reject, amended) or the quantity removed
    (cancelled, expired). leaves: what stays working after it. fee: quote currency, exact,
    negative for a rebate. ahead: queue ahead on joining (ack) or when it joined (maker
    fill)."""

    kind: str
    client_id: str
    ts: int
    visible_ts: int
    side: str = ""
    price: int = 0
    qty: int = 0
    leaves: int = 0
    liquidity: str = ""
    fee: Decimal = Decimal(0)
    reason: str = ""
    ahead: int = 0

    def to_fill(self) -> Fill:
        return Fill(self.client_id, Side(self.side), self.price, self.qty, Liquidity(self.liquidity),
                    self.fee, self.ts)


class Venue(Protocol):
    instrument: Instrument
    events: np.ndarray  # the market events the venue replays or has received
    now: int            # feed time of the current step
    act_ts: int         # when requests made in this step are sent
    steps: int          # decision steps run so far

    def submit(self, t: int, client_id: str, side: str, qty: int, price: int = 0, tif: str = "gtc",
               post_only: bool = False, expire_ts: int = 0, kind: str = "limit") -> None:
        """Send an order at time t: a limit (price 0: market, tif ioc/fok) or a stop-market
        (kind "stop", price its trigger). The client id names it in every report."""

    def cancel(self, t: int, client_id: str) -> None:
        """Ask the venue to cancel a working order."""

    def amend(self, t: int, client_id: str, price: int, qty: int) -> None:
        """Ask for a new price and total quantity (filled included)."""

    def run(self, start_ns: int, end_ns: int, interval_ns: int, on_reports, on_step) -> None:
        """The event loop: a step at start_ns, start_ns + interval_ns, ... <= end_ns."""

    def finish(self) -> list[Report]:
        """Everything still pending at the end of the data, as reports."""

    def decode(self, batch) -> list[Report]:
        """Reports from a batch given to on_reports."""

    def touch(self) -> tuple[int, int, int, int]:
        """(bid price, bid qty, ask price, ask qty); 0, 0 for an empty side."""

    def depth(self, side: Side, n: int) -> np.ndarray:
        """The best n levels of a side, int64 [k, 2] (price, qty)."""

    def step_rows(self) -> tuple[int, int]:
        """The rows of `events` consumed by the current step: [lo, hi)."""

    def queue_summary(self) -> dict:
        """Figures about our orders' queue positions and fills."""
