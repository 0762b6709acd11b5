"""Replay recorded market data through the engine's L2 book and check the rebuilt book.

Parsing happens once (cached as .npy, see bot.data.binance); the replay itself is one C
call over the whole event array (engine.book.Book.apply_batch), which applies Binance's
sequence rules and writes the top of book after every applied diff. The check compares
that top of book with every bookTicker that carries the same update id (price and
quantity on both sides): on a correct replay of a correct feed they are equal.

A replay without a snapshot never builds a book (every diff stays buffered, waiting for
one); ``ReplayReport.book_built`` is False then and ``empty_reason`` says why.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from engine import events as ev
from bot.data.binance import ParseStats, load_events_resolved
from bot.data.instruments import Resolution
from bot.data.readers import detect_format, load_market
from bot.model import Instrument


@dataclass
class BboCheck:
    quotes: int = 0       # bookTicker messages in the data
    checked: int = 0      # of those, whose u equals an applied diff's u
    mismatched: int = 0
    first_mismatch: dict | None = None


@dataclass
class ReplayReport:
    files: list[str]
    venue: str
    symbol: str
    messages: int
    rows: int
    level_updates: int
    diffs_applied: int
    diffs_stale: int
    trades: int
    snapshots: int
    gaps: int
    resyncs: int
    crossed: int
    bbo: BboCheck | None
    best_bid: tuple[str, str] | None
    best_ask: tuple[str, str] | None
    top_bids: list[tuple[str, str]]
    top_asks: list[tuple[str, str]]
    parse_seconds: float
    parse_messages_per_s: float
    parsed_from_cache: bool
    repeat: int
    apply_seconds: list[float] = field(default_factory=list)
    diffs_buffered: int = 0  # diff messages never applied for want of a snapshot (book_built False)
    tick_size: str = ""
    lot_size: str = ""
    contract_size: str | None = None
    spec_source: str = ""  # bot.data.instruments.SOURCES, or "event file"
    spec: str = ""         # one line: the spec and where each part came from

    @property
    def apply_seconds_median(self) -> float:
        return statistics.median(self.apply_seconds)

    @property
    def level_updates_per_s(self) -> float:
        return self.level_updates / self.apply_seconds_median if self.apply_seconds_median > 0 else float("inf")

    @property
    def ok(self) -> bool:
        return (self.gaps == 0 and self.crossed == 0
                and (self.bbo is None or self.bbo.mismatched == 0))

    @property
    def book_built(self) -> bool:
        """Whether a snapshot arrived: without one no diff is applied and the book stays empty."""
        return self.snapshots > 0

    @property
    def empty_reason(self) -> str | None:
        """One line on why the book was never built; None if it was."""
        if self.book_built:
            return None
        if self.rows == 0:
            return "the book was never built: the data holds no events"
        diffs = f"all {self.diffs_buffered:,} diff message(s) stayed buffered" if self.diffs_buffered else \
            "and it holds no diffs either"
        return f"the book was never built: no snapshot in the data, so {diffs}"

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "bbo"}
        d["bbo_check"] = None if self.bbo is None else self.bbo.__dict__
        d["apply_seconds_median"] = self.apply_seconds_median
        d["level_updates_per_s"] = self.level_updates_per_s
        d["ok"] = self.ok
        d["book_built"] = self.book_built
        d["empty_reason"] = self.empty_reason
        return d


def quotes_of(events: np.ndarray) -> np.ndarray:
    """bookTicker messages as rows (u, bid_price, bid_qty, ask_price, ask_qty)."""
    q = events[events["kind"] == ev.EV_QUOTE]
    bids = q[q["side"] == ev.SIDE_BID]
    asks = q[q["side"] == ev.SIDE_ASK]
    if len(bids) != len(asks) or (bids["seq_last"] != asks["seq_last"]).any():
        raise ValueError("quote rows are not in bid/ask pairs of one message each")
    return np.stack([bids["seq_last"], bids["price"], bids["qty"], asks["price"], asks["qty"]], axis=1)


def check_bbo(quotes: np.ndarray, bbo: np.ndarray) -> BboCheck:
    """Compare every quote whose u matches an applied diff's u with the book after that diff."""
    out = BboCheck(quotes=len(quotes))
    if len(bbo) == 0 or len(quotes) == 0:
        return out
    us = bbo["u"]
    order = np.argsort(us, kind="stable")
    us_sorted = us[order]
    pos = np.searchsorted(us_sorted, quotes[:, 0])
    pos_c = np.minimum(pos, len(us_sorted) - 1)
    hit = us_sorted[pos_c] == quotes[:, 0]
    out.checked = int(hit.sum())
    book = bbo[order[pos_c[hit]]]
    mine = np.stack([book["bid_price"], book["bid_qty"], book["ask_price"], book["ask_qty"]], axis=1)
    theirs = quotes[hit][:, 1:]
    bad = (mine != theirs).any(axis=1)
    out.mismatched = int(bad.sum())
    if out.mismatched:
        i = int(np.flatnonzero(bad)[0])
        out.first_mismatch = {"u": int(quotes[hit][i, 0]), "book": mine[i].tolist(),
                              "bookTicker": theirs[i].tolist()}
    return out


def _levels(inst: Instrument, px: np.ndarray, qty: np.ndarray) -> list[tuple[str, str]]:
    return [(str(inst.ticks_to_price(p)), str(inst.lots_to_qty(q))) for p, q in zip(px, qty)]


def replay(paths, repeat: int = 1, check: bool = False, cache_dir: str | None = None,
           instrument: Instrument | None = None, *, overrides=None, user_table=None) -> ReplayReport:
    """Replay ``paths``; the spec is ``instrument``, else resolved (``overrides``,
    ``user_table``, the shipped table, the recording's grid: bot.data.instruments)."""
    from engine.book import BBO_DTYPE, Book

    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    stats = ParseStats()
    t0 = time.perf_counter()
    spec: Resolution
    if instrument is not None or all(detect_format(p) == "binance" for p in paths):
        # Binance recordings (an explicit spec means the files are Binance recordings)
        events, spec = load_events_resolved(paths, instrument=instrument, cache_dir=cache_dir, stats=stats,
                                            overrides=overrides, user_table=user_table)
    else:
        loaded = load_market(paths, overrides=overrides, user_table=user_table)
        if loaded.spec is None:
            raise ValueError(f"{', '.join(map(str, paths))}: {loaded.format} data has no book events")
        events, spec = loaded.data, loaded.spec
    inst = spec.instrument
    parse_s = time.perf_counter() - t0
    from_cache = stats.messages == 0
    starts = events["flags"] & ev.EVF_BEGIN != 0
    n_messages = int(starts.sum())
    n_diffs = int((starts & (events["kind"] == ev.EV_UPDATE)).sum())
    bbo_out = np.zeros(n_diffs + 1, dtype=BBO_DTYPE)

    times, result, book = [], None, None
    for _ in range(repeat):
        book = Book()
        t0 = time.perf_counter()
        result = book.apply_batch(events, bbo_out)
        times.append(time.perf_counter() - t0)

    bbo = None
    if check:
        bbo = check_bbo(quotes_of(events), bbo_out[: result["bbo_written"]])
    bid, ask = book.best_bid(), book.best_ask()
    top = book.top(10)
    return ReplayReport(
        files=[str(p) for p in paths], venue=inst.venue, symbol=inst.symbol,
        messages=n_messages, rows=len(events),
        level_updates=result["level_updates"], diffs_applied=result["diffs_applied"],
        diffs_stale=result["diffs_stale"],
        trades=int((events["kind"] == ev.EV_TRADE).sum()),
        snapshots=result["snapshots"], gaps=result["gaps"], resyncs=result["resyncs"],
        crossed=result["crossed"], bbo=bbo,
        best_bid=None if bid is None else (str(inst.ticks_to_price(bid[0])), str(inst.lots_to_qty(bid[1]))),
        best_ask=None if ask is None else (str(inst.ticks_to_price(ask[0])), str(inst.lots_to_qty(ask[1]))),
        top_bids=_levels(inst, top[0], top[1]), top_asks=_levels(inst, top[2], top[3]),
        parse_seconds=parse_s,
        parse_messages_per_s=(stats.messages / parse_s) if stats.messages else 0.0,
        parsed_from_cache=from_cache, repeat=repeat, apply_seconds=times,
        diffs_buffered=0 if result["snapshots"] else n_diffs,
        tick_size=f"{inst.tick_size:f}", lot_size=f"{inst.lot_size:f}",
        contract_size=None if inst.contract_size is None else f"{inst.contract_size:f}",
        spec_source=spec.source, spec=spec.describe(),
    )


def render_text(r: ReplayReport) -> str:
    lines = [
        f"replay   {r.venue}:{r.symbol}  {len(r.files)} file(s)",
        f"spec     {r.spec}",
        f"events   {r.messages:,} messages, {r.rows:,} rows",
        f"book     {r.level_updates:,} level updates, {r.diffs_applied:,} diffs applied, "
        f"{r.diffs_stale:,} stale dropped, {r.snapshots} snapshot(s)",
        f"trades   {r.trades:,}",
        f"sequence gaps {r.gaps}, resyncs {r.resyncs}, crossed {r.crossed}",
    ]
    if r.bbo is not None:
        lines.append(f"bbo      {r.bbo.quotes:,} bookTickers, {r.bbo.checked:,} checked, "
                     f"{r.bbo.mismatched} mismatched")
        if r.bbo.first_mismatch:
            lines.append(f"         first mismatch: {r.bbo.first_mismatch}")
    bb = f"{r.best_bid[0]} x {r.best_bid[1]}" if r.best_bid else "(empty)"
    ba = f"{r.best_ask[0]} x {r.best_ask[1]}" if r.best_ask else "(empty)"
    lines.append(f"final    best bid {bb}   best ask {ba}")
    lines.append(f"         {'bid qty':>14s} {'bid':>12s} | {'ask':<12s} {'ask qty':<14s}")
    for i in range(max(len(r.top_bids), len(r.top_asks))):
        b = r.top_bids[i] if i < len(r.top_bids) else ("", "")
        a = r.top_asks[i] if i < len(r.top_asks) else ("", "")
        lines.append(f"         {b[1]:>14s} {b[0]:>12s} | {a[0]:<12s} {a[1]:<14s}")
    src = "cached or converted" if r.parsed_from_cache else f"{r.parse_messages_per_s:,.0f} messages/s"
    lines.append(f"parse    {r.parse_seconds:.3f} s ({src})")
    lines.append(f"apply    {r.apply_seconds_median:.4f} s median of {r.repeat}, "
                 f"{r.level_updates_per_s:,.0f} level updates/s")
    if not r.ok:
        lines.append("result   FAILED (gaps, crossed book or bookTicker mismatch)")
    elif not r.book_built:
        lines.append(f"result   EMPTY ({r.empty_reason})")
    else:
        lines.append("result   OK")
    return "\n".join(lines)
