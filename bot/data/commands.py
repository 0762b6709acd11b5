"""`bot4 data ...`: replay, convert, inspect and generate market data.

`bot4 data features` belongs to the features domain (bot.features.commands); bot.cli adds
it to this group.
"""

import sys

import click


@click.group("data")
def data():
    """Recorded and synthetic market data."""


@data.command("replay")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Replay N times (fresh book each time); timings are the median.")
@click.option("--check-bbo", is_flag=True,
              help="Check the rebuilt top of book against every bookTicker with the same update id.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@click.option("--no-cache", is_flag=True, help="Parse the raw files even if a parsed copy is cached.")
def replay_cmd(paths, repeat, check_bbo, as_json, no_cache):
    """Rebuild the L2 book from recorded feeds by Binance's sequence rules.

    PATHS are Binance recordings (spot or USD-M, gzip or plain), a Bot4 Parquet event file
    (`bot4 data convert`: replays without re-parsing) or a Tardis CSV. Several files of
    one stream replay as one continuous session. Exits 1 if the replay finds a sequence
    gap, a crossed book, or (with --check-bbo) a bookTicker mismatch.
    """
    import json

    from bot.config import load
    from bot.data.replay import render_text, replay

    cfg = load()
    try:
        report = replay(list(paths), repeat=repeat, check=check_bbo,
                        cache_dir=None if no_cache else cfg.data.cache_dir)
    except (ValueError, OSError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else render_text(report))
    if not report.ok:
        sys.exit(1)


def load_input(paths, cache_dir=None) -> tuple:
    """bot.data.readers.load_market_data for commands: (format, events or bars, instrument
    or None); a DataError becomes a one-line CLI error."""
    from bot.data.errors import DataError
    from bot.data.readers import load_market_data

    try:
        return load_market_data(list(paths), cache_dir=cache_dir)
    except DataError as e:
        raise click.ClickException(str(e)) from None


def event_info(ev, inst) -> dict:
    """Span, counts per kind, sequence gaps (the book's Binance rules), time gaps, precision."""
    import numpy as np

    from engine import events as E
    from engine.book import Book

    out = {"rows": int(len(ev)),
           "instrument": {"venue": inst.venue, "symbol": inst.symbol,
                          "tick_size": str(inst.tick_size), "lot_size": str(inst.lot_size)}}
    if len(ev) == 0:
        return out
    ts = ev["ts_local"]
    out["span"] = {"first_ns": int(ts[0]), "last_ns": int(ts[-1]), "seconds": (int(ts[-1]) - int(ts[0])) / 1e9}
    begins = (ev["flags"] & E.EVF_BEGIN) != 0
    counts = {}
    for k, name in E.KIND_NAMES.items():
        m = ev["kind"] == k
        counts[name] = {"rows": int(m.sum()), "messages": int((m & begins).sum())}
    out["counts"] = counts
    book = Book()
    stats = book.apply_batch(ev)
    out["sequence"] = {"gaps": int(stats["gaps"]), "crossed_messages": int(stats["crossed"]),
                       "stale_diffs": int(stats["diffs_stale"]), "diffs_applied": int(stats["diffs_applied"])}
    dt = np.diff(ts)
    out["time_gaps"] = {"max_seconds": float(dt.max()) / 1e9 if len(dt) else 0.0,
                        "over_1s": int((dt > 1_000_000_000).sum())}
    return out


def _render_info(path_text, fmt, info) -> str:
    from datetime import UTC, datetime

    lines = [f"{path_text} ({fmt})"]
    i = info.get("instrument")
    if i:
        lines.append(f"  instrument  {i['venue']}:{i['symbol']}  tick {i['tick_size']}  lot {i['lot_size']}")
    if "span" in info:
        s = info["span"]
        t0 = datetime.fromtimestamp(s["first_ns"] / 1e9, UTC).isoformat()
        t1 = datetime.fromtimestamp(s["last_ns"] / 1e9, UTC).isoformat()
        lines.append(f"  span        {t0} .. {t1}  ({s['seconds']:.3f} s)")
    lines.append(f"  rows        {info['rows']}")
    for k, c in info.get("counts", {}).items():
        lines.append(f"  {k:<11} {c['rows']} rows, {c['messages']} messages")
    if "sequence" in info:
        q = info["sequence"]
        lines.append(f"  gaps        {q['gaps']} sequence gaps, {q['crossed_messages']} crossed, "
                     f"{q['stale_diffs']} stale diffs")
    if "time_gaps" in info:
        g = info["time_gaps"]
        lines.append(f"  time gaps   max {g['max_seconds']:.3f} s, {g['over_1s']} over 1 s")
    if "bars" in info:
        b = info["bars"]
        lines.append(f"  bars        interval {b['interval_seconds']} s, {b['gaps']} gaps "
                     f"({b['missing']} bars missing)")
    return "\n".join(lines)


@data.command("convert")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Parquet file to write.")
def convert_cmd(paths, out):
    """Convert recorded data (Binance, Tardis CSV, OHLCV bars) to Parquet.

    Events keep their EVENT_DTYPE columns and the instrument spec in the file metadata, so
    the result replays without re-parsing; OHLCV bars become a bar Parquet file.
    """
    from bot.data import parquet

    fmt, obj, inst = load_input(list(paths))
    if fmt == "ohlcv":
        from bot.data.ohlcv import write_ohlcv_parquet

        write_ohlcv_parquet(obj, out)
        click.echo(f"{out}: {len(obj)} bars")
        return
    parquet.write_events(out, obj, inst, source=",".join(str(p) for p in paths))
    click.echo(f"{out}: {len(obj)} events, {inst.venue}:{inst.symbol}")


@data.command("info")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_cmd(paths, as_json):
    """Span, counts per kind, sequence and time gaps, and instrument precision of data files."""
    import json

    fmt, obj, inst = load_input(list(paths))
    if fmt == "ohlcv":
        info = {"rows": len(obj), "span": {"first_ns": int(obj.ts[0]), "last_ns": int(obj.ts[-1]),
                                           "seconds": (int(obj.ts[-1]) - int(obj.ts[0])) / 1e9} if len(obj) else {},
                "bars": {"interval_seconds": obj.interval_ns / 1e9, "gaps": len(obj.gaps),
                         "missing": sum(g.missing for g in obj.gaps)}}
        if not len(obj):
            info.pop("span")
    else:
        info = event_info(obj, inst)
    info["format"] = fmt
    click.echo(json.dumps(info, indent=2) if as_json else _render_info(", ".join(paths), fmt, info))


@data.command("synth")
@click.option("--events", "n_events", type=click.IntRange(min=50), default=1_000_000, show_default=True,
              help="Rows to generate.")
@click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=0, show_default=True)
@click.option("--regime", type=click.Choice(["bull", "bear", "sideways", "crisis"]), default="sideways",
              show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Parquet file to write.")
def synth_cmd(n_events, seed, regime, out):
    """Generate a seeded synthetic L2 market (snapshot, diffs, trades) as a Parquet event file."""
    import time

    from bot.data import parquet
    from bot.data.synthetic import synthetic_market

    t0 = time.perf_counter()
    ev, inst = synthetic_market(n_events, seed=seed, regime=regime)
    dt = time.perf_counter() - t0
    parquet.write_events(out, ev, inst, source=f"synth seed={seed} regime={regime} events={n_events}")
    click.echo(f"{out}: {len(ev)} events ({regime}, seed {seed}), generated at {len(ev) / dt / 1e6:.2f} M events/s")
