"""Binance raw-feed reader: recorded combined-stream lines -> EVENT_DTYPE rows.

Each line of a recorded file is ``<local receive time, ns> <raw JSON>`` (see
../shared/data/README.md): combined-stream messages ``{"stream": ..., "data": {...}}`` for
``depthUpdate`` diffs, ``bookTicker`` and ``trade``, and bare REST depth snapshots
``{"lastUpdateId": ...}``. Spot and futures are told apart by the diffs' ``pu`` field,
COIN-M from USD-M by the diffs' ``ps`` (pair) field or a ``...USD_...`` symbol. Prices and
quantities convert to int64 ticks/lots exactly (no float) through the instrument spec
(bot.data.instruments.resolve: options, tables, or the recording's own grid); a value off
the tick or lot grid is an error.

Rows keep receive order; Binance's rule "buffer diffs, then take the snapshot" is the
book's job (engine.book buffers diffs that arrive before their snapshot), so a live feed
and a replay go through the same code.
"""

from __future__ import annotations

import gc
import gzip
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import orjson

from engine import events as ev
from bot.data.instruments import Grid, Resolution, refit, resolve_spec, step_gcd, units_gcd
from bot.model import Instrument, InstrumentError, decimal_text_units

PARSER_VERSION = 2


class FeedError(ValueError):
    """A recorded feed line is malformed; the message names the file and line."""


@dataclass
class ParseStats:
    lines: int = 0
    messages: int = 0
    snapshots: int = 0
    diffs: int = 0
    trades: int = 0
    quotes: int = 0
    skipped: int = 0  # messages of streams Bot4 does not read (counted, not silently lost)


def _texts_to_steps(texts: list[str], scale: int, step_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Decimal strings -> int64 multiples of a step, exactly, in bulk.

    Returns (values, bad) where bad is a boolean mask of strings that are not plain
    non-negative decimals on the grid. Strings are joined without their dots and parsed by
    numpy in one C call; each is then rescaled from its own number of decimals. A batch with
    anything but plain decimals falls back to the exact per-string path, which is also the
    reference the fast path is tested against.
    """
    n = len(texts)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    arr = np.array(texts)
    if arr.dtype.kind != "U" or arr.dtype.itemsize // 4 > 19:
        return _texts_to_steps_slow(texts, scale, step_units)
    # Only plain decimals take the fast path: digits with at most one dot ('' , '-1', '+1',
    # '1e5', 'nan', '1.2.3' all fail isdigit and go to the exact per-string path).
    if not np.strings.isdigit(np.strings.replace(arr, ".", "", 1)).all():
        return _texts_to_steps_slow(texts, scale, step_units)
    dot = np.strings.find(arr, ".")
    length = np.strings.str_len(arr)
    if ((dot == 0) | (dot == length - 1)).any():  # '.5' or '5.'
        return _texts_to_steps_slow(texts, scale, step_units)
    decimals = np.where(dot < 0, 0, length - dot - 1)
    try:
        digits = np.fromstring("\n".join(texts).replace(".", ""), dtype=np.int64, sep="\n")
    except ValueError:  # e.g. non-ASCII digits that isdigit() accepts
        digits = np.zeros(0, np.int64)
    if len(digits) != n:
        return _texts_to_steps_slow(texts, scale, step_units)
    int_digits = np.where(dot < 0, length, dot)
    if (int_digits + scale > 18).any():  # the value at `scale` decimals might not fit int64
        return _texts_to_steps_slow(texts, scale, step_units)
    excess = np.maximum(decimals - scale, 0)  # digits finer than the grid: must be zeros
    div = 10 ** excess
    bad = digits % div != 0
    units = digits // div * 10 ** np.maximum(scale - decimals, 0)
    bad |= units % step_units != 0
    return units // step_units, bad


def _texts_to_steps_slow(texts, scale, step_units):
    out = np.zeros(len(texts), np.int64)
    bad = np.zeros(len(texts), bool)
    for i, t in enumerate(texts):
        try:
            v, rem = divmod(decimal_text_units(t, scale), step_units)
        except (ValueError, TypeError, AttributeError):
            bad[i] = True
            continue
        bad[i] = rem != 0
        out[i] = v
    return out, bad


def _open_lines(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _numbered_lines(path: Path, chunk: int = 1 << 24):
    """(line number, line) of a plain or gzip file, read in large decompressed chunks."""
    lineno = 0
    with _open_lines(path) as f:
        carry = b""
        while True:
            block = f.read(chunk)
            if not block:
                break
            lines = (carry + block).split(b"\n")
            carry = lines.pop()
            for line in lines:
                lineno += 1
                if line:
                    yield lineno, line
        if carry:
            yield lineno + 1, carry


def _venue_of(data: dict) -> str:
    if "pu" not in data:
        return "binance-spot"
    pair = str(data.get("s", "")).upper().partition("_")[0]
    return "binance-coinm" if "ps" in data or pair.endswith("USD") else "binance-usdm"


def sniff(path: str | os.PathLike) -> tuple[str, str]:
    """(venue, symbol) of a recorded file, from its first depth diff."""
    path = Path(path)
    with _open_lines(path) as f:
        for lineno, raw in enumerate(f, 1):
            _, _, js = raw.partition(b" ")
            try:
                msg = orjson.loads(js)
            except orjson.JSONDecodeError:
                raise FeedError(f"{path}:{lineno}: not JSON after the timestamp") from None
            data = msg.get("data") if isinstance(msg, dict) else None
            if isinstance(data, dict) and data.get("e") == "depthUpdate":
                return _venue_of(data), str(data.get("s", "")).upper()
            if lineno > 100_000:
                break
    raise FeedError(f"{path}: no depthUpdate message found; cannot tell venue and symbol")


def parse_file(path: str | os.PathLike, inst: Instrument, stats: ParseStats | None = None,
               chunk_bytes: int = 64 << 20) -> np.ndarray:
    """All rows of one recorded file, in receive order, through the C scanner (engine.feed).

    The file is decompressed and scanned in line-aligned chunks of about ``chunk_bytes``,
    so memory stays bounded on large recordings. Errors name the file and line.
    """
    from engine.feed import FeedParseError, parse_binance

    path = Path(path)
    stats = stats if stats is not None else ParseStats()
    parts, lines_before, carry = [], 0, b""
    grid = (inst._price_scale, inst._tick_units, inst._qty_scale, inst._lot_units)
    try:
        with _open_lines(path) as f:
            while True:
                block = f.read(chunk_bytes)
                data = carry + block
                if block:
                    cut = data.rfind(b"\n") + 1
                    data, carry = data[:cut], data[cut:]
                if data:
                    try:
                        rows, st = parse_binance(data, *grid)
                    except FeedParseError as e:
                        raise FeedError(f"{path}:{lines_before + e.line}: {e.reason}") from None
                    parts.append(rows)
                    lines_before += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
                    for k in ("messages", "snapshots", "diffs", "trades", "quotes", "skipped"):
                        setattr(stats, k, getattr(stats, k) + st[k])
                if not block:
                    break
    except (OSError, EOFError, zlib.error) as e:
        raise FeedError(f"{path}:{lines_before + 1}: cannot read: {e}") from None
    stats.lines += lines_before
    if not parts:
        return np.zeros(0, dtype=ev.EVENT_DTYPE)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def parse_file_python(path: str | os.PathLike, inst: Instrument, stats: ParseStats | None = None) -> np.ndarray:
    """The plain-Python reader: the reference the C scanner is tested against, bit for bit.

    Python touches each message once (orjson does the JSON); the level strings are
    collected and converted to ticks/lots in bulk by :func:`_texts_to_steps`.
    """
    path = Path(path)
    stats = stats if stats is not None else ParseStats()
    # One tuple per message: (kind, ts_exch, ts_local, seq_first, seq_last, seq_prev, line).
    msgs: list[tuple] = []
    # Per segment: a run of rows of one side inside a message, and the message it is in.
    g_side, g_len, g_msg = [], [], []
    prices: list[str] = []
    qtys: list[str] = []
    NONE_SEQ = ev.SEQ_NONE
    BID, ASK, SNAP, UPD, TRADE, QUOTE = (ev.SIDE_BID, ev.SIDE_ASK, ev.EV_SNAPSHOT, ev.EV_UPDATE,
                                         ev.EV_TRADE, ev.EV_QUOTE)
    loads = orjson.loads
    add_msg = msgs.append

    def book_levels(bids, asks):
        m = len(msgs) - 1
        if not bids and not asks:  # keep the message (and its sequence ids) as one row
            g_side.append(ev.SIDE_NONE)
            g_len.append(1)
            g_msg.append(m)
            prices.append("0")
            qtys.append("0")
            return
        for side, lv in ((BID, bids), (ASK, asks)):
            if lv:
                ps, qs = zip(*lv)
                prices.extend(ps)
                qtys.extend(qs)
                g_side.append(side)
                g_len.append(len(ps))
                g_msg.append(m)

    lineno = 0
    gc_was_on = gc.isenabled()
    gc.disable()  # millions of short-lived containers: the cyclic GC would rescan them all
    try:
        for lineno, raw in _numbered_lines(path):
            ts_txt, sep, js = raw.partition(b" ")
            if not sep:
                raise FeedError(f"{path}:{lineno}: expected '<ns timestamp> <json>'")
            ts_l = int(ts_txt)
            msg = loads(js)
            data = msg.get("data")
            if data is None:
                if "lastUpdateId" in msg:
                    t = msg.get("T", msg.get("E"))
                    add_msg((SNAP, int(t) * 1_000_000 if t is not None else -1, ts_l,
                             NONE_SEQ, int(msg["lastUpdateId"]), NONE_SEQ, lineno))
                    book_levels(msg["bids"], msg["asks"])
                    stats.snapshots += 1
                    continue
                raise FeedError(f"{path}:{lineno}: neither a stream message nor a depth snapshot")
            e = data.get("e")
            if e == "depthUpdate":
                pu = data.get("pu")
                add_msg((UPD, int(data.get("T", data.get("E"))) * 1_000_000, ts_l,
                         int(data["U"]), int(data["u"]), NONE_SEQ if pu is None else int(pu), lineno))
                book_levels(data["b"], data["a"])
                stats.diffs += 1
            elif e == "trade":
                maker = data["m"]
                if maker is not True and maker is not False:
                    raise FeedError(f"{path}:{lineno}: trade field 'm' must be true/false, got {maker!r}")
                add_msg((TRADE, int(data["T"]) * 1_000_000, ts_l, NONE_SEQ, int(data["t"]), NONE_SEQ, lineno))
                g_side.append(ASK if maker else BID)  # buyer is maker -> the seller took
                g_len.append(1)
                g_msg.append(len(msgs) - 1)
                prices.append(data["p"])
                qtys.append(data["q"])
                stats.trades += 1
            elif e == "bookTicker" or (e is None and "u" in data and "B" in data):
                t = data.get("T", data.get("E"))
                add_msg((QUOTE, int(t) * 1_000_000 if t is not None else -1, ts_l,
                         NONE_SEQ, int(data["u"]), NONE_SEQ, lineno))
                m = len(msgs) - 1
                g_side += (BID, ASK)
                g_len += (1, 1)
                g_msg += (m, m)
                prices += (data["b"], data["a"])
                qtys += (data["B"], data["A"])
                stats.quotes += 1
            else:
                stats.skipped += 1
    except FeedError:
        raise
    except orjson.JSONDecodeError:
        raise FeedError(f"{path}:{lineno}: malformed JSON") from None
    except KeyError as e:
        raise FeedError(f"{path}:{lineno}: missing field {e.args[0]!r}") from None
    except (ValueError, TypeError, AttributeError) as e:
        raise FeedError(f"{path}:{lineno}: bad value ({e})") from None
    except (OSError, EOFError, zlib.error) as e:
        raise FeedError(f"{path}:{lineno}: cannot read: {e}") from None
    finally:
        if gc_was_on:
            gc.enable()
    stats.lines += lineno
    stats.messages += len(msgs)
    m_cols = np.array(msgs, dtype=np.int64).reshape(len(msgs), 7)
    m_line = m_cols[:, 6]

    # Segments -> rows. A message's segments are contiguous and in order.
    g_len_a = np.asarray(g_len, np.int64)
    n_rows = int(g_len_a.sum())
    row_msg = np.repeat(np.asarray(g_msg, np.int64), g_len_a)
    out = np.empty(n_rows, dtype=ev.EVENT_DTYPE)
    for j, name in enumerate(("kind", "ts_exch", "ts_local", "seq_first", "seq_last", "seq_prev")):
        out[name] = m_cols[row_msg, j]
    out["side"] = np.repeat(np.asarray(g_side, np.uint8), g_len_a)
    rows_per_msg = np.bincount(row_msg, minlength=len(msgs))
    ends = np.cumsum(rows_per_msg)
    flags = np.zeros(n_rows, np.uint16)
    flags[ends - rows_per_msg] |= ev.EVF_BEGIN
    flags[ends - 1] |= ev.EVF_END
    out["flags"] = flags
    out["reserved"] = 0
    for name, texts, scale, step in (("price", prices, inst._price_scale, inst._tick_units),
                                     ("qty", qtys, inst._qty_scale, inst._lot_units)):
        vals, bad = _texts_to_steps(texts, scale, step)
        if name == "price":
            bad |= (vals <= 0) & (out["side"] != ev.SIDE_NONE)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise FeedError(f"{path}:{m_line[row_msg[i]]}: {name} {texts[i]!r} is not a positive "
                            f"decimal on the {inst.venue}:{inst.symbol} grid "
                            f"({inst.tick_size if name == 'price' else inst.lot_size})")
        out[name] = vals
    return out


def _cache_path(cache_dir: Path, path: Path, inst: Instrument) -> Path:
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{inst}|v{PARSER_VERSION}"
    import hashlib

    return cache_dir / f"binance-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npy"


# --- the recording's own grid -----------------------------------------------------------

_GRID_SCALES = (8, 12, 16, 18, 6, 4, 2, 0)  # Binance text has at most 8 decimals


def _fine_rows(path: Path) -> tuple[np.ndarray, int, int]:
    """(rows, price scale, qty scale): the file parsed on the unit grid 10**-scale, the
    finest scale (from 8 up to 18, or down when a value would not fit int64) that holds
    every value exactly."""
    ps = qs = 8
    tried = set()
    while True:
        tried.add((ps, qs))
        inst = Instrument("grid", "grid", Decimal(1).scaleb(-ps), Decimal(1).scaleb(-qs))
        try:
            return parse_file(path, inst), ps, qs
        except FeedError as e:
            text = str(e)
            which = "price" if ": price " in text else "qty" if ": qty " in text else None
            if which is None:
                raise
            cur = ps if which == "price" else qs
            finer = "grid" in text
            nxt = next((k for k in _GRID_SCALES if (k > cur if finer else k < cur)
                        and ((k, qs) if which == "price" else (ps, k)) not in tried), None)
            if nxt is None:
                raise
            if which == "price":
                ps = nxt
            else:
                qs = nxt


def _grid_cache_path(cache_dir: Path, path: Path) -> Path:
    import hashlib

    st = path.stat()
    key = f"grid|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|v{PARSER_VERSION}"
    return cache_dir / f"binance-grid-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def _file_grid(path: Path, cache_dir: Path | None) -> tuple[int, int, int, int, int, int]:
    """(price gcd units, price scale, prices, qty gcd units, qty scale, quantities) of one file."""
    cached = _grid_cache_path(cache_dir, path) if cache_dir is not None else None
    if cached is not None and cached.exists():
        try:
            vals = orjson.loads(cached.read_bytes())
            if isinstance(vals, list) and len(vals) == 6 and all(isinstance(v, int) for v in vals):
                return tuple(vals)
        except (OSError, orjson.JSONDecodeError):
            pass  # unreadable cache entry: recompute it
    rows, ps, qs = _fine_rows(path)
    priced = rows["price"][(rows["side"] != ev.SIDE_NONE) & (rows["price"] > 0)]
    sized = rows["qty"][rows["qty"] > 0]
    out = (int(np.gcd.reduce(priced)) if len(priced) else 0, ps, len(priced),
           int(np.gcd.reduce(sized)) if len(sized) else 0, qs, len(sized))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(list(out)))
        os.replace(tmp, cached)
    return out


def infer_grid(paths: Sequence[str | os.PathLike] | str | os.PathLike,
               cache_dir: str | os.PathLike | None = None) -> Grid:
    """The grid of every price and non-zero quantity in the recordings (snapshots, diffs,
    trades, bookTickers), from their decimal text exactly: the gcd of the values, and as
    the inferred tick/lot the largest power of ten (at most 1) dividing it. This is the
    data's own grid, which may be coarser than the exchange's by chance."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    cdir = Path(cache_dir).expanduser() if cache_dir else None
    price_step = qty_step = None
    n_prices = n_qtys = 0
    for p in paths:
        gp, ps, np_, gq, qs, nq = _file_grid(Path(p), cdir)
        n_prices += np_
        n_qtys += nq
        for g, sc, name in ((gp, ps, "price"), (gq, qs, "qty")):
            step = units_gcd(g, sc)
            if step is None:
                continue
            if name == "price":
                price_step = step if price_step is None else step_gcd(price_step, step)
            else:
                qty_step = step if qty_step is None else step_gcd(qty_step, step)
    return Grid(price_step, qty_step, n_prices, n_qtys)


def _is_grid_error(e: FeedError) -> bool:
    text = str(e)
    return (": price " in text or ": qty " in text) and "grid" in text


def load_events(paths: Sequence[str | os.PathLike] | str | os.PathLike,
                instrument: Instrument | None = None,
                cache_dir: str | os.PathLike | None = None,
                stats: ParseStats | None = None, *, overrides=None, user_table=None,
                exchange_info=None) -> tuple[np.ndarray, Instrument]:
    """Rows of one stream recorded across one or more files, as one continuous session.

    Files are ordered by their first receive time. All must be of the same venue and
    symbol. The spec is ``instrument`` if given, else bot.data.instruments.resolve of the
    files' venue and symbol with ``overrides``, ``user_table`` and ``exchange_info``, and
    the recording's own grid where nothing else gives a tick or lot. With ``cache_dir`` the
    parsed rows of each file are kept as .npy keyed by the file's path, size, mtime and
    spec, so a second load does not re-parse.
    """
    events, res = load_events_resolved(paths, instrument, cache_dir, stats, overrides=overrides,
                                       user_table=user_table, exchange_info=exchange_info)
    return events, res.instrument


def load_events_resolved(paths, instrument: Instrument | None = None, cache_dir=None,
                         stats: ParseStats | None = None, *, overrides=None, user_table=None,
                         exchange_info=None) -> tuple[np.ndarray, Resolution]:
    """:func:`load_events`, returning how the spec was found (bot.data.instruments.Resolution)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise FeedError("no input files")
    for p in paths:
        if not p.is_file():
            raise FeedError(f"{p}: no such file")
    ids = {p: sniff(p) for p in paths}
    kinds = set(ids.values())
    if len(kinds) > 1:
        detail = ", ".join(f"{p.name}={v}:{s}" for p, (v, s) in ids.items())
        raise FeedError(f"files are of different streams ({detail}); replay one stream at a time")
    venue, symbol = kinds.pop()
    grid_memo: list[Grid] = []

    def grid() -> Grid:
        if not grid_memo:
            grid_memo.append(infer_grid(paths, cache_dir=cache_dir))
        return grid_memo[0]

    if instrument is not None:
        res = Resolution(instrument, "override", {k: "override" for k in ("tick_size", "lot_size")})
    else:
        try:
            res = resolve_spec(venue, symbol, overrides=overrides, user_table=user_table,
                               exchange_info=exchange_info, infer_from=grid, lazy=True)
        except InstrumentError as e:
            raise FeedError(str(e)) from None
    try:
        return _load_arrays(paths, res.instrument, cache_dir, stats), res
    except FeedError as e:
        if instrument is not None or not _is_grid_error(e):
            raise
        try:
            better = refit(res, grid())
        except InstrumentError as e2:
            raise FeedError(f"{e}; {e2}") from None
        if better.instrument == res.instrument:
            raise
    return _load_arrays(paths, better.instrument, cache_dir, stats), better


def _load_arrays(paths: list[Path], instrument: Instrument, cache_dir, stats) -> np.ndarray:
    arrays = []
    for p in paths:
        cached = _cache_path(Path(cache_dir).expanduser(), p, instrument) if cache_dir else None
        if cached is not None and cached.exists():
            arr = np.load(cached, allow_pickle=False)
            if arr.dtype != ev.EVENT_DTYPE:
                arr = parse_file(p, instrument, stats)
        else:
            arr = parse_file(p, instrument, stats)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(".tmp.npy")
                np.save(tmp, arr, allow_pickle=False)
                os.replace(tmp, cached)
        arrays.append(arr)
    arrays.sort(key=lambda a: int(a["ts_local"][0]) if len(a) else 0)
    return np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
