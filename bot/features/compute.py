"""Feature time series of an event array, to Parquet (``bot4 data features``).

The per-event work is engine.features.compute (C); this module picks defaults that depend
on the data (the VPIN bucket volume), and writes one row per sample: ``row`` (the event
row sampled after), ``ts_local`` and one float64 column per feature in layout order. The
file metadata carries the layout (version, names, units), the parameters, the instrument
and the source, so a consumer can refuse a layout it was not trained on.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, replace

import numpy as np

from engine.events import EV_TRADE
from engine.feature_layout import LAYOUT_VERSION, NAMES, FeatureParams, describe

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000}


def parse_interval(text: str) -> int:
    """'100ms' -> 100_000_000 ns; units ns, us, ms, s, m; the value must be > 0."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m)\s*", text or "")
    if not m:
        raise ValueError(f"interval {text!r} is not a number with a unit (ns, us, ms, s, m)")
    ns = int(round(float(m.group(1)) * _UNITS[m.group(2)]))
    if ns <= 0:
        raise ValueError(f"interval {text!r} must be positive")
    return ns


def default_vpin_bucket(events: np.ndarray) -> int:
    """Total traded lots / 500 (at least 1): about 500 buckets over the data."""
    vol = int(events["qty"][events["kind"] == EV_TRADE].sum())
    return max(1, vol // 500)


def feature_series(events: np.ndarray, params: FeatureParams | None = None, every: int = 0,
                   interval_ns: int = 0) -> dict:
    """engine.features.compute with data-dependent defaults; see its docstring."""
    from engine.features import compute

    return compute(events, params or FeatureParams(), every=every, interval_ns=interval_ns)


def write_feature_series(path, events: np.ndarray, instrument, every: int = 0, interval_ns: int = 0,
                         vpin_bucket: int | None = None, params: FeatureParams | None = None,
                         source: str = "") -> int:
    """Compute and write the series; returns the number of samples written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    params = params or FeatureParams()
    params = replace(params, vpin_bucket=vpin_bucket or default_vpin_bucket(events))
    r = feature_series(events, params, every=every, interval_ns=interval_ns)
    cols = {"row": pa.array(r["row"]), "ts_local": pa.array(r["ts"])}
    for i, name in enumerate(NAMES):
        cols[name] = pa.array(np.ascontiguousarray(r["values"][:, i]))
    meta = {b"bot4.format": b"features/1",
            b"bot4.layout": json.dumps(describe()).encode(),
            b"bot4.layout_version": str(LAYOUT_VERSION).encode(),
            b"bot4.params": json.dumps(asdict(params)).encode(),
            b"bot4.sampling": json.dumps({"every": every, "interval_ns": interval_ns}).encode(),
            b"bot4.instrument": json.dumps({"venue": instrument.venue, "symbol": instrument.symbol,
                                            "tick_size": str(instrument.tick_size),
                                            "lot_size": str(instrument.lot_size)}).encode(),
            b"bot4.source": source.encode()}
    table = pa.table(cols).replace_schema_metadata(meta)
    pq.write_table(table, os.fspath(path), compression="zstd")
    return len(r["row"])


def read_feature_series(path) -> tuple[dict, dict]:
    """(columns as numpy arrays, metadata) of a file written by write_feature_series.
    Raises ValueError if the file's layout version is not this build's."""
    import pyarrow.parquet as pq

    t = pq.read_table(os.fspath(path))
    md = t.schema.metadata or {}
    if md.get(b"bot4.format") != b"features/1":
        raise ValueError(f"{path}: not a Bot4 features file")
    layout = json.loads(md[b"bot4.layout"])
    if layout["version"] != LAYOUT_VERSION or layout["names"] != list(NAMES):
        raise ValueError(f"{path}: feature layout v{layout['version']} does not match this build's v{LAYOUT_VERSION}")
    cols = {name: t.column(name).to_numpy() for name in t.column_names}
    meta = {"layout": layout, "params": json.loads(md[b"bot4.params"]),
            "sampling": json.loads(md[b"bot4.sampling"]), "instrument": json.loads(md[b"bot4.instrument"]),
            "source": md.get(b"bot4.source", b"").decode()}
    return cols, meta
