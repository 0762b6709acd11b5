"""Tardis.dev CSV reader: ``incremental_book_L2``, ``trades``, ``book_snapshot_N`` and
``quotes`` files (plain or .gz) into EVENT_DTYPE rows.

Layouts (https://docs.tardis.dev/downloadable-csv-files), timestamps in microseconds:

- incremental_book_L2: ``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount``.
  Consecutive rows with the same timestamps and ``is_snapshot`` form one message; snapshot
  rows become EV_SNAPSHOT, the others EV_UPDATE (amount 0 deletes the level).
- trades: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount``; side is the
  aggressor (buy -> SIDE_BID, sell -> SIDE_ASK, unknown -> SIDE_NONE). A numeric id becomes
  seq_last.
- book_snapshot_N: ``exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,
  bids[0].price,bids[0].amount,...``; each row is one full top-N snapshot message (empty
  cells mean the level is absent).
- quotes: ``exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount``;
  each row is one L1 quote message of two EV_QUOTE rows (bid then ask).

Tardis carries no sequence ids for book messages, so the reader numbers them in file order:
a diff message k gets U = u = k, a snapshot message k gets lastUpdateId = k, which is what
the book's sequencing expects of a gap-free feed (Tardis files are gap-free by
construction: its recorder re-snapshots after a disconnect). The
instrument's tick and lot sizes are given, or found by bot.data.instruments.resolve
(overrides, the user's table, the shipped table for Binance exchanges), else inferred
exactly: the grid step is the greatest common divisor of all prices (quantities) written at
the finest decimal scale seen, which on any realistic sample is the venue's tick (lot), and
may be any step (Deribit's 0.5), not only a power of ten. A malformed row raises
:class:`TardisFormatError` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
from decimal import Decimal

from engine import events as E
from bot.data.instruments import Grid, Resolution, resolve_spec
from bot.model import Instrument, InstrumentError

L2_HEADER = ["exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount"]
TRADES_HEADER = ["exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount"]
QUOTES_HEADER = ["exchange", "symbol", "timestamp", "local_timestamp", "ask_amount", "ask_price", "bid_price", "bid_amount"]


class TardisFormatError(ValueError):
    """A Tardis CSV file or row does not follow the documented layout."""


def _open_text(path):
    path = os.fspath(path)
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def detect_kind(header: list[str]) -> str:
    """'incremental_book_L2' | 'trades' | 'quotes' | 'book_snapshot' from a header row."""
    if header == L2_HEADER:
        return "incremental_book_L2"
    if header == TRADES_HEADER:
        return "trades"
    if header == QUOTES_HEADER:
        return "quotes"
    if header[:4] == L2_HEADER[:4] and len(header) > 4 and (len(header) - 4) % 4 == 0:
        n = (len(header) - 4) // 4
        want = []
        for i in range(n):
            want += [f"asks[{i}].price", f"asks[{i}].amount", f"bids[{i}].price", f"bids[{i}].amount"]
        if header[4:] == want:
            return "book_snapshot"
    raise TardisFormatError(f"unrecognised Tardis CSV header {','.join(header)[:120]!r}")


def is_tardis_csv(path) -> bool:
    """True if the file's first line is a Tardis header this reader knows."""
    try:
        with _open_text(path) as f:
            header = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError, gzip.BadGzipFile):
        return False
    if header is None:
        return False
    try:
        detect_kind(header)
    except TardisFormatError:
        return False
    return True


# --- pass 1: validated text rows ------------------------------------------------------


def _dec(text: str, where: str, field: str, allow_zero: bool) -> str:
    """Check `text` is a plain non-negative decimal (positive unless allow_zero); return it."""
    t = text.strip()
    whole, dot, frac = t.partition(".")
    ok = whole.isdigit() and (not dot or frac.isdigit())
    if ok and "e" not in t.lower():
        if allow_zero or t.strip("0.") != "":
            return t
        raise TardisFormatError(f"{where}: {field} {text!r} must be positive")
    raise TardisFormatError(f"{where}: {field} {text!r} is not a non-negative decimal number")


def _ts_ns(text: str, where: str, field: str) -> int:
    t = text.strip()
    if not t.isdigit():
        raise TardisFormatError(f"{where}: {field} {text!r} is not a microsecond timestamp")
    return int(t) * 1000


def _read_rows(path):
    """(kind, exchange, symbol, [(where, ts_exch, ts_local, kind, side, price_txt, qty_txt, seq, msg_key)])."""
    rows = []
    exchange = symbol = None
    with _open_text(path) as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise TardisFormatError(f"{path}:1: empty file, expected a Tardis CSV header")
        kind = detect_kind(header)
        ncol = len(header)
        for line_no, rec in enumerate(reader, start=2):
            where = f"{path}:{line_no}"
            if not rec:
                continue
            if len(rec) != ncol:
                raise TardisFormatError(f"{where}: expected {ncol} fields, got {len(rec)}")
            if exchange is None:
                exchange, symbol = rec[0], rec[1]
            elif (rec[0], rec[1]) != (exchange, symbol):
                raise TardisFormatError(
                    f"{where}: instrument {rec[0]}:{rec[1]} differs from {exchange}:{symbol} of earlier rows")
            ts_exch = _ts_ns(rec[2], where, "timestamp")
            ts_local = _ts_ns(rec[3], where, "local_timestamp")
            if kind == "incremental_book_L2":
                snap = rec[4].strip().lower()
                if snap not in ("true", "false"):
                    raise TardisFormatError(f"{where}: is_snapshot {rec[4]!r} is not true/false")
                side = {"bid": E.SIDE_BID, "ask": E.SIDE_ASK}.get(rec[5].strip().lower())
                if side is None:
                    raise TardisFormatError(f"{where}: side {rec[5]!r} is not bid/ask")
                k = E.EV_SNAPSHOT if snap == "true" else E.EV_UPDATE
                rows.append((where, ts_exch, ts_local, k, side,
                             _dec(rec[6], where, "price", False), _dec(rec[7], where, "amount", True),
                             E.SEQ_NONE, (ts_exch, ts_local, k)))
            elif kind == "trades":
                side = {"buy": E.SIDE_BID, "sell": E.SIDE_ASK, "unknown": E.SIDE_NONE}.get(rec[5].strip().lower())
                if side is None:
                    raise TardisFormatError(f"{where}: side {rec[5]!r} is not buy/sell/unknown")
                tid = rec[4].strip()
                seq = int(tid) if tid.isdigit() and len(tid) < 19 else E.SEQ_NONE
                rows.append((where, ts_exch, ts_local, E.EV_TRADE, side,
                             _dec(rec[6], where, "price", False), _dec(rec[7], where, "amount", False),
                             seq, ("trade", line_no)))
            elif kind == "quotes":
                key = ("quote", line_no)
                # A quote side may be empty when that side of the book is empty.
                for side, pcol, qcol, pname, qname in ((E.SIDE_BID, 6, 7, "bid_price", "bid_amount"),
                                                       (E.SIDE_ASK, 5, 4, "ask_price", "ask_amount")):
                    if rec[pcol].strip() == "" and rec[qcol].strip() == "":
                        continue
                    rows.append((where, ts_exch, ts_local, E.EV_QUOTE, side,
                                 _dec(rec[pcol], where, pname, False), _dec(rec[qcol], where, qname, True),
                                 E.SEQ_NONE, key))
            else:  # book_snapshot_N
                key = ("snap", line_no)
                nlev = (ncol - 4) // 4
                for i in range(nlev):
                    for side, off, name in ((E.SIDE_ASK, 0, "asks"), (E.SIDE_BID, 2, "bids")):
                        p, q = rec[4 + 4 * i + off], rec[5 + 4 * i + off]
                        if p.strip() == "" and q.strip() == "":
                            continue
                        rows.append((where, ts_exch, ts_local, E.EV_SNAPSHOT, side,
                                     _dec(p, where, f"{name}[{i}].price", False),
                                     _dec(q, where, f"{name}[{i}].amount", False), E.SEQ_NONE, key))
    return kind, exchange, symbol, rows


# --- precision ------------------------------------------------------------------------


def _scale(t: str) -> int:
    _, _, frac = t.partition(".")
    return len(frac.rstrip("0"))


def _grid_step(texts) -> Decimal:
    """Exact gcd of the values at the finest scale present, as a Decimal step."""
    scale = max((_scale(t) for t in texts), default=0)
    g = 0
    for t in texts:
        whole, _, frac = t.partition(".")
        frac = frac.rstrip("0")
        units = int(whole) * 10**scale + (int(frac.ljust(scale, "0")) if scale else 0)
        g = math.gcd(g, units)
    if g == 0:
        g = 1
    return Decimal(g).scaleb(-scale)


def infer_instrument(venue: str, symbol: str, price_texts, qty_texts) -> Instrument:
    """Tick and lot as the exact grid of the observed prices and non-zero quantities."""
    qtys = [q for q in qty_texts if q.strip("0.") != ""]
    return Instrument(venue, symbol, _grid_step(price_texts), _grid_step(qtys))


# --- pass 2: events -------------------------------------------------------------------


def load_events(paths, instrument: Instrument | None = None, *, overrides=None, user_table=None):
    """Read Tardis CSV files into one EVENT_DTYPE array, in file order.

    Returns ``(events, instrument)``. ``instrument`` is used as given (a value off its grid
    is an error naming file and line), else resolved (bot.data.instruments.resolve with
    ``overrides`` and ``user_table``), inferred from all files together where no table has
    the instrument. All files must be of the same exchange and symbol.
    """
    ev, res = load_events_resolved(paths, instrument, overrides=overrides, user_table=user_table)
    return ev, res.instrument


def load_events_resolved(paths, instrument: Instrument | None = None, *, overrides=None,
                         user_table=None) -> tuple:
    """:func:`load_events`, returning (events, bot.data.instruments.Resolution)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    parsed = [(p, *_read_rows(p)) for p in paths]
    venue = sym = None
    for p, _kind, exch, s, _rows in parsed:
        if exch is None:
            continue
        if venue is None:
            venue, sym = exch, s
        elif (exch, s) != (venue, sym):
            raise TardisFormatError(f"{p}: instrument {exch}:{s} differs from {venue}:{sym}")
    all_rows = [r for *_, rows in parsed for r in rows]
    if instrument is not None:
        res = Resolution(instrument, "override", {"tick_size": "override", "lot_size": "override"})
    else:
        if not all_rows:
            raise TardisFormatError(f"no rows in {', '.join(map(str, paths))}; cannot infer the instrument")

        def grid() -> Grid:
            qtys = [r[6] for r in all_rows if r[6].strip("0.") != ""]
            g = infer_instrument(venue, sym, [r[5] for r in all_rows], qtys or ["1"])
            return Grid(g.tick_size, g.lot_size if qtys else None, len(all_rows), len(qtys),
                        tick_size=g.tick_size, lot_size=g.lot_size)

        try:
            res = resolve_spec(venue, sym, overrides=overrides, user_table=user_table, infer_from=grid)
        except InstrumentError as e:
            raise TardisFormatError(f"{', '.join(map(str, paths))}: {e}") from None
    instrument = res.instrument
    ev = E.empty(len(all_rows))
    to_ticks = instrument.price_to_ticks
    to_lots = instrument.qty_to_lots
    prev_key = object()
    book_msg = 0
    for i, (where, ts_exch, ts_local, kind, side, ptxt, qtxt, seq, key) in enumerate(all_rows):
        try:
            price = to_ticks(ptxt)
            qty = to_lots(qtxt)
        except ValueError as e:
            raise TardisFormatError(f"{where}: {e}") from None
        new_msg = key != prev_key
        if kind in (E.EV_SNAPSHOT, E.EV_UPDATE):
            book_msg += new_msg
            seq = book_msg
        first = seq if kind == E.EV_UPDATE else E.SEQ_NONE
        ev[i] = (ts_exch, ts_local, price, qty, first, seq, E.SEQ_NONE, kind, side, 0, 0)
        if new_msg:
            ev["flags"][i] |= E.EVF_BEGIN
            if i:
                ev["flags"][i - 1] |= E.EVF_END
        prev_key = key
    if len(ev):
        ev["flags"][-1] |= E.EVF_END
    return ev, res


__all__ = ["TardisFormatError", "load_events", "load_events_resolved", "detect_kind", "is_tardis_csv", "infer_instrument"]
