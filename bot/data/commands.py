"""`bot4 data ...`: replay, convert, inspect and generate market data."""

import sys

import click

from bot.pending import PendingCommand


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
    """Rebuild the L2 book from recorded Binance feeds (spot or USD-M) by Binance's rules.

    Several files of one stream replay as one continuous session. Exits 1 if the replay
    finds a sequence gap, a crossed book, or (with --check-bbo) a bookTicker mismatch.
    """
    import json

    from bot.config import load
    from bot.data.binance import FeedError
    from bot.data.replay import render_text, replay

    cfg = load()
    try:
        report = replay(list(paths), repeat=repeat, check=check_bbo,
                        cache_dir=None if no_cache else cfg.data.cache_dir)
    except FeedError as e:
        raise click.ClickException(str(e)) from None
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else render_text(report))
    if not report.ok:
        sys.exit(1)


data.add_command(PendingCommand("convert", 3, "convert recorded data to Parquet"))
data.add_command(PendingCommand("info", 3, "span, counts, gaps and precision of a data file"))
data.add_command(PendingCommand("synth", 3, "seeded synthetic L2 market"))
data.add_command(PendingCommand("features", 3, "feature time series to Parquet"))
