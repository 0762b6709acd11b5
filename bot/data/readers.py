"""One entry point for every market-data format Bot4 reads.

Formats are told apart by content (and the .parquet suffix): Bot4 Parquet event files
(bot.data.parquet), Tardis CSV (bot.data.tardis), Binance recordings (bot.data.binance,
gzip or plain), and OHLCV bars (bot.data.ohlcv, CSV or Parquet). Event formats load into
EVENT_DTYPE arrays with their instrument spec; bars load as bot.data.ohlcv.Bars.
The spec of a recording comes from bot.data.instruments.resolve (``overrides``, the user's
table, the shipped table, else the recording's own grid); a Bot4 Parquet event file
carries its own. Every failure to read is raised as bot.data.errors.DataError, naming the
file.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from bot.data.errors import DataError
from bot.data.instruments import Resolution
from bot.model import Instrument

EVENT_FORMATS = ("events", "tardis", "binance")


class DataFormatError(DataError):
    """A file is of no known format, or the inputs mix formats."""


def detect_format(path: str | os.PathLike) -> str:
    """'events' (Bot4 Parquet), 'tardis', 'binance', 'ohlcv' or 'npy', from the content."""
    from bot.data import parquet, tardis
    from bot.data.binance import FeedError, sniff

    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        return "events" if parquet.is_event_file(p) else "ohlcv"
    if p.suffix.lower() == ".npy":
        return "npy"
    if tardis.is_tardis_csv(p):
        return "tardis"
    try:
        sniff(p)
        return "binance"
    except (FeedError, OSError, EOFError, zlib.error):
        pass  # not a Binance recording: try the next format
    with open(p, encoding="utf-8", errors="replace") as f:
        head = f.readline().strip().lower().replace(" ", "")
    if head.startswith("timestamp,open,high,low,close,volume"):
        return "ohlcv"
    raise DataFormatError(f"{p}: unrecognised data format (expected Bot4 Parquet events, "
                          "a Tardis CSV, a Binance recording or OHLCV bars)")


def _paths(paths) -> list[Path]:
    return [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]


def _naming(paths: list[Path], e: Exception) -> str:
    """The error's text, prefixed with the input paths unless it already names one."""
    text = str(e) or type(e).__name__
    if any(str(p) in text for p in paths):
        return text
    return f"{', '.join(map(str, paths))}: {text}"


class Loaded(NamedTuple):
    """What :func:`load_market` read: the format, the events (or bars), the instrument
    (None for bars) and how its spec was found (None for bars)."""
    format: str
    data: object
    instrument: Instrument | None
    spec: Resolution | None


def load_market(paths, cache_dir: str | os.PathLike | None = None, *, overrides=None,
                user_table=None) -> Loaded:
    """One or more files of one format, with the spec's provenance.

    ``overrides`` ({tick_size, lot_size, contract_size} as Decimals) and ``user_table`` (a
    TOML path) go to bot.data.instruments.resolve. Several files of an event stream load
    as one session; ``cache_dir`` keeps parsed Binance recordings as .npy so a second load
    does not re-parse. Raises DataError (naming the file and the problem) for a file that
    cannot be read, is of no known format, mixes formats with the others, is malformed, or
    does not fit the spec it was given.
    """
    paths = _paths(paths)
    if not paths:
        raise DataFormatError("no input files")
    try:
        return _load(paths, cache_dir, overrides or {}, user_table)
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zlib.error) as e:
        raise DataError(_naming(paths, e)) from e


def load_market_data(paths, cache_dir: str | os.PathLike | None = None, *, overrides=None,
                     user_table=None) -> tuple:
    """(format, events or bars, instrument or None): :func:`load_market` without the spec's
    provenance."""
    return tuple(load_market(paths, cache_dir, overrides=overrides, user_table=user_table))[:3]


def _event_file_spec(path: Path, inst: Instrument, overrides: dict) -> Resolution:
    """A Parquet event file's own spec: its ticks and lots are stored integers, so a tick or
    lot override must equal the file's; a contract size or min notional may be set."""
    for k, opt in (("tick_size", "--tick-size"), ("lot_size", "--lot-size")):
        v = overrides.get(k)
        if v is not None and v != getattr(inst, k):
            raise DataError(f"{path}: {opt} {v} differs from the event file's {k} {getattr(inst, k)}; "
                            "its events are stored in those units (convert the source again with the option)")
    srcs = {"tick_size": "event file", "lot_size": "event file"}
    extra = {k: overrides[k] for k in ("contract_size", "min_notional") if overrides.get(k) is not None}
    if extra:
        inst = replace(inst, **extra)
        srcs.update({k: "override" for k in extra})
    return Resolution(inst, "event file", srcs)


def _load(paths: list[Path], cache_dir, overrides: dict, user_table) -> Loaded:
    from bot.data import parquet, tardis
    from engine.events import EVENT_DTYPE

    fmts = {detect_format(p) for p in paths}
    if len(fmts) > 1:
        raise DataFormatError(f"{', '.join(map(str, paths))}: inputs mix formats "
                              f"({', '.join(sorted(fmts))}); give one format")
    fmt = fmts.pop()
    if fmt == "events":
        if len(paths) != 1:
            raise DataFormatError(f"{', '.join(map(str, paths))}: give one Bot4 Parquet event file")
        ev, inst = parquet.read_events(paths[0])
        spec = _event_file_spec(paths[0], inst, overrides)
    elif fmt == "tardis":
        ev, spec = tardis.load_events_resolved(paths, overrides=overrides, user_table=user_table)
    elif fmt == "binance":
        from bot.data.binance import load_events_resolved

        ev, spec = load_events_resolved(paths, cache_dir=cache_dir, overrides=overrides, user_table=user_table)
    elif fmt == "npy":
        raise DataFormatError(f"{paths[0]}: a bare .npy has no instrument spec; convert the source")
    else:
        from bot.data.ohlcv import read_ohlcv

        if len(paths) != 1:
            raise DataFormatError(f"{', '.join(map(str, paths))}: give one OHLCV file")
        return Loaded(fmt, read_ohlcv(paths[0]), None, None)
    assert ev.dtype == EVENT_DTYPE
    return Loaded(fmt, ev, spec.instrument, spec)


def load_events(paths, cache_dir: str | os.PathLike | None = None, *, overrides=None, user_table=None):
    """(events, instrument) of files of an event format; bars are refused (DataError)."""
    fmt, ev, inst = load_market_data(paths, cache_dir=cache_dir, overrides=overrides, user_table=user_table)
    if fmt not in EVENT_FORMATS:
        raise DataFormatError(f"{', '.join(map(str, _paths(paths)))}: {fmt} data has no book events")
    return ev, inst
