"""EVENT_DTYPE arrays in Parquet, with the instrument spec in the file's metadata.

One column per EVENT_DTYPE field, same name and integer type, so reading back is a column
copy into a structured array: converted data replays without re-parsing the source text.
The schema metadata holds ``bot4.format = "events/1"`` and the instrument (venue, symbol,
tick, lot, min notional and, for inverse contracts, contract size as exact decimal
strings), plus free-form ``bot4.source``.

Writers go through :func:`write_table_atomic`: the file appears whole or not at all (a
failed write leaves neither a partial file nor a temporary one, and keeps a file it was to
replace). :func:`check_output` tells a command, before any work, that a path cannot be
written.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import uuid
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.events import EVENT_DTYPE
from bot.model import Instrument

FORMAT = "events/1"
_META_FORMAT = b"bot4.format"
_META_INSTRUMENT = b"bot4.instrument"
_META_SOURCE = b"bot4.source"


class EventFileError(ValueError):
    """A Parquet file is not a Bot4 event file, or its contents break the event format."""


def instrument_to_dict(inst: Instrument) -> dict:
    d = {"venue": inst.venue, "symbol": inst.symbol, "tick_size": str(inst.tick_size),
         "lot_size": str(inst.lot_size), "min_notional": str(inst.min_notional)}
    if inst.contract_size is not None:
        d["contract_size"] = str(inst.contract_size)
    return d


def instrument_from_dict(d: dict) -> Instrument:
    try:
        cs = d.get("contract_size")
        return Instrument(d["venue"], d["symbol"], Decimal(d["tick_size"]), Decimal(d["lot_size"]),
                          Decimal(d.get("min_notional", "0")), None if cs is None else Decimal(cs))
    except (KeyError, ArithmeticError, TypeError, ValueError) as e:
        raise EventFileError(f"instrument metadata {d!r} is invalid: {e}") from None


def check_output(path) -> None:
    """Raise an OSError (``filename`` = path, ``strerror`` = why) unless a file can be
    written at `path`: its directory exists and is writable, and `path` is not a directory."""
    p = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(p)

    def refuse(cls, code, detail):
        return cls(code, f"{os.strerror(code)} ({detail})", p)

    if os.path.isdir(p):
        raise refuse(IsADirectoryError, errno.EISDIR, "the path names a directory")
    if not os.path.exists(parent):
        raise refuse(FileNotFoundError, errno.ENOENT, f"the directory {parent} does not exist")
    if not os.path.isdir(parent):
        raise refuse(NotADirectoryError, errno.ENOTDIR, f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise refuse(PermissionError, errno.EACCES, f"the directory {parent} is not writable")
    if os.path.exists(p) and not os.access(p, os.W_OK):
        raise refuse(PermissionError, errno.EACCES, "the file is read-only")


def write_table_atomic(table: pa.Table, path, **kwargs) -> None:
    """pq.write_table to a temporary file beside `path`, renamed over it when complete;
    on any failure the temporary file is removed and `path` is untouched."""
    p = os.path.abspath(os.fspath(path))
    tmp = os.path.join(os.path.dirname(p), f".{os.path.basename(p)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        pq.write_table(table, tmp, **kwargs)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_events(path, events: np.ndarray, instrument: Instrument, source: str = "") -> None:
    """Write an EVENT_DTYPE array and its instrument spec to a Parquet file (zstd)."""
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
        raise EventFileError(f"events must be an EVENT_DTYPE array, got {getattr(events, 'dtype', type(events))}")
    cols = {name: pa.array(np.ascontiguousarray(events[name])) for name in EVENT_DTYPE.names}
    meta = {_META_FORMAT: FORMAT.encode(),
            _META_INSTRUMENT: json.dumps(instrument_to_dict(instrument)).encode(),
            _META_SOURCE: source.encode()}
    table = pa.table(cols).replace_schema_metadata(meta)
    write_table_atomic(table, path, compression="zstd")


def is_event_file(path) -> bool:
    """True if `path` is a Parquet file written by :func:`write_events`."""
    try:
        md = pq.read_schema(os.fspath(path)).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return False
    return md.get(_META_FORMAT) == FORMAT.encode()


def read_metadata(path) -> tuple[Instrument, str, int]:
    """(instrument, source, number of rows) without reading the columns."""
    f = pq.ParquetFile(os.fspath(path))
    md = f.schema_arrow.metadata or {}
    _check_format(path, md)
    inst = instrument_from_dict(json.loads(md[_META_INSTRUMENT]))
    return inst, md.get(_META_SOURCE, b"").decode(), f.metadata.num_rows


def _check_format(path, md):
    fmt = md.get(_META_FORMAT)
    if fmt != FORMAT.encode():
        raise EventFileError(f"{path}: bot4.format is {fmt!r}, expected {FORMAT!r} (not a Bot4 event file)")
    if _META_INSTRUMENT not in md:
        raise EventFileError(f"{path}: no bot4.instrument metadata")


def read_events(path) -> tuple[np.ndarray, Instrument]:
    """Read a file written by :func:`write_events`: ``(events, instrument)``."""
    try:
        table = pq.read_table(os.fspath(path))
    except pa.ArrowInvalid as e:
        raise EventFileError(f"{path}: not a readable Parquet file: {e}") from None
    md = table.schema.metadata or {}
    _check_format(path, md)
    inst = instrument_from_dict(json.loads(md[_META_INSTRUMENT]))
    ev = np.empty(table.num_rows, dtype=EVENT_DTYPE)
    for name in EVENT_DTYPE.names:
        if name not in table.column_names:
            raise EventFileError(f"{path}: column {name!r} is missing")
        col = table.column(name).to_numpy()
        if col.dtype != EVENT_DTYPE.fields[name][0]:
            raise EventFileError(f"{path}: column {name!r} has type {col.dtype}, expected {EVENT_DTYPE.fields[name][0]}")
        ev[name] = col
    return ev, inst
