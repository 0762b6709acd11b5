"""Journaling for a trading session: every OMS change and fill becomes one journal record
(`OmsJournal`); with a store (`SessionStore`) each record is appended to a
`bot.store.Journal` (a ring push: the trading loop never does I/O) and held in a
`DurableGate`, and the strategy is told a record only once the journal's durable watermark
has reached it. Two policies for the strategy step:
  wait  before each strategy step, wait (wall clock; no simulated time passes) until what
        it is to be told is durable, then tell it. Decisions, fills and the journal are a
        function of seed and data: identical to a run without a store.
  lag   never wait: tell the strategy what is durable so far, as a live engine would. Its
        view lags by the journal's latency, so its decisions depend on the database's
        speed and a run is not reproducible.
New orders are journaled before their request leaves for the venue. Fees are stored as
whole 1e-9 units of the quote asset (`fee_to_units`); with a store, a venue fee finer than
that is rounded up to it before the OMS books it (`fee_for_store`), so the OMS and the
store hold the same exact amount.

Resume (`SessionStore(resume=True)`): the run's records are recovered from the store
(`bot.store.recovery.recover`), the session is replayed from the start with the same
configuration (the run's stored config must match), and when the replay reaches the last
stored event id the recovered orders, open orders, fills, positions and balances must equal
the OMS's at that point (`oms_mismatches`); records already stored are told to the strategy
at once (they are durable) and not appended again; the rest are journaled as usual.
After every store-backed run the final store is recovered and compared with the OMS the
same way, and `bot.store.recovery.check` runs on the run.

This module is the store's edge: it converts bot.model's orders, sides and states to the
store's integer codes (bot.store.records).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction

import numpy as np

from bot.model import Instrument
from bot.store.records import (
    FEE_SCALE, OPEN_STATES, SIDE_BY_NAME, STATE_BY_NAME, Balance, FillRecord, InstrumentRecord, OrderEvent,
    StateCode, OrderTypeCode, Run, fee_to_units,
)


VIEW_POLICIES = ("wait", "lag")
_ORDER_TYPE = {"limit": OrderTypeCode.LIMIT, "market": OrderTypeCode.MARKET, "stop": OrderTypeCode.STOP_MARKET}
_LIQUIDITY = {"maker": 1, "taker": 2}
# reports that change an order's state, price or quantity (amend_reject and cancel_reject
# change nothing: the OMS keeps the order as it was)
_STATE_REPORTS = frozenset({"ack", "reject", "cancelled", "expired", "amended"})
# quote assets recognised at the end of an unseparated symbol (BTCUSDT), longest first
_QUOTE_SUFFIXES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "BTC", "ETH", "BNB")


class SessionJournalError(RuntimeError):
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
        raise SessionJournalError(f"instrument symbol {sym!r}: cannot tell its base and quote assets")
    return InstrumentRecord(instrument_key(inst), inst.venue, sym, base, quote, inst.tick_size,
                            inst.lot_size, inst.min_notional)


@dataclass
class SessionStore:
    """Journal a simulated session to an open store (`bot.store.open_store`).

    config: the session's parameters (seed, data, strategy, venue); stored with the run and,
    on resume, required to equal the stored run's. view: "wait" or "lag" (module docstring).
    mode: the run's kind as stored ("sim", "backtest", ...). The run's started and ended
    times are wall clock (when the session began and finished), not feed time.
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
    mode: str = "sim"

    def __post_init__(self):
        if self.view not in VIEW_POLICIES:
            raise SessionJournalError(f"view must be one of {VIEW_POLICIES}, got {self.view!r}")
        if self.resume and self.view != "wait":
            raise SessionJournalError("resume replays the session, which is reproducible only with view 'wait'")


class StrategyView:
    """What the strategy has been told: each of its orders' last told state and price, and
    its position in lots. Its own submissions it knows at once (pending new)."""

    def __init__(self):
        self.position = 0
        self.orders: dict[str, tuple[int, int]] = {}  # client id -> (stored StateCode, price ticks)
        self.open: dict[str, None] = {}  # client ids told open, in the order they were sent
        self.told = 0

    def _set(self, client_id: str, state: int, price: int) -> None:
        self.orders[client_id] = (state, price)
        if state in OPEN_STATES:
            self.open[client_id] = None
        else:
            self.open.pop(client_id, None)

    def intend(self, client_id: str, price: int | None) -> None:
        self._set(client_id, StateCode.PENDING_NEW, price or 0)

    def tell(self, rec: OrderEvent | FillRecord) -> None:
        self.told += 1
        if type(rec) is FillRecord:
            self.position += rec.qty_lots if rec.side == SIDE_BY_NAME["buy"] else -rec.qty_lots
            self._set(rec.client_order_id, rec.order_state, self.orders.get(rec.client_order_id, (0, 0))[1])
        else:
            self._set(rec.client_order_id, rec.state, rec.price_ticks)

    def live(self, client_id: str) -> bool:
        st = self.orders.get(client_id)
        return st is not None and st[0] in OPEN_STATES

    def price(self, client_id: str) -> int:
        return self.orders[client_id][1]

    def open_ids(self) -> list[str]:
        return list(self.open)


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
            raise SessionJournalError(f"order {o.client_id}: kind {o.kind!r} has no stored order type")
        self._emit(OrderEvent(self.last_id + 1, o.client_id, self.instrument, SIDE_BY_NAME[o.side],
                              STATE_BY_NAME[o.state.value], o.price or 0, o.qty, o.filled, t,
                              order_type=kind))

    def reported(self, r, o) -> None:
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
                raise SessionJournalError(f"journal did not make event {self.last_id} durable within {timeout_s}s"
                                      + (f": {j.error}" if j.error is not None else ""))
        for rec in gate.release():
            mark = j.durable_event_id
            if rec.event_id > mark:  # the gate's promise, checked where it matters
                raise SessionJournalError(f"event {rec.event_id} released above the durable watermark {mark}")
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


def oms_mismatches(recovered, oms, journal: OmsJournal, inst: Instrument) -> list[str]:
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


def start_session(session: SessionStore, inst: Instrument, start_ns: int):
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
            raise SessionJournalError(f"cannot resume run {run_id!r}: the store has no such run")
        stored = json.loads(runs[run_id].config_json or "{}")
        if stored != json.loads(cfg_json):
            diff = sorted(k for k in set(stored) | set(session.config)
                          if stored.get(k) != json.loads(cfg_json).get(k))
            raise SessionJournalError(f"cannot resume run {run_id!r}: its configuration differs in "
                                  + ", ".join(f"{k} (stored {stored.get(k)!r}, now {json.loads(cfg_json).get(k)!r})"
                                              for k in diff))
        st.put_instrument(spec)
        recovered = recover(st, run_id)
    else:
        if not st.begin_run(Run(run_id, time.time_ns(), session.mode, cfg_json)):
            raise SessionJournalError(f"run {run_id!r} already exists in the store; resume it or pick another run id")
        st.put_instrument(spec)
        for asset in (spec.base, spec.quote):
            st.put_balance(Balance(run_id, asset, Decimal(0), start_ns))
    journal = Journal(st, run_id, durability=session.durability, batch_size=session.batch_size,
                      max_in_flight=session.max_in_flight, idle_wait_s=0.0001)
    return journal, recovered


def fee_for_store(report):
    """A fill report whose fee is rounded up to the store's whole 1e-9 units (if finer)."""
    q = report.fee.quantize(FEE_SCALE, rounding=ROUND_CEILING)
    return report if q == report.fee else replace(report, fee=q)


def finish_session(session, journal, rec: OmsJournal, oms, inst, end_ns, recovered) -> dict:
    """End the run, recover it from the store, compare with the OMS, run the store's checks."""
    from bot.store.recovery import check, recover

    st = session.store
    st.end_run(session.run_id, time.time_ns())
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


class SessionRecorder:
    """The journaling component a driver plugs in: it starts (or resumes) the run in the
    store, turns every OMS change into a journal record (OmsJournal), tells the strategy's
    view what is durable, checks a resumed run against the replayed OMS where the store left
    off, and at the end recovers the run and compares it with the OMS (finish_session).

    The driver calls: start(oms, start_ns) before the first step; fill_report(report)
    before booking a fill (the store's fee unit); submitted(order, t) and reported(report,
    order) as the OMS changes; deliver() before each strategy step; finish(oms, end_ns) at
    the end (returns the store figures); abort() if the run fails."""

    def __init__(self, session: SessionStore | None, inst: Instrument, view: StrategyView, on_told=None):
        self.session = session
        self.inst = inst
        self.view = view
        self.on_told = on_told
        self.wait = session is None or session.view == "wait"
        self.timeout = session.wait_timeout_s if session is not None else 0.0
        self.journal = None
        self.recovered = None
        self.records: OmsJournal | None = None
        self._resume_check: list[str] | None = None

    def start(self, oms, start_ns: int) -> None:
        session, inst = self.session, self.inst
        if session is not None:
            self.journal, self.recovered = start_session(session, inst, start_ns)
        recovered = self.recovered
        self.records = OmsJournal(inst, self.view, self.journal, self.on_told,
                                  durable_floor=recovered.last_event_id if recovered is not None else 0)
        if recovered is not None:
            def verify_resume():
                self._resume_check = oms_mismatches(recovered, oms, self.records, inst)
                if self._resume_check:
                    raise SessionJournalError(
                        f"run {session.run_id}: the recovered state differs from the OMS's at event "
                        f"{recovered.last_event_id}: " + "; ".join(self._resume_check[:5]))
            if recovered.last_event_id == 0:
                verify_resume()
            else:
                self.records.checkpoint = (recovered.last_event_id, verify_resume)
        if self.journal is not None:
            self.journal.start()

    def fill_report(self, report):
        """The fill report as the store holds it (fee rounded up to whole 1e-9 units)."""
        return fee_for_store(report) if self.journal is not None else report

    def submitted(self, order, t: int) -> None:
        self.records.submitted(order, t)

    def reported(self, report, order) -> None:
        self.records.reported(report, order)

    def deliver(self, everything: bool = False) -> None:
        """Tell the view what is durable (per the view policy), or, with everything, wait
        until all of it is and tell it all."""
        self.records.deliver(everything or self.wait, self.timeout)

    def finish(self, oms, end_ns: int) -> dict | None:
        """Tell everything (waiting for durability), check a resume happened, close the
        journal; with a store, end the run, recover it and compare (the store figures)."""
        self.deliver(everything=True)
        recovered, session = self.recovered, self.session
        if recovered is not None and self._resume_check is None:
            raise SessionJournalError(
                f"run {session.run_id}: the store holds events up to {recovered.last_event_id} "
                f"but this session made only {self.records.last_id}: not the same session")
        if self.journal is None:
            return None
        self.journal.close()
        return finish_session(session, self.journal, self.records, oms, self.inst, end_ns, recovered)

    def abort(self) -> None:
        if self.journal is not None:
            self.journal.close(raise_error=False)
