"""`bot4 data ...`: replay, convert, inspect and generate market data."""

import click

from bot.pending import PendingCommand


@click.group("data")
def data():
    """Recorded and synthetic market data."""


data.add_command(PendingCommand("convert", 3, "convert recorded data to Parquet"))
data.add_command(PendingCommand("info", 3, "span, counts, gaps and precision of a data file"))
data.add_command(PendingCommand("synth", 3, "seeded synthetic L2 market"))
data.add_command(PendingCommand("features", 3, "feature time series to Parquet"))
