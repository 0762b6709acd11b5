"""OHLCV bars from CSV or Parquet into columnar float64/int64 arrays.

A bar file has the columns ``timestamp, open, high, low, close, volume`` (the layout of
``../shared/data/ohlcv/*.csv``). Timestamps are ISO-8601 dates or datetimes (taken as UTC
when they carry no offset) or integer epoch values; an integer's unit is chosen by its
size (< 1e11 seconds, < 1e14 milliseconds, < 1e17 microseconds, else nanoseconds), which is
unambiguous for any date between 1973 and 2286. Inside Bot4 a timestamp is int64 ns since
the epoch.

Every row is checked before anything is returned: a non-numeric or non-finite field, a
price <= 0, a negative volume, high < low, open or close outside [low, high], or a
timestamp not strictly after the previous one raises :class:`OhlcvFormatError` naming the
file, the line (CSV: the physical line, header = line 1; Parquet: "row N", 1-based), the
field and the value.

Well-formed CSV goes through pyarrow's reader; anything it cannot type, or any row that
fails a check, sends the file through the row-by-row parser, which raises with the line.

The bar interval is the most common positive spacing between consecutive timestamps; every
larger spacing is a gap, reported in :attr:`Bars.gaps` (the data is not filled in: a gap is
a fact about the recording, and the indicators run over the bars as they are).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path

import numpy as np

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close")


class OhlcvFormatError(ValueError):
    """A bar file that is not valid OHLCV; the message names file, line, field and value."""


@dataclass(frozen=True)
class Gap:
    """Bars missing between ``index - 1`` and ``index`` (``missing`` whole intervals)."""

    index: int
    ts_before_ns: int
    ts_after_ns: int
    missing: int


@dataclass
class Bars:
    """Columnar bars: ``ts`` int64 ns, the rest float64, all of one length."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    interval_ns: int
    gaps: list[Gap] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def columns(self) -> dict[str, np.ndarray]:
        return {c: getattr(self, "ts" if c == "timestamp" else c) for c in COLUMNS}


def _parse_ts(text: str) -> int:
    s = text.strip()
    if s.lstrip("-").isdigit():
        v = int(s)
        a = abs(v)
        if a < 10**11:
            return v * 1_000_000_000
        if a < 10**14:
            return v * 1_000_000
        if a < 10**17:
            return v * 1_000
        return v
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _check_row(where: str, ts: int, prev_ts: int | None, o, h, lo, c, v) -> None:
    for name, x in zip(("open", "high", "low", "close", "volume"), (o, h, lo, c, v)):
        if not math.isfinite(x):
            raise OhlcvFormatError(f"{where}: {name} is not finite: {x!r}")
    for name, x in zip(PRICE_COLUMNS, (o, h, lo, c)):
        if x <= 0.0:
            raise OhlcvFormatError(f"{where}: {name} must be > 0, got {x!r}")
    if v < 0.0:
        raise OhlcvFormatError(f"{where}: volume must be >= 0, got {v!r}")
    if h < lo:
        raise OhlcvFormatError(f"{where}: high {h!r} < low {lo!r}")
    if not lo <= o <= h:
        raise OhlcvFormatError(f"{where}: open {o!r} outside [low {lo!r}, high {h!r}]")
    if not lo <= c <= h:
        raise OhlcvFormatError(f"{where}: close {c!r} outside [low {lo!r}, high {h!r}]")
    if prev_ts is not None and ts <= prev_ts:
        raise OhlcvFormatError(
            f"{where}: timestamp {ts} ns is not after the previous row's {prev_ts} ns")


def _first_invalid(ts: np.ndarray, o, h, lo, c, v) -> int:
    """Index of the first row that breaks a rule of _check_row, or -1 (vectorized)."""
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c) & np.isfinite(v))
        bad |= (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0) | (v < 0) | (h < lo)
        bad |= (o < lo) | (o > h) | (c < lo) | (c > h)
    bad[1:] |= ts[1:] <= ts[:-1]
    return int(np.argmax(bad)) if bad.any() else -1


def _validate(cols: tuple[list, ...], where) -> None:
    """Check every row at numpy speed; on a bad row, raise _check_row's message for it."""
    ts = np.asarray(cols[0], dtype=np.int64)
    vals = [np.asarray(x, dtype=np.float64) for x in cols[1:]]
    i = _first_invalid(ts, *vals)
    if i >= 0:
        _check_row(where(i), int(ts[i]), int(ts[i - 1]) if i > 0 else None,
                   *(float(x[i]) for x in vals))


def _read_csv(path: Path) -> tuple[list, ...]:
    cols: tuple[list, ...] = ([], [], [], [], [], [])
    lines: list[int] = []
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise OhlcvFormatError(f"{path}: empty file, expected header {','.join(COLUMNS)}") from None
        if tuple(h.strip().lower() for h in header) != COLUMNS:
            raise OhlcvFormatError(
                f"{path}:1: header {','.join(header)!r}, expected {','.join(COLUMNS)!r}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(COLUMNS):
                raise OhlcvFormatError(f"{where}: {len(row)} fields, expected {len(COLUMNS)}")
            try:
                ts = _parse_ts(row[0])
            except ValueError:
                raise OhlcvFormatError(f"{where}: timestamp is not a date/time or integer: {row[0]!r}") from None
            vals = []
            for name, text in zip(COLUMNS[1:], row[1:]):
                try:
                    vals.append(float(text))
                except ValueError:
                    raise OhlcvFormatError(f"{where}: {name} is not a number: {text!r}") from None
            lines.append(reader.line_num)
            cols[0].append(ts)
            for k in range(5):
                cols[k + 1].append(vals[k])
    _validate(cols, lambda i: f"{path}:{lines[i]}")
    return cols


def _epoch_to_ns(v: np.ndarray) -> np.ndarray:
    """Integer epoch values to ns by magnitude, as _parse_ts does for one value."""
    a = np.abs(v)
    mult = np.where(a < 10**11, 1_000_000_000, np.where(a < 10**14, 1_000_000,
                                                       np.where(a < 10**17, 1_000, 1)))
    return v * mult


def _read_csv_fast(path: Path):
    """pyarrow's CSV reader for well-formed files, or None to fall back to the row parser
    (which then names the bad line). Used only when every row parses and validates."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.float64() for c in COLUMNS[1:]},
                include_columns=list(COLUMNS), strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError):
        return None
    if tuple(table.column_names) != COLUMNS:
        return None
    ts_col = table.column("timestamp")
    if pa.types.is_integer(ts_col.type):
        ts = _epoch_to_ns(ts_col.to_numpy().astype(np.int64))
    elif pa.types.is_timestamp(ts_col.type) and ts_col.type.tz is None:
        ts = ts_col.cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy()
    elif pa.types.is_date(ts_col.type):
        ts = ts_col.cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy()
    else:  # strings pyarrow could not type, offsets, mixed forms: the row parser decides
        return None
    if any(table.column(c).null_count for c in COLUMNS):
        return None
    cols = (ts.astype(np.int64),) + tuple(table.column(c).to_numpy().astype(np.float64)
                                          for c in COLUMNS[1:])
    if _first_invalid(*cols) >= 0:
        return None
    return cols


def _read_parquet(path: Path) -> tuple:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise OhlcvFormatError(f"{path}: missing column(s) {', '.join(missing)}")
    ts_col = table.column("timestamp")
    if pa.types.is_timestamp(ts_col.type):
        ts_col = ts_col.cast(pa.timestamp("ns", tz=ts_col.type.tz)).cast(pa.int64())
    elif not pa.types.is_integer(ts_col.type):
        raise OhlcvFormatError(f"{path}: timestamp column has type {ts_col.type}, expected timestamp or int64 ns")
    if ts_col.null_count:
        raise OhlcvFormatError(f"{path}: timestamp has {ts_col.null_count} null value(s)")
    cols: tuple = (ts_col.to_numpy().astype(np.int64),)
    for name in COLUMNS[1:]:
        col = table.column(name)
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            raise OhlcvFormatError(f"{path}: column {name} has type {col.type}, expected a number")
        if col.null_count:
            i = col.to_pylist().index(None)
            raise OhlcvFormatError(f"{path} row {i + 1}: {name} is null")
        cols += (col.to_numpy().astype(np.float64),)
    _validate(cols, lambda i: f"{path} row {i + 1}")
    return cols


def find_gaps(ts: np.ndarray) -> tuple[int, list[Gap]]:
    """(interval_ns, gaps): the most common positive spacing and every larger spacing."""
    if ts.shape[0] < 2:
        return 0, []
    diffs = np.diff(ts)
    values, counts = np.unique(diffs, return_counts=True)
    interval = int(values[np.argmax(counts)])
    gaps = [
        Gap(int(i), int(ts[i - 1]), int(ts[i]), int(diffs[i - 1] // interval) - 1)
        for i in (np.flatnonzero(diffs > interval) + 1)
    ]
    return interval, gaps


def read_ohlcv(path) -> Bars:
    """Read and validate a CSV or Parquet bar file (by suffix: .parquet/.pq, else CSV)."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        cols = _read_parquet(path)
    else:
        cols = _read_csv_fast(path)
        if cols is None:
            cols = _read_csv(path)
    ts = np.asarray(cols[0], dtype=np.int64)
    arrays = [np.asarray(c, dtype=np.float64) for c in cols[1:]]
    interval, gaps = find_gaps(ts)
    return Bars(ts, *arrays, interval_ns=interval, gaps=gaps, source=str(path))


def write_ohlcv_parquet(bars: Bars, path) -> None:
    """Write bars as Parquet: timestamp as timestamp[ns, UTC], the rest float64. The file
    appears whole or not at all (bot.data.parquet.write_table_atomic)."""
    import pyarrow as pa

    from bot.data.parquet import write_table_atomic

    table = pa.table(
        {
            "timestamp": pa.array(bars.ts, type=pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
            **{c: pa.array(getattr(bars, c), type=pa.float64()) for c in COLUMNS[1:]},
        }
    )
    write_table_atomic(table, path)
