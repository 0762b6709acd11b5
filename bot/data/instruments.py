"""Instrument specs: where a market's tick size, lot size, minimum notional and contract
size come from (bot.model.Instrument then converts exactly between exchange decimal text
and int64 ticks/lots).

One function, :func:`resolve`, finds the spec of any (venue, symbol). Each field is taken
from the first of these that has it:

1. ``override``       explicit values (``--tick-size``, ``--lot-size``, ``--contract-size``);
2. ``user table``     the user's TOML table (``--instruments FILE`` or ``BOT4_INSTRUMENTS``);
3. ``exchange info``  a Binance exchangeInfo symbol entry (the live adapter's source);
4. ``shipped table``  ``config/instruments.toml``, Binance spot, USD-M and COIN-M;
5. ``inferred``       the recording's own grid: the largest power of ten that every price
                      (quantity) in it is a multiple of, from the decimal text, exactly.

Inference can only find the data's grid, never the exchange's: a short recording whose
prices all happen to be multiples of 0.1 infers 0.1 where the exchange's tick is 0.01.
That is still exact for the recording (every value converts); the inferred step is capped
at 1. (Tardis CSVs infer the exact gcd instead, any step such as Deribit's 0.5: see
bot.data.tardis.) A shipped-table spec that the recording does not fit (the exchange changed a tick,
or the feed carries finer quantities than the order step) is refined to the finest step
both need, and the result says so; a spec the user gave (override, user table, exchange
info) is never changed: a recording off its grid is an error naming the value.

Table format (TOML; decimals as strings so they stay exact)::

    [binance-spot]
    ETHUSDT = { tick_size = "0.01", lot_size = "0.0001", min_notional = "5" }

    [binance-coinm]
    BTCUSD_PERP = { tick_size = "0.1", lot_size = "1", contract_size = "100" }
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from bot.model import Instrument, InstrumentError

SOURCES = ("override", "user table", "exchange info", "shipped table", "inferred")
FIELDS = ("tick_size", "lot_size", "min_notional", "contract_size")
SHIPPED_TABLE = Path(__file__).resolve().parents[2] / "config" / "instruments.toml"
USER_TABLE_ENV = "BOT4_INSTRUMENTS"

# Venue names of other data sources that mean the same Binance market (Tardis exchange ids).
VENUE_ALIASES = {"binance": "binance-spot", "binance-futures": "binance-usdm",
                 "binance-delivery": "binance-coinm"}


def parse_decimal(text: str, what: str) -> Decimal:
    try:
        v = Decimal(text)
    except InvalidOperation:
        raise InstrumentError(f"{what} {text!r} is not a decimal number") from None
    if not v.is_finite():
        raise InstrumentError(f"{what} {text!r} is not finite")
    return v


def _positive(value, what: str) -> Decimal:
    """A spec value (str, int, Decimal; a TOML float by its shortest text) as a positive Decimal."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise InstrumentError(f"{what} {value!r} is not a decimal number")
    v = parse_decimal(str(value).strip() if not isinstance(value, Decimal) else value, what)
    if v <= 0:
        raise InstrumentError(f"{what} {value} must be positive")
    return v


# Specs for the instruments Bot4 replays out of the box (Binance, August 2024). The lot is
# the finest quantity the feed carries: spot book levels and trades show 6 decimals
# (finer than the 0.00001 order step), so the engine must represent them exactly.
# config/instruments.toml carries the same two entries; these stand when it is absent.
BUILTIN = {
    ("binance-spot", "BTCUSDT"): Instrument("binance-spot", "BTCUSDT", Decimal("0.01"), Decimal("0.000001"), Decimal("5")),
    ("binance-usdm", "BTCUSDT"): Instrument("binance-usdm", "BTCUSDT", Decimal("0.1"), Decimal("0.001"), Decimal("100")),
}


# --- tables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One table row: the fields it gives (Decimals) and where it was written."""
    values: dict
    where: str


def _entry_lines(text: str) -> dict[tuple[str, str], int]:
    """(venue, SYMBOL) -> line number of its `SYMBOL = {...}` line, for error messages."""
    out, section = {}, None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("[") and not line.startswith("[["):
            section = line.strip("[] \t").strip('"').strip("'")
        elif section is not None and "=" in line and not line.startswith("#"):
            key = line.partition("=")[0].strip().strip('"').strip("'")
            out.setdefault((section, key.upper()), n)
    return out


def entry_values(row, label: str) -> dict:
    """The checked Decimal fields of one table row ({tick_size, lot_size, ...})."""
    if not isinstance(row, Mapping):
        raise InstrumentError(f"{label}: expected {{ tick_size = \"...\", lot_size = \"...\" }}, got {row!r}")
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise InstrumentError(f"{label}: unknown key(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    vals = {}
    for k, v in row.items():
        if k == "min_notional":
            d = parse_decimal_field(v, f"{label}: min_notional")
            if d < 0:
                raise InstrumentError(f"{label}: min_notional {v} must not be negative")
            vals[k] = d
        else:
            vals[k] = _positive(v, f"{label}: {k}")
            if k != "contract_size":
                _check_step(vals[k], f"{label}: {k}")
    return vals


def parse_table(text: str, name: str = "instrument table") -> dict[tuple[str, str], Entry]:
    """Entries of a TOML instrument table. Every problem is an InstrumentError naming the
    file, the line and the value."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InstrumentError(f"{name}: not valid TOML: {e}") from None
    lines = _entry_lines(text)
    out: dict[tuple[str, str], Entry] = {}
    for venue, rows in doc.items():
        if not isinstance(rows, dict):
            raise InstrumentError(f"{name}: {venue!r} must be a [venue] table of SYMBOL = {{...}} entries, "
                                  f"got {rows!r}")
        for symbol, row in rows.items():
            sym = symbol.upper()
            where = f"{name}:{lines.get((venue, sym), '?')}"
            label = f"{where}: {venue}:{symbol}"
            vals = entry_values(row, label)
            key = (venue, sym)
            if key in out:
                raise InstrumentError(f"{label}: listed twice (first at {out[key].where})")
            out[key] = Entry(vals, where)
    return out


def parse_decimal_field(value, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise InstrumentError(f"{what} {value!r} is not a decimal number")
    return parse_decimal(str(value).strip() if not isinstance(value, Decimal) else value, what)


def _check_step(step: Decimal, what: str) -> None:
    try:
        Instrument("x", "x", step, Decimal(1))
    except InstrumentError:
        raise InstrumentError(f"{what} {step} is not a decimal step") from None


def load_table(path: str | os.PathLike) -> dict[tuple[str, str], Entry]:
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstrumentError(f"instrument table {p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InstrumentError(f"instrument table {p}: cannot read: {e}") from None
    return parse_table(text, str(p))


@cache
def shipped_table() -> dict[tuple[str, str], Entry]:
    """config/instruments.toml (the built-in BTCUSDT specs when the file is absent)."""
    out = {k: Entry({"tick_size": i.tick_size, "lot_size": i.lot_size, "min_notional": i.min_notional},
                    "built-in") for k, i in BUILTIN.items()}
    if SHIPPED_TABLE.is_file():
        out.update(load_table(SHIPPED_TABLE))
    return out


def _as_table(user_table) -> dict[tuple[str, str], Entry]:
    if user_table is None:
        return {}
    if isinstance(user_table, (str, os.PathLike)):
        return load_table(user_table)
    out = {}
    for (venue, symbol), v in user_table.items():
        if isinstance(v, Entry):
            out[(venue, symbol.upper())] = v
        elif isinstance(v, Instrument):
            out[(venue, symbol.upper())] = Entry(_fields_of(v), "user table")
        else:
            out[(venue, symbol.upper())] = Entry(entry_values(v, f"user table: {venue}:{symbol}"), "user table")
    return out


def _fields_of(inst: Instrument) -> dict:
    d = {"tick_size": inst.tick_size, "lot_size": inst.lot_size, "min_notional": inst.min_notional}
    if inst.contract_size is not None:
        d["contract_size"] = inst.contract_size
    return d


# --- exchange info --------------------------------------------------------------------


def from_exchange_info(entry: Mapping) -> dict:
    """Fields of a Binance exchangeInfo symbol entry (spot /api/v3, USD-M /fapi/v1, COIN-M
    /dapi/v1): PRICE_FILTER tickSize, LOT_SIZE stepSize, MIN_NOTIONAL/NOTIONAL minNotional
    (USD-M: notional), contractSize."""
    if not isinstance(entry, Mapping):
        raise InstrumentError(f"exchange info entry must be a JSON object, got {type(entry).__name__}")
    label = f"exchange info {entry.get('symbol', '?')}"
    filters = entry.get("filters", [])
    if not isinstance(filters, list):
        raise InstrumentError(f"{label}: 'filters' must be a list")
    by_type = {f.get("filterType"): f for f in filters if isinstance(f, Mapping)}
    out = {}
    for name, ftype, key in (("tick_size", "PRICE_FILTER", "tickSize"), ("lot_size", "LOT_SIZE", "stepSize")):
        f = by_type.get(ftype)
        if f is not None and key in f:
            out[name] = _positive(f[key], f"{label}: {ftype} {key}")
            _check_step(out[name], f"{label}: {ftype} {key}")
    for ftype in ("NOTIONAL", "MIN_NOTIONAL"):
        f = by_type.get(ftype)
        if f is None:
            continue
        for key in ("minNotional", "notional"):
            if key in f:
                v = parse_decimal_field(f[key], f"{label}: {ftype} {key}")
                if v < 0:
                    raise InstrumentError(f"{label}: {ftype} {key} {f[key]} must not be negative")
                out["min_notional"] = v
                break
        if "min_notional" in out:
            break
    if entry.get("contractSize") not in (None, "", 0, "0"):
        out["contract_size"] = _positive(entry["contractSize"], f"{label}: contractSize")
    return out


# --- inference ------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """The grid a recording's values lie on.

    ``price_step``/``qty_step``: the exact greatest common divisor of the values (None if
    there are none); ``tick_size``/``lot_size``: the step a spec is inferred as (for
    Binance recordings the largest power of ten dividing the gcd, at most 1).
    ``prices``/``quantities``: how many values (non-zero quantities) were read.
    """
    price_step: Decimal | None
    qty_step: Decimal | None
    prices: int
    quantities: int
    tick_size: Decimal | None = None
    lot_size: Decimal | None = None

    def __post_init__(self):
        if self.tick_size is None and self.price_step is not None:
            object.__setattr__(self, "tick_size", power_of_ten_step(self.price_step))
        if self.lot_size is None and self.qty_step is not None:
            object.__setattr__(self, "lot_size", power_of_ten_step(self.qty_step))

    def describe(self) -> str:
        return f"{self.prices:,} prices and {self.quantities:,} quantities"


def power_of_ten_step(step: Decimal) -> Decimal:
    """The largest 10**k (k <= 0) that `step` is a multiple of: 0.05 -> 0.01, 2.5 -> 0.1, 300 -> 1."""
    sign, digits, exp = step.normalize().as_tuple()
    if not any(digits):
        raise InstrumentError(f"step {step} is zero")
    return Decimal(1).scaleb(min(int(exp), 0))


def units_gcd(g: int, scale: int) -> Decimal | None:
    """g * 10**-scale as a Decimal step without trailing zeros, or None for g == 0 (no values)."""
    if g == 0:
        return None
    d = Decimal(g).scaleb(-scale).normalize()
    return d.quantize(Decimal(1)) if d.as_tuple().exponent > 0 else d


def plain(d: Decimal) -> str:
    """A spec value as plain decimal text (0.00000001, never 1E-8)."""
    return f"{d:f}"


def _scale(t: str) -> int:
    return len(t.partition(".")[2].rstrip("0"))


def decimal_gcd(texts: Iterable[str], what: str = "value") -> tuple[Decimal | None, int]:
    """(exact gcd, count) of plain non-negative decimal strings, zeros left out."""
    texts = [t.strip() for t in texts]
    scale = 0
    for t in texts:
        whole, dot, frac = t.partition(".")
        if not (whole.isascii() and whole.isdigit()) or (dot and not (frac.isascii() and frac.isdigit())):
            raise InstrumentError(f"{what} {t!r} is not a non-negative decimal")
        scale = max(scale, _scale(t))
    g, n = 0, 0
    for t in texts:
        whole, _, frac = t.partition(".")
        units = int(whole) * 10**scale + (int(frac.rstrip("0").ljust(scale, "0")) if scale else 0)
        if units:
            g = math.gcd(g, units)
            n += 1
    return units_gcd(g, scale), n


def grid_of_texts(prices: Iterable[str], quantities: Iterable[str]) -> Grid:
    p, np_ = decimal_gcd(prices, "price")
    q, nq = decimal_gcd(quantities, "quantity")
    return Grid(p, q, np_, nq)


def step_gcd(a: Decimal, b: Decimal) -> Decimal:
    """The largest step both decimal steps are multiples of: (0.0001, 0.00003) -> 0.00001."""
    scale = max(0, -a.as_tuple().exponent, -b.as_tuple().exponent)
    return units_gcd(math.gcd(int(a.scaleb(scale)), int(b.scaleb(scale))), scale)


def _fits(step: Decimal, data_step: Decimal | None) -> bool:
    return data_step is None or (data_step % step) == 0


def _grid_from(infer_from) -> Grid:
    if isinstance(infer_from, Grid):
        return infer_from
    if callable(infer_from):
        return infer_from()
    if isinstance(infer_from, tuple) and len(infer_from) == 2 and not isinstance(infer_from[0], (str, os.PathLike)):
        return grid_of_texts(*infer_from)
    from bot.data.binance import infer_grid

    return infer_grid(infer_from)


def coinm_contract_size(symbol: str) -> Decimal:
    """Binance COIN-M contract size: 100 USD for BTC contracts, 10 USD for all others."""
    return Decimal(100) if symbol.upper().startswith("BTCUSD") else Decimal(10)


# --- resolve --------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """A resolved spec: the instrument, the highest-priority source that gave any of its
    fields, each field's source, and one line for the user."""
    instrument: Instrument
    source: str
    field_sources: dict = field(default_factory=dict)
    grid: Grid | None = None
    refined: tuple = ()

    def describe(self) -> str:
        i = self.instrument
        parts = [f"tick {plain(i.tick_size)}", f"lot {plain(i.lot_size)}"]
        if i.min_notional:
            parts.append(f"min notional {plain(i.min_notional)}")
        if i.contract_size is not None:
            parts.append(f"contract size {plain(i.contract_size)}")
        ts, ls = self.field_sources.get("tick_size"), self.field_sources.get("lot_size")
        seen = f"{self.grid.describe()} in the recording" if self.grid is not None else ""

        def name(src):
            return f"inferred from {seen}" if src == "inferred" else src

        how = name(ts) if ts == ls else f"tick {name(ts)}, lot {name(ls)}"
        if self.refined:
            how += f"; {' and '.join(self.refined)} refined to the grid of {seen}"
        return f"{i.venue}:{i.symbol} {', '.join(parts)} ({how})"


def parse_overrides(tick_size=None, lot_size=None, contract_size=None) -> dict:
    """Command-line override text -> Decimal fields; a bad value is an InstrumentError."""
    out = {}
    for name, opt, v in (("tick_size", "--tick-size", tick_size), ("lot_size", "--lot-size", lot_size),
                         ("contract_size", "--contract-size", contract_size)):
        if v is not None:
            out[name] = _positive(v, opt)
            if name != "contract_size":
                _check_step(out[name], opt)
    return out


def resolve(venue: str, symbol: str, *, overrides=None, user_table=None, exchange_info=None,
            infer_from=None) -> tuple[Instrument, str]:
    """(Instrument, source) of (venue, symbol); see the module docstring for the order.

    ``overrides``: {tick_size, lot_size, min_notional, contract_size} (Decimal or text).
    ``user_table``: a TOML path, or {(venue, symbol): Instrument | {field: value}}.
    ``exchange_info``: a Binance exchangeInfo symbol entry (dict with ``filters``), or a
    whole exchangeInfo response (its entry for ``symbol`` is used, if any).
    ``infer_from``: a recording (path or paths), a (prices, quantities) pair of decimal
    texts, a :class:`Grid`, or a callable returning one; given, the spec must fit it.
    Raises InstrumentError when nothing gives a tick and lot.
    """
    r = resolve_spec(venue, symbol, overrides=overrides, user_table=user_table,
                     exchange_info=exchange_info, infer_from=infer_from)
    return r.instrument, r.source


def resolve_spec(venue: str, symbol: str, *, overrides=None, user_table=None, exchange_info=None,
                 infer_from=None, lazy: bool = False) -> Resolution:
    """:func:`resolve`, with each field's source and a line for the user.

    With ``lazy`` the grid (``infer_from``) is only computed when a field has no other
    source, and the spec is not checked against it (the caller parses the recording and
    calls :func:`refit` on a value off the grid); otherwise a given ``infer_from`` is
    always read and the spec checked against it.
    """
    symbol = symbol.upper()
    key_venue = VENUE_ALIASES.get(venue, venue)
    vals: dict = {}
    srcs: dict = {}

    def take(fields: Mapping, source: str):
        for k in FIELDS:
            if k in fields and fields[k] is not None and k not in vals:
                vals[k] = fields[k]
                srcs[k] = source

    if overrides:
        unknown = sorted(set(overrides) - set(FIELDS))
        if unknown:
            raise InstrumentError(f"unknown override(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
        ov = {}
        for k, v in overrides.items():
            if v is None:
                continue
            if k == "min_notional":
                ov[k] = parse_decimal_field(v, "override min_notional")
                if ov[k] < 0:
                    raise InstrumentError(f"override min_notional {v} must not be negative")
            else:
                ov[k] = _positive(v, f"override {k}")
                if k != "contract_size":
                    _check_step(ov[k], f"override {k}")
        take(ov, "override")
    if isinstance(exchange_info, Mapping) and isinstance(exchange_info.get("symbols"), list):
        # a whole exchangeInfo response: its entry for this symbol
        exchange_info = next((e for e in exchange_info["symbols"]
                              if isinstance(e, Mapping) and str(e.get("symbol", "")).upper() == symbol), None)
    for table, source in ((_as_table(user_table), "user table"),
                          ({(key_venue, symbol): Entry(from_exchange_info(exchange_info), "exchange info")}
                           if exchange_info is not None else {}, "exchange info"),
                          (shipped_table(), "shipped table")):
        e = table.get((venue, symbol)) or table.get((key_venue, symbol))
        if e is not None:
            take(e.values, source)

    grid = None
    need = not ("tick_size" in vals and "lot_size" in vals)
    if infer_from is not None and (need or not lazy):
        grid = _grid_from(infer_from)
    if need:
        if grid is None:
            known = ", ".join(f"{v}:{s}" for v, s in sorted(shipped_table()))
            raise InstrumentError(f"no instrument spec for {venue}:{symbol}; known: {known}; "
                                  "pass the tick and lot size explicitly")
        for k, step, what in (("tick_size", grid.tick_size, "prices"), ("lot_size", grid.lot_size, "quantities")):
            if k not in vals:
                if step is None:
                    raise InstrumentError(f"{venue}:{symbol}: cannot infer {k}: the recording has no "
                                          f"{what}; pass it explicitly")
                vals[k] = step
                srcs[k] = "inferred"
    if key_venue == "binance-coinm" and "contract_size" not in vals:
        vals["contract_size"] = coinm_contract_size(symbol)
        srcs["contract_size"] = "inferred"
    inst = Instrument(venue, symbol, vals["tick_size"], vals["lot_size"], vals.get("min_notional", Decimal(0)),
                      vals.get("contract_size"))
    source = next(s for s in SOURCES if s in srcs.values())
    res = Resolution(inst, source, dict(srcs), grid)
    # Lazy callers check the fit themselves (a parse names the first value off the grid).
    return res if grid is None or lazy else refit(res, grid)


def lookup(venue: str, symbol: str) -> Instrument:
    """The shipped spec of (venue, symbol); InstrumentError if the table has none."""
    return resolve(venue, symbol)[0]


def refit(res: Resolution, grid: Grid) -> Resolution:
    """``res`` checked against a recording's grid: shipped-table fields refined, others
    must fit (InstrumentError naming the field, its source and the grid)."""
    i = res.instrument
    ov = _fields_of(i)
    srcs = dict(res.field_sources)
    refined = list(res.refined)
    for k, data_step, step_inf, what in (("tick_size", grid.price_step, grid.tick_size, "prices"),
                                         ("lot_size", grid.qty_step, grid.lot_size, "quantities")):
        if _fits(ov[k], data_step):
            continue
        if srcs.get(k) == "shipped table":
            ov[k] = step_gcd(ov[k], step_inf)
            refined.append(k.replace("_size", ""))
            continue
        raise InstrumentError(f"{i.venue}:{i.symbol} {k} {plain(ov[k])} ({srcs.get(k)}) does not fit the recording: "
                              f"its {what} need a step of {plain(step_inf)} (exact grid {plain(data_step)})")
    inst = replace(i, tick_size=ov["tick_size"], lot_size=ov["lot_size"])
    return Resolution(inst, res.source, srcs, grid, tuple(refined))


__all__ = ["BUILTIN", "Entry", "Grid", "Resolution", "SOURCES", "SHIPPED_TABLE", "USER_TABLE_ENV",
           "decimal_gcd", "from_exchange_info", "grid_of_texts", "load_table", "lookup", "parse_decimal",
           "parse_overrides", "parse_table", "power_of_ten_step", "refit", "resolve", "resolve_spec",
           "shipped_table", "step_gcd", "plain", "coinm_contract_size"]
