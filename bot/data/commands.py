"""`bot4 data ...`: replay, convert, inspect and generate market data.

`bot4 data features` belongs to the features domain (bot.features.commands); bot.cli adds
it to this group. Every command that reads market data takes :func:`spec_options`
(--tick-size, --lot-size, --contract-size, --instruments): the instrument spec of a
recording is found by bot.data.instruments.resolve.
"""

import sys

import click


def spec_options(fn):
    """--tick-size, --lot-size, --contract-size and --instruments FILE (or BOT4_INSTRUMENTS):
    the options of every command that reads market data; :func:`spec_kwargs` turns them
    into the loaders' ``overrides`` and ``user_table``."""
    opts = [
        click.option("--tick-size", default=None, metavar="DECIMAL",
                     help="Price step of the data's instrument (default: the instrument table, "
                          "else the recording's own grid)."),
        click.option("--lot-size", default=None, metavar="DECIMAL",
                     help="Quantity step of the data's instrument (default: as --tick-size)."),
        click.option("--contract-size", default=None, metavar="DECIMAL",
                     help="Quote value of one contract, for inverse (COIN-M) contracts."),
        click.option("--instruments", "instruments_file", default=None, envvar="BOT4_INSTRUMENTS",  # USER_TABLE_ENV
                     type=click.Path(dir_okay=False), metavar="FILE",
                     help="Your instrument table (TOML, the format of config/instruments.toml); "
                          "its entries come before the shipped table. Env: BOT4_INSTRUMENTS."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def spec_kwargs(tick_size=None, lot_size=None, contract_size=None, instruments_file=None) -> dict:
    """{overrides, user_table} for the loaders, from :func:`spec_options`' values; a bad
    value or table is a one-line CLI error naming it."""
    from bot.data.instruments import load_table, parse_overrides
    from bot.model import InstrumentError

    try:
        overrides = parse_overrides(tick_size, lot_size, contract_size)
    except InstrumentError as e:
        raise click.BadParameter(str(e)) from None
    table = None
    if instruments_file:
        try:
            table = load_table(instruments_file)
        except InstrumentError as e:
            raise click.ClickException(str(e)) from None
    return {"overrides": overrides, "user_table": table}


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
@click.option("--allow-empty", is_flag=True,
              help="Exit 0 with a warning when no book was built (no snapshot, or no events, in the data).")
@spec_options
def replay_cmd(paths, repeat, check_bbo, as_json, no_cache, allow_empty, **spec):
    """Rebuild the L2 book from recorded feeds by Binance's sequence rules.

    PATHS are Binance recordings (spot, USD-M or COIN-M, gzip or plain), a Bot4 Parquet
    event file (`bot4 data convert`: replays without re-parsing) or a Tardis CSV. Several
    files of one stream replay as one continuous session. The instrument spec comes from
    the options, your table, the shipped table, else the recording's own grid (the output
    says which). Exits 1 if the replay finds a sequence gap, a crossed book, or (with
    --check-bbo) a bookTicker mismatch, and if the book was never built (the data has no
    snapshot, so every diff stays buffered) unless --allow-empty.
    """
    import json

    from bot.config import load
    from bot.data.replay import render_text, replay

    kw = spec_kwargs(**spec)
    cfg = load()
    try:
        report = replay(list(paths), repeat=repeat, check=check_bbo,
                        cache_dir=None if no_cache else cfg.data.cache_dir, **kw)
    except (ValueError, OSError) as e:
        raise click.ClickException(str(e)) from None
    if not report.book_built and not allow_empty:
        hint = "replay the session from the file with its snapshot, or pass --allow-empty" if report.rows else \
            "pass --allow-empty to accept an empty replay"
        raise click.ClickException(f"{', '.join(paths)}: {report.empty_reason} ({hint})")
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else render_text(report))
    if not report.book_built:
        click.echo(f"warning: {report.empty_reason}", err=True)
    if not report.ok:
        sys.exit(1)


def load_input(paths, cache_dir=None, *, overrides=None, user_table=None):
    """bot.data.readers.load_market for commands: (format, events or bars, instrument or
    None, spec provenance or None); a DataError becomes a one-line CLI error."""
    from bot.data.errors import DataError
    from bot.data.readers import load_market

    try:
        return load_market(list(paths), cache_dir=cache_dir, overrides=overrides, user_table=user_table)
    except DataError as e:
        raise click.ClickException(str(e)) from None


def event_info(ev, inst, spec=None) -> dict:
    """Span, counts per kind, sequence gaps (the book's Binance rules), time gaps, precision
    (and, given ``spec``, where the instrument spec came from)."""
    import numpy as np

    from engine import events as E
    from engine.book import Book

    out = {"rows": int(len(ev)),
           "instrument": {"venue": inst.venue, "symbol": inst.symbol,
                          "tick_size": f"{inst.tick_size:f}", "lot_size": f"{inst.lot_size:f}"}}
    if inst.contract_size is not None:
        out["instrument"]["contract_size"] = f"{inst.contract_size:f}"
    if spec is not None:
        out["instrument"]["source"] = spec.source
        out["instrument"]["spec"] = spec.describe()
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
        lines.append(f"  instrument  {i['venue']}:{i['symbol']}  tick {i['tick_size']}  lot {i['lot_size']}"
                     + (f"  contract size {i['contract_size']}" if "contract_size" in i else ""))
        if "spec" in i:
            lines.append(f"  spec        {i['spec']}")
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
@spec_options
def convert_cmd(paths, out, **spec):
    """Convert recorded data (Binance, Tardis CSV, OHLCV bars) to Parquet.

    Events keep their EVENT_DTYPE columns and the instrument spec in the file metadata, so
    the result replays without re-parsing; OHLCV bars become a bar Parquet file.
    """
    from bot.data import parquet

    kw = spec_kwargs(**spec)
    try:
        parquet.check_output(out)
    except OSError as e:
        raise click.ClickException(f"cannot write {out}: {e.strerror}") from None
    fmt, obj, inst, how = load_input(list(paths), **kw)
    try:
        if fmt == "ohlcv":
            from bot.data.ohlcv import write_ohlcv_parquet

            write_ohlcv_parquet(obj, out)
        else:
            parquet.write_events(out, obj, inst, source=",".join(str(p) for p in paths))
    except OSError as e:  # the writer leaves no partial file
        raise click.ClickException(f"cannot write {out}: {e.strerror or e}") from None
    if fmt == "ohlcv":
        click.echo(f"{out}: {len(obj)} bars")
        return
    click.echo(f"{out}: {len(obj)} events, {inst.venue}:{inst.symbol}")
    click.echo(f"spec: {how.describe()}")


@data.command("info")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@spec_options
def info_cmd(paths, as_json, **spec):
    """Span, counts per kind, sequence and time gaps, and instrument precision of data files."""
    import json

    fmt, obj, inst, how = load_input(list(paths), **spec_kwargs(**spec))
    if fmt == "ohlcv":
        info = {"rows": len(obj), "span": {"first_ns": int(obj.ts[0]), "last_ns": int(obj.ts[-1]),
                                           "seconds": (int(obj.ts[-1]) - int(obj.ts[0])) / 1e9} if len(obj) else {},
                "bars": {"interval_seconds": obj.interval_ns / 1e9, "gaps": len(obj.gaps),
                         "missing": sum(g.missing for g in obj.gaps)}}
        if not len(obj):
            info.pop("span")
    else:
        info = event_info(obj, inst, how)
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

    try:
        parquet.check_output(out)
    except OSError as e:
        raise click.ClickException(f"cannot write {out}: {e.strerror}") from None
    t0 = time.perf_counter()
    ev, inst = synthetic_market(n_events, seed=seed, regime=regime)
    dt = time.perf_counter() - t0
    try:
        parquet.write_events(out, ev, inst, source=f"synth seed={seed} regime={regime} events={n_events}")
    except OSError as e:  # the writer leaves no partial file
        raise click.ClickException(f"cannot write {out}: {e.strerror or e}") from None
    click.echo(f"{out}: {len(ev)} events ({regime}, seed {seed}), generated at {len(ev) / dt / 1e6:.2f} M events/s")
