"""`bot4 data features`: the feature time series of recorded data, as Parquet.

The command reads market data through the data domain and computes features here, so the
features domain depends on the data domain and not the reverse; bot.cli adds the command
to the `data` group.
"""

import click

from bot.data.commands import spec_options


@click.command("features")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Parquet file to write.")
@click.option("--every", type=click.IntRange(min=1), help="Sample every N event rows.")
@click.option("--interval", help="Sample every time interval of ts_local, e.g. 100ms, 1s, 500us.")
@click.option("--vpin-bucket", type=click.IntRange(min=1),
              help="VPIN bucket volume in lots (default: total traded lots / 500).")
@spec_options
def features_cmd(paths, out, every, interval, vpin_bucket, **spec):
    """Write the time series of every microstructure feature (layout engine.feature_layout)."""
    from bot.data.commands import load_input, spec_kwargs
    from bot.features.compute import parse_interval, write_feature_series

    if (every is None) == (interval is None):
        raise click.UsageError("give exactly one of --every N or --interval DURATION")
    fmt, ev, inst, how = load_input(list(paths), **spec_kwargs(**spec))
    if fmt == "ohlcv":
        raise click.ClickException("features need book events, not OHLCV bars")
    try:
        interval_ns = parse_interval(interval) if interval else 0
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--interval") from None
    n = write_feature_series(out, ev, inst, every=every or 0, interval_ns=interval_ns,
                             vpin_bucket=vpin_bucket, source=",".join(str(p) for p in paths))
    click.echo(f"{out}: {n} samples")
    click.echo(f"spec: {how.describe()}")
