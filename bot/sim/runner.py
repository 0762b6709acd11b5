"""Drive a strategy through the simulated venue with the OMS keeping orders and positions.

Every `interval_ns` of feed time the driver advances the venue to t, hands the reports the
strategy can see by t to the OMS, reads the market's touch at t, asks the strategy for its
quotes and sends changes (cancel + new) at t + market-data latency; the venue adds entry
latency. Money is exact: the OMS portfolio keeps tick-lots as Fractions and fees arrive as
Decimals of quote currency; the summary converts with the instrument's tick and lot size.

The strategy decides from a `StrategyView`: what it has been *told* (its orders' states
and its position), never the OMS's books directly. Every OMS state change (submit, ack,
reject, cancel, expire, amend) and every fill becomes one journal record (`OmsJournal`).
With a store (`SessionStore`) each record is appended to a `bot.store.Journal` (a ring
push: the venue/OMS loop never does I/O) and held in a `DurableGate`; the view is told a
record only once the journal's durable watermark has reached it. Two policies for the
strategy step:
  wait  before each strategy step, wait (wall clock; no simulated time passes) until what
        it is to be told is durable, then tell it. Decisions, fills and the journal are a
        function of seed and data: identical to a run without a store.
  lag   never wait: tell the strategy what is durable so far, as a live engine would. Its
        view lags by the journal's latency, so its decisions depend on the database's
        speed and a run is not reproducible.
New orders are journaled before their request leaves for the venue. Fees are stored as
whole 1e-9 units of the quote asset (`bot.store.records.fee_to_units`); with a store, a
venue fee finer than that is rounded up to it before the OMS books it, so the OMS and the
store hold the same exact amount (synthetic data at the default tiers needs no rounding).

Resume (`SessionStore(resume=True)`): the run's records are recovered from the store
(`bot.store.recovery.recover`), the session is replayed from the start with the same
configuration (the run's stored config must match), and when the replay reaches the last
stored event id the recovered orders, open orders, fills, positions and balances must equal
the OMS's at that point (`oms_mismatches`); records already stored are told to the strategy
at once (they are durable) and not appended again; the rest are journaled as usual.
After every store-backed run the final store is recovered and compared with the OMS the
same way, and `bot.store.recovery.check` runs on the run.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction

import numpy as np

from bot.model import Instrument
from bot.oms import Amend, Cancel, OrderManager, Submit
from bot.sim.venue import Report, SimVenue, VenueConfig
from bot.store.records import (
    FEE_SCALE, OPEN_STATES, SIDE_BY_NAME, STATE_BY_NAME, Balance, FillRecord, InstrumentRecord, OrderEvent,
    StateCode, OrderTypeCode, Run, fee_to_units,
)
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
    store: dict | None = None  # with a SessionStore: run id, journal figures, checks
    oms: OrderManager | None = None  # the session's OMS at the end (orders, portfolio)

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
            **({"store": self.store} if self.store is not None else {}),
        }


def default_order_qty(inst: Instrument, price_ticks: int) -> int:
    """Lots worth about twice the venue's minimum notional at this price (at least 1)."""
    unit = inst.tick_size * inst.lot_size
    need = (2 * inst.min_notional) / (price_ticks * unit) if inst.min_notional > 0 else 1
    return max(1, int(need.to_integral_value(rounding="ROUND_CEILING")))


def send_requests(oms: OrderManager, venue: SimVenue, t: int, on_submit=None) -> int:
    """Drain the OMS outbox into the venue at strategy time t; returns requests sent.
    `on_submit(order, t)` runs for each new order before its request leaves (the journal's
    write-ahead hook)."""
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


# ---- journal wiring ---------------------------------------------------------------------
VIEW_POLICIES = ("wait", "lag")
_ORDER_TYPE = {"limit": OrderTypeCode.LIMIT, "market": OrderTypeCode.MARKET}
_LIQUIDITY = {"maker": 1, "taker": 2}
# reports that change an order's state, price or quantity (amend_reject and cancel_reject
# change nothing: the OMS keeps the order as it was)
_STATE_REPORTS = frozenset({"ack", "reject", "cancelled", "expired", "amended"})
# quote assets recognised at the end of an unseparated symbol (BTCUSDT), longest first
_QUOTE_SUFFIXES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "BTC", "ETH", "BNB")


class SimJournalError(RuntimeError):
    """The store-backed session cannot go on: a configuration that does not match the run
    being resumed, a journal that stopped, or a recovered state that differs from the OMS."""


def instrument_key(inst: Instrument) -> str:
    return f"{inst.venue}:{inst.symbol}"


def instrument_record(inst: Instrument) -> InstrumentRecord:
    """The store's spec of a bot.data Instrument; base and quote from the symbol
    (BASE-QUOTE, BASE/QUOTE, BASE_QUOTE, or BASEQUOTE with a known quote suffix)."""
    sym = inst.symbol
    for sep in ("-", "/", "_"):
        if sep in sym:
            base, _, quote = sym.partition(sep)
            break
    else:
        quote = next((q for q in _QUOTE_SUFFIXES if sym.endswith(q) and len(sym) > len(q)), "")
        base = sym[:-len(quote)] if quote else ""
    if not base or not quote:
        raise SimJournalError(f"instrument symbol {sym!r}: cannot tell its base and quote assets")
    return InstrumentRecord(instrument_key(inst), inst.venue, sym, base, quote, inst.tick_size,
                            inst.lot_size, inst.min_notional)


@dataclass
class SessionStore:
    """Journal a simulated session to an open store (`bot.store.open_store`).

    config: the session's parameters (seed, data, strategy, venue); stored with the run and,
    on resume, required to equal the stored run's. view: "wait" or "lag" (module docstring).
    """

    store: object
    run_id: str
    durability: str = "batch"
    view: str = "wait"
    resume: bool = False
    config: dict = field(default_factory=dict)
    batch_size: int = 2048
    max_in_flight: int = 65536
    wait_timeout_s: float = 120.0

    def __post_init__(self):
        if self.view not in VIEW_POLICIES:
            raise SimJournalError(f"view must be one of {VIEW_POLICIES}, got {self.view!r}")
        if self.resume and self.view != "wait":
            raise SimJournalError("resume replays the session, which is reproducible only with view 'wait'")


class StrategyView:
    """What the strategy has been told: each of its orders' last told state and price, and
    its position in lots. Its own submissions it knows at once (pending new)."""

    def __init__(self):
        self.position = 0
        self.orders: dict[str, tuple[int, int]] = {}  # client id -> (stored StateCode, price ticks)
        self.told = 0

    def intend(self, client_id: str, price: int | None) -> None:
        self.orders[client_id] = (StateCode.PENDING_NEW, price or 0)

    def tell(self, rec: OrderEvent | FillRecord) -> None:
        self.told += 1
        if type(rec) is FillRecord:
            self.position += rec.qty_lots if rec.side == SIDE_BY_NAME["buy"] else -rec.qty_lots
            self.orders[rec.client_order_id] = (rec.order_state, self.orders.get(rec.client_order_id, (0, 0))[1])
        else:
            self.orders[rec.client_order_id] = (rec.state, rec.price_ticks)

    def live(self, client_id: str) -> bool:
        st = self.orders.get(client_id)
        return st is not None and st[0] in OPEN_STATES

    def price(self, client_id: str) -> int:
        return self.orders[client_id][1]


class OmsJournal:
    """One journal record per OMS change, in order, with event ids 1, 2, ...

    With a journal: `append` (back-pressure waits are counted, nothing is dropped) and hold
    in a DurableGate; `deliver` tells the view what the watermark has reached. Without one
    (no store) the view is told at once and fees are not converted (nothing is stored).
    `checkpoint = (event_id, fn)` calls fn() right after the record with that id is made.
    Records at or below `durable_floor` (a resumed run's last stored event id) are already
    in the store: they are told at once and not appended again."""

    def __init__(self, inst: Instrument, view: StrategyView, journal=None, on_told=None,
                 durable_floor: int = 0):
        from bot.store.journal import DurableGate

        self.instrument = instrument_key(inst)
        self.view = view
        self.journal = journal
        self.gate = DurableGate(journal) if journal is not None else None
        self.on_told = on_told
        self.last_id = 0
        self.last_record: dict[str, OrderEvent | FillRecord] = {}  # client id -> its latest record
        self.fills = 0
        self.checkpoint = None
        self.durable_floor = durable_floor
        self.append_ns: list[int] = []
        self.backpressure_waits = 0
        self.wait_s = 0.0
        self.waits = 0

    def submitted(self, o, t: int) -> None:
        kind = _ORDER_TYPE.get(o.kind)
        if kind is None:
            raise SimJournalError(f"order {o.client_id}: kind {o.kind!r} has no stored order type")
        self._emit(OrderEvent(self.last_id + 1, o.client_id, self.instrument, SIDE_BY_NAME[o.side],
                              STATE_BY_NAME[o.state.value], o.price or 0, o.qty, o.filled, t,
                              order_type=kind))

    def reported(self, r: Report, o) -> None:
        """After the OMS applied report r about order o."""
        if r.kind == "fill":
            self.fills += 1
            self._emit(FillRecord(self.last_id + 1, o.client_id, self.instrument, SIDE_BY_NAME[o.side], r.price,
                            r.qty, o.filled, STATE_BY_NAME[o.state.value], r.ts,
                            fee_units=fee_to_units(r.fee) if self.journal is not None else 0,
                            liquidity=_LIQUIDITY.get(r.liquidity, 0)))
        elif r.kind in _STATE_REPORTS:
            self._emit(OrderEvent(self.last_id + 1, o.client_id, self.instrument, SIDE_BY_NAME[o.side],
                                  STATE_BY_NAME[o.state.value], o.price or 0, o.qty, o.filled, r.ts,
                                  order_type=_ORDER_TYPE.get(o.kind, OrderTypeCode.LIMIT)))

    def _emit(self, rec) -> None:
        self.last_id = rec.event_id
        self.last_record[rec.client_order_id] = rec
        j = self.journal
        if j is None or rec.event_id <= self.durable_floor:
            self.view.tell(rec)
            if self.on_told is not None:
                self.on_told(rec, None if j is None else self.durable_floor)
        else:
            t0 = time.perf_counter_ns()
            while not j.append(rec):  # ring full: the writer is behind; never drop a record
                self.backpressure_waits += 1
                time.sleep(0.0002)
            self.append_ns.append(time.perf_counter_ns() - t0)
            self.gate.hold(rec.event_id, rec)
        if self.checkpoint is not None and self.checkpoint[0] == rec.event_id:
            self.checkpoint[1]()

    def deliver(self, wait: bool, timeout_s: float = 120.0) -> None:
        """Tell the view every held record at or below the durable watermark; with wait,
        first wait until everything held is durable."""
        gate = self.gate
        if gate is None or not len(gate):
            return
        j = self.journal
        if wait and not j.is_durable(self.last_id):
            t0 = time.perf_counter()
            ok = j.wait_durable(self.last_id, timeout_s)
            self.wait_s += time.perf_counter() - t0
            self.waits += 1
            if not ok:
                raise SimJournalError(f"journal did not make event {self.last_id} durable within {timeout_s}s"
                                      + (f": {j.error}" if j.error is not None else ""))
        for rec in gate.release():
            mark = j.durable_event_id
            if rec.event_id > mark:  # the gate's promise, checked where it matters
                raise SimJournalError(f"event {rec.event_id} released above the durable watermark {mark}")
            self.view.tell(rec)
            if self.on_told is not None:
                self.on_told(rec, mark)

    def figures(self) -> dict:
        lat = np.array(self.append_ns or [0], dtype=np.int64)
        return {"records": self.last_id, "fills": self.fills,
                "append_p50_us": round(float(np.percentile(lat, 50)) / 1e3, 3),
                "append_p99_us": round(float(np.percentile(lat, 99)) / 1e3, 3),
                "append_max_us": round(float(lat.max()) / 1e3, 3),
                "backpressure_waits": self.backpressure_waits,
                "strategy_waits": self.waits, "strategy_wait_s": round(self.wait_s, 3)}


def oms_mismatches(recovered, oms: OrderManager, journal: OmsJournal, inst: Instrument) -> list[str]:
    """Where a recovered store state (bot.store.records.RecoveredState) differs from the OMS
    for the orders journaled so far; empty when they agree exactly. Balances start at zero
    (the session books flows): base = lots * lot_size, quote = OMS cash * tick-lot value."""
    out: list[str] = []
    journaled = set(journal.last_record)
    stored = set(recovered.orders)
    if stored != journaled:
        out.append(f"orders: {len(stored)} in the store, {len(journaled)} journaled by the OMS "
                   f"(only in store: {sorted(stored - journaled)[:5]}, only in OMS: {sorted(journaled - stored)[:5]})")
    for cid in sorted(stored & journaled):
        s, o = recovered.orders[cid], oms.orders[cid]
        have = (s.side, s.state, s.price_ticks, s.qty_lots, s.filled_lots)
        want = (SIDE_BY_NAME[o.side], int(STATE_BY_NAME[o.state.value]), o.price or 0, o.qty, o.filled)
        if have != want:
            out.append(f"order {cid}: store (side, state, price, qty, filled) = {have}, OMS = {want}")
    open_oms = {c for c in journaled if not oms.orders[c].state.terminal}
    if set(recovered.open_orders) != open_oms:
        out.append(f"open orders: store {sorted(recovered.open_orders)[:10]}, OMS {sorted(open_oms)[:10]}")
    if recovered.fill_count != journal.fills:
        out.append(f"fills: {recovered.fill_count} in the store, {journal.fills} booked by the OMS")
    p = oms.portfolio
    pos = p.position(oms.symbol)
    unit = Fraction(inst.tick_size * inst.lot_size)
    sp = recovered.positions.get(journal.instrument)
    have = (sp.net_lots, sp.cost_tick_lots, sp.fee_units) if sp is not None else (0, 0, 0)
    # cash = initial - sum(signed qty * price) - fees, and the session starts at zero
    want = (pos.qty, -(p.cash - p.initial_cash + p.fees_paid), p.fees_paid * unit / Fraction(FEE_SCALE))
    if have != want:
        out.append(f"position {journal.instrument}: store (net_lots, cost_tick_lots, fee_units) = {have}, "
                   f"OMS = {tuple(str(v) for v in want)}")
    spec = instrument_record(inst)
    bal = {k: Fraction(v) for k, v in recovered.balances.items()}
    want_bal = {spec.base: pos.qty * Fraction(inst.lot_size), spec.quote: (p.cash - p.initial_cash) * unit}
    for asset, amount in want_bal.items():
        if bal.get(asset, Fraction(0)) != amount:
            out.append(f"balance {asset}: store {bal.get(asset)}, OMS {amount}")
    return out


def _start_session(session: SessionStore, inst: Instrument, start_ns: int):
    """Record (or, resuming, check) the run; returns (journal not yet started, recovered or None)."""
    from bot.store.journal import Journal
    from bot.store.recovery import recover

    st, run_id = session.store, session.run_id
    cfg_json = json.dumps(session.config, sort_keys=True, default=str)
    spec = instrument_record(inst)
    recovered = None
    if session.resume:
        runs = {r.run_id: r for r in st.runs()}
        if run_id not in runs:
            raise SimJournalError(f"cannot resume run {run_id!r}: the store has no such run")
        stored = json.loads(runs[run_id].config_json or "{}")
        if stored != json.loads(cfg_json):
            diff = sorted(k for k in set(stored) | set(session.config)
                          if stored.get(k) != json.loads(cfg_json).get(k))
            raise SimJournalError(f"cannot resume run {run_id!r}: its configuration differs in "
                                  + ", ".join(f"{k} (stored {stored.get(k)!r}, now {json.loads(cfg_json).get(k)!r})"
                                              for k in diff))
        st.put_instrument(spec)
        recovered = recover(st, run_id)
    else:
        if not st.begin_run(Run(run_id, start_ns, "sim", cfg_json)):
            raise SimJournalError(f"run {run_id!r} already exists in the store; resume it or pick another run id")
        st.put_instrument(spec)
        for asset in (spec.base, spec.quote):
            st.put_balance(Balance(run_id, asset, Decimal(0), start_ns))
    journal = Journal(st, run_id, durability=session.durability, batch_size=session.batch_size,
                      max_in_flight=session.max_in_flight, idle_wait_s=0.0001)
    return journal, recovered


def _fee_to_store_units(r: Report) -> Report:
    """A fill report whose fee is rounded up to the store's whole 1e-9 units (if finer)."""
    q = r.fee.quantize(FEE_SCALE, rounding=ROUND_CEILING)
    return r if q == r.fee else replace(r, fee=q)


def run_market_maker(events: np.ndarray, inst: Instrument, cfg: VenueConfig,
                     strategy: MicropriceMM | None = None, interval_ns: int = 100_000_000,
                     order_qty: int | None = None, session: SessionStore | None = None,
                     on_told=None) -> SimResult:
    """Run the microprice market maker. With `session`, journal every order event and fill
    to its store (module docstring). `on_told(record, watermark)` sees each record as the
    strategy is told it (watermark None without a store)."""
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
    view = StrategyView()
    journal = recovered = None
    resume_check: list[str] | None = None
    if session is not None:
        journal, recovered = _start_session(session, inst, t)
    rec = OmsJournal(inst, view, journal, on_told,
                     durable_floor=recovered.last_event_id if recovered is not None else 0)
    wait = session is None or session.view == "wait"
    timeout = session.wait_timeout_s if session is not None else 0.0
    if recovered is not None:
        def verify_resume():
            nonlocal resume_check
            resume_check = oms_mismatches(recovered, oms, rec, inst)
            if resume_check:
                raise SimJournalError(f"run {session.run_id}: the recovered state differs from the OMS's at "
                                      f"event {recovered.last_event_id}: " + "; ".join(resume_check[:5]))
        if recovered.last_event_id == 0:
            verify_resume()
        else:
            rec.checkpoint = (recovered.last_event_id, verify_resume)
    fees_charged = Decimal(0)

    def report_all(reports) -> Decimal:
        """Apply the venue's reports to the OMS and the journal; the fees they charged."""
        fees = Decimal(0)
        for r in reports:
            if r.kind == "fill":
                if journal is not None:
                    r = _fee_to_store_units(r)
                fees += r.fee
            _apply(oms, r, unit, rejects)
            rec.reported(r, oms.orders[r.client_id])
        return fees

    try:
        if journal is not None:
            journal.start()
        while t <= end:
            fees_charged += report_all(venue.advance(t))
            rec.deliver(wait, timeout)
            b, a = venue.core.best("buy"), venue.core.best("sell")
            if b is not None and a is not None and b[0] < a[0]:
                last_mid = Fraction(b[0] + a[0], 2)
                if strategy is None:
                    qty = order_qty or default_order_qty(inst, b[0])
                    strategy = MicropriceMM(order_qty=qty)
                want = strategy.quotes(b[0], b[1], a[0], a[1], view.position)
                t_act = t + cfg.md_latency.sample(md_rng)
                for side, px in want.items():
                    cid = working[side]
                    live = cid is not None and view.live(cid)
                    if live and strategy.keep(view.price(cid), px):
                        continue
                    if live:
                        oms.cancel(cid)
                    if px is not None:
                        cid = f"{side[0]}{sent}"
                        sent += 1
                        oms.submit(cid, side, strategy.order_qty, px)
                        view.intend(cid, px)
                        working[side] = cid
                    else:
                        working[side] = None
                send_requests(oms, venue, t_act, rec.submitted)
            t += interval_ns
        fees_charged += report_all(venue.finish())
        rec.deliver(True, timeout)
        if recovered is not None and resume_check is None:
            raise SimJournalError(f"run {session.run_id}: the store holds events up to {recovered.last_event_id} "
                                  f"but this session made only {rec.last_id}: not the same session")
        if journal is not None:
            journal.close()
    finally:
        if journal is not None:
            journal.close(raise_error=False)
    store_info = None
    if session is not None:
        store_info = _finish_session(session, journal, rec, oms, inst, end, recovered)
    p = oms.portfolio
    pos = p.position(inst.symbol)
    unreal = pos.qty * last_mid - pos.cost_basis if last_mid is not None else Fraction(0)
    fills = venue.fills
    return SimResult(
        instrument=inst, events=len(events), seconds=time.perf_counter() - t_start,
        orders_sent=sent, rejects=rejects, fills=fills, position_lots=pos.qty,
        realized_ticklots=pos.realized_pnl, unrealized_ticklots=unreal,
        fees_quote=fees_charged,
        volume_quote=sum((f.price * f.qty * unit for f in fills), Decimal(0)),
        last_mid_ticks=last_mid, queue=venue.queue_summary(),
        conservation_gap=p.conservation_gap(),
        order_states=Counter(o.state.value for o in oms.orders.values()),
        store=store_info, oms=oms)


def _finish_session(session, journal, rec: OmsJournal, oms, inst, end_ns, recovered) -> dict:
    """End the run, recover it from the store, compare with the OMS, run the store's checks."""
    from bot.store.recovery import check, recover

    st = session.store
    st.end_run(session.run_id, end_ns)
    final = recover(st, session.run_id)
    mismatches = oms_mismatches(final, oms, rec, inst)
    violations = [str(v) for v in check(st, session.run_id)]
    js = journal.stats()
    return {
        "run_id": session.run_id, "durability": session.durability, "view": session.view,
        "resumed_from_event": recovered.last_event_id if recovered is not None else None,
        **rec.figures(), "batches": js["batches"], "durable_event_id": js["durable_event_id"],
        "recovered_equals_oms": not mismatches, "mismatches": mismatches[:20],
        "check_violations": violations[:20], "check_ok": not violations,
    }
