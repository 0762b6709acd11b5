"""Plain record types the store reads and writes, and the fixed-size journal record.

Prices are int64 ticks, quantities int64 lots (the instrument spec converts at the edges);
money that is not on a tick grid (balances, PnL, parameter values) is `decimal.Decimal`,
stored as TEXT on SQLite and NUMERIC on PostgreSQL. Nothing here is ever a float except
learning statistics (Q values, rewards), which are floats by nature.

The journal carries order events and fills as one fixed-size binary record
(`JOURNAL_DTYPE`, 256 bytes) so they can travel through `engine.ring.SpscRing` without
Python objects: `encode` packs one record, `decode_batch` turns a popped batch into columns.
A fill carries the order's cumulative filled quantity and state after it, so applying one
record keeps the order row and the fills consistent at every durable prefix.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from bot.store.errors import StoreError

BUY = 0
SELL = 1
SIDE_NAMES = {BUY: "buy", SELL: "sell"}

# Fees are exact integers in units of 1e-9 of the instrument's quote asset.
FEE_SCALE = Decimal("1e-9")

KIND_ORDER_EVENT = 1
KIND_FILL = 2


class StateCode(enum.IntEnum):
    PENDING_NEW = 1  # sent, not yet acknowledged
    OPEN = 2  # acknowledged, resting
    PARTIALLY_FILLED = 3
    PENDING_CANCEL = 4
    FILLED = 5
    CANCELED = 6
    REJECTED = 7
    EXPIRED = 8


OPEN_STATES = frozenset(
    {StateCode.PENDING_NEW, StateCode.OPEN, StateCode.PARTIALLY_FILLED, StateCode.PENDING_CANCEL}
)


# Names the OMS and venues use (bot.model.OrderState values), mapped to the stored codes.
STATE_BY_NAME = {
    "new": StateCode.PENDING_NEW, "pending_new": StateCode.PENDING_NEW,
    "acknowledged": StateCode.OPEN, "open": StateCode.OPEN,
    "partially_filled": StateCode.PARTIALLY_FILLED, "pending_cancel": StateCode.PENDING_CANCEL,
    "filled": StateCode.FILLED, "cancelled": StateCode.CANCELED, "canceled": StateCode.CANCELED,
    "rejected": StateCode.REJECTED, "expired": StateCode.EXPIRED,
}
SIDE_BY_NAME = {"buy": BUY, "sell": SELL}


def fee_to_units(fee) -> int:
    """An exact fee (Decimal, Fraction or int, in the quote asset) as an int of FEE_SCALE
    units; a fee finer than 1e-9 is an error, never a rounding."""
    from fractions import Fraction

    if isinstance(fee, bool) or not isinstance(fee, (int, Decimal, Fraction)):
        raise StoreError(f"fee must be an int, Decimal or Fraction, got {fee!r}")
    units = Fraction(fee) / Fraction(FEE_SCALE)
    if units.denominator != 1:
        raise StoreError(f"fee {fee} is not a whole number of {FEE_SCALE} units")
    return int(units)


class OrderTypeCode(enum.IntEnum):
    LIMIT = 0
    MARKET = 1
    LIMIT_MAKER = 2
    STOP_MARKET = 3


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One state change of an order (new, ack, cancel, reject ...), as the OMS emits it."""

    event_id: int
    client_order_id: str
    instrument: str  # "venue:symbol"
    side: int  # BUY / SELL
    state: int  # StateCode
    price_ticks: int
    qty_lots: int
    filled_lots: int  # cumulative, after this event
    ts_ns: int
    order_id: str = ""  # venue order id, once known
    order_type: int = OrderTypeCode.LIMIT


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One execution; `order_filled_lots`/`order_state` are the order's after this fill."""

    event_id: int
    client_order_id: str
    instrument: str
    side: int
    price_ticks: int
    qty_lots: int
    order_filled_lots: int
    order_state: int
    ts_ns: int
    trade_id: str = ""
    order_id: str = ""
    fee_units: int = 0  # quote asset, units of FEE_SCALE
    liquidity: int = 0  # 0 unknown, 1 maker, 2 taker


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """The current state of an order: its latest event, with fills applied."""

    run_id: str
    client_order_id: str
    instrument: str
    side: int
    state: int
    price_ticks: int
    qty_lots: int
    filled_lots: int
    order_id: str
    order_type: int
    created_ns: int
    updated_ns: int
    last_event_id: int


@dataclass(frozen=True, slots=True)
class PositionRecord:
    run_id: str
    instrument: str
    net_lots: int  # buys minus sells
    cost_tick_lots: int  # sum of signed price_ticks * qty_lots (buys positive)
    fee_units: int
    last_event_id: int


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    started_ns: int
    mode: str  # "sim", "paper", "live", "backtest"
    config_json: str = "{}"
    ended_ns: int | None = None


@dataclass(frozen=True, slots=True)
class InstrumentRecord:
    instrument: str  # "venue:symbol"
    venue: str
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Balance:
    """A balance snapshot (e.g. at run start); recovery adds the effect of later fills."""

    run_id: str
    asset: str
    amount: Decimal
    ts_ns: int


@dataclass(frozen=True, slots=True)
class AdaptiveParam:
    name: str
    value: Decimal
    min_value: Decimal
    max_value: Decimal
    regime: str
    changed_ns: int


@dataclass(frozen=True, slots=True)
class QEntry:
    state_hash: int  # int64
    action: int
    value: float
    visits: int
    avg_reward: float


@dataclass(frozen=True, slots=True)
class PerfFeedback:
    ts_ns: int
    regime: str
    action: int
    pnl: Decimal
    reward: float
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ModelRecord:
    model_id: str
    name: str
    version: int
    path: str
    sha256: str
    stage: str  # "candidate", "production", "retired"
    metrics_json: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Append-only: who changed a mode, a limit or a model, what it was, what it became."""

    ts_ns: int
    actor: str
    subject: str  # "mode", "limit", "model", ...
    key: str
    old_value: str
    new_value: str
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Violation:
    """An invariant `bot4 store check` found broken."""

    check: str
    run_id: str
    key: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: run {self.run_id} {self.key}: {self.detail}"


@dataclass
class RecoveredState:
    run_id: str
    last_event_id: int
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    open_orders: dict[str, OrderRecord] = field(default_factory=dict)
    positions: dict[str, PositionRecord] = field(default_factory=dict)
    balances: dict[str, Decimal] = field(default_factory=dict)
    fill_count: int = 0


# -- market data -------------------------------------------------------------------------
BAR_DTYPE = np.dtype(
    [("ts_ns", "<i8"), ("open", "<i8"), ("high", "<i8"), ("low", "<i8"), ("close", "<i8"),
     ("volume_lots", "<i8"), ("trades", "<i8")]
)
TRADE_DTYPE = np.dtype(
    [("ts_ns", "<i8"), ("trade_id", "<i8"), ("price_ticks", "<i8"), ("qty_lots", "<i8"), ("side", "u1")]
)

# -- the journal record ------------------------------------------------------------------
_STR_FIELDS = (("instrument", 32), ("client_order_id", 40), ("order_id", 48), ("trade_id", 48))
JOURNAL_DTYPE = np.dtype(
    [
        ("kind", "u1"),
        ("side", "u1"),
        ("state", "u1"),
        ("liquidity", "u1"),
        ("order_type", "u1"),
        ("pad", "V3"),
        ("event_id", "<i8"),
        ("ts_ns", "<i8"),
        ("price_ticks", "<i8"),
        ("qty_lots", "<i8"),
        ("filled_lots", "<i8"),
        ("fee_units", "<i8"),
        ("instrument", "S32"),
        ("client_order_id", "S40"),
        ("order_id", "S48"),
        ("trade_id", "S48"),
        ("reserved", "V32"),
    ]
)
JOURNAL_RECORD_SIZE = 256
assert JOURNAL_DTYPE.itemsize == JOURNAL_RECORD_SIZE
_PACK = struct.Struct("<BBBBB3xqqqqqq32s40s48s48s32x")
assert _PACK.size == JOURNAL_RECORD_SIZE

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _bytes_field(name: str, value: str, width: int) -> bytes:
    if not isinstance(value, str):
        raise StoreError(f"journal record field {name} must be a str, got {value!r}")
    b = value.encode()
    if len(b) > width or b"\x00" in b:
        raise StoreError(f"journal record field {name} must be at most {width} bytes without NUL, got {value!r}")
    return b


def _check_int(name: str, value, lo: int = _I64_MIN, hi: int = _I64_MAX) -> None:
    if type(value) is not int and not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise StoreError(f"journal record field {name} must be an int, got {value!r}")
    if not lo <= value <= hi:
        raise StoreError(f"journal record field {name} out of range [{lo}, {hi}]: {value!r}")


def encode(rec: OrderEvent | FillRecord) -> bytes:
    """Pack one order event or fill into a JOURNAL_DTYPE record. Bad fields raise StoreError
    naming the field and value.

    This runs on the engine loop, so valid records take a fast path (range checks inline,
    struct rejects non-integers and int64 overflow); anything it refuses goes through the
    field-by-field checks, which name the culprit."""
    t = type(rec)
    try:
        if t is FillRecord:
            a, b, c, d = (rec.instrument.encode(), rec.client_order_id.encode(), rec.order_id.encode(),
                          rec.trade_id.encode())
            if (rec.event_id >= 1 and 0 <= rec.side <= 1 and 1 <= rec.order_state <= 8 and rec.qty_lots > 0
                    and rec.order_filled_lots >= 0 and 0 <= rec.liquidity <= 2
                    and len(a) <= 32 and len(b) <= 40 and len(c) <= 48 and len(d) <= 48
                    and b"\0" not in a and b"\0" not in b and b"\0" not in c and b"\0" not in d):
                return _PACK.pack(KIND_FILL, rec.side, rec.order_state, rec.liquidity, 0, rec.event_id, rec.ts_ns,
                                  rec.price_ticks, rec.qty_lots, rec.order_filled_lots, rec.fee_units, a, b, c, d)
        elif t is OrderEvent:
            a, b, c = rec.instrument.encode(), rec.client_order_id.encode(), rec.order_id.encode()
            if (rec.event_id >= 1 and 0 <= rec.side <= 1 and 1 <= rec.state <= 8 and rec.qty_lots >= 0
                    and rec.filled_lots >= 0 and 0 <= rec.order_type <= 255
                    and len(a) <= 32 and len(b) <= 40 and len(c) <= 48
                    and b"\0" not in a and b"\0" not in b and b"\0" not in c):
                return _PACK.pack(KIND_ORDER_EVENT, rec.side, rec.state, 0, rec.order_type, rec.event_id,
                                  rec.ts_ns, rec.price_ticks, rec.qty_lots, rec.filled_lots, 0, a, b, c, b"")
    except (struct.error, AttributeError, TypeError):
        pass
    return _encode_checked(rec)


def _encode_checked(rec) -> bytes:
    if type(rec) is FillRecord:
        kind, state, filled, fee, liq, otype, trade = (
            KIND_FILL, rec.order_state, rec.order_filled_lots, rec.fee_units, rec.liquidity, 0, rec.trade_id)
        if rec.qty_lots <= 0:
            raise StoreError(f"fill qty_lots must be positive, got {rec.qty_lots!r}")
    elif type(rec) is OrderEvent:
        kind, state, filled, fee, liq, otype, trade = (
            KIND_ORDER_EVENT, rec.state, rec.filled_lots, 0, 0, rec.order_type, "")
    else:
        raise StoreError(f"journal record must be an OrderEvent or FillRecord, got {type(rec).__name__}")
    _check_int("event_id", rec.event_id, 1)
    _check_int("side", rec.side, 0, 1)
    _check_int("state", state, 1, 8)
    _check_int("price_ticks", rec.price_ticks)
    _check_int("qty_lots", rec.qty_lots, 0)
    _check_int("filled_lots", filled, 0)
    _check_int("fee_units", fee)
    _check_int("ts_ns", rec.ts_ns)
    _check_int("liquidity", liq, 0, 2)
    _check_int("order_type", otype, 0, 255)
    return _PACK.pack(
        kind, rec.side, state, liq, otype, rec.event_id, rec.ts_ns, rec.price_ticks, rec.qty_lots,
        filled, fee,
        _bytes_field("instrument", rec.instrument, 32),
        _bytes_field("client_order_id", rec.client_order_id, 40),
        _bytes_field("order_id", rec.order_id, 48),
        _bytes_field("trade_id", trade, 48),
    )


def encode_many(recs) -> np.ndarray:
    """A JOURNAL_DTYPE array of the given order events and fills, in order."""
    out = np.empty(len(recs), dtype=JOURNAL_DTYPE)
    out.view(np.uint8).reshape(len(recs), JOURNAL_RECORD_SIZE)[:] = np.frombuffer(
        b"".join(encode(r) for r in recs), dtype=np.uint8).reshape(len(recs), JOURNAL_RECORD_SIZE)
    return out


def decode(rec: np.void | np.ndarray) -> OrderEvent | FillRecord:
    """The inverse of `encode` for one JOURNAL_DTYPE record."""
    r = rec if isinstance(rec, np.void) else np.asarray(rec).reshape(-1)[0]
    s = {name: bytes(r[name]).decode() for name, _ in _STR_FIELDS}
    if int(r["kind"]) == KIND_FILL:
        return FillRecord(int(r["event_id"]), s["client_order_id"], s["instrument"], int(r["side"]),
                    int(r["price_ticks"]), int(r["qty_lots"]), int(r["filled_lots"]), int(r["state"]),
                    int(r["ts_ns"]), s["trade_id"], s["order_id"], int(r["fee_units"]), int(r["liquidity"]))
    if int(r["kind"]) == KIND_ORDER_EVENT:
        return OrderEvent(int(r["event_id"]), s["client_order_id"], s["instrument"], int(r["side"]),
                          int(r["state"]), int(r["price_ticks"]), int(r["qty_lots"]), int(r["filled_lots"]),
                          int(r["ts_ns"]), s["order_id"], int(r["order_type"]))
    raise StoreError(f"journal record kind must be 1 or 2, got {int(r['kind'])}")


def decode_batch(batch: np.ndarray) -> dict[str, list]:
    """Columns (Python lists, strings decoded) of a JOURNAL_DTYPE array."""
    cols: dict[str, list] = {}
    for name in ("kind", "side", "state", "liquidity", "order_type", "event_id", "ts_ns",
                 "price_ticks", "qty_lots", "filled_lots", "fee_units"):
        cols[name] = batch[name].tolist()
    for name, _ in _STR_FIELDS:
        cols[name] = [b.decode() for b in batch[name].tolist()]
    bad = [k for k in cols["kind"] if k not in (KIND_ORDER_EVENT, KIND_FILL)]
    if bad:
        raise StoreError(f"journal record kind must be 1 or 2, got {bad[0]}")
    return cols
