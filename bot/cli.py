"""The `bot4` command line. Each domain owns its commands; this module only assembles them."""

from __future__ import annotations

import sys

import click

from bot import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bot4")
def main():
    """Bot4: a low-latency crypto trading engine (C hot path, Cython, Python shell)."""


@main.command("engine", add_help_option=False,
              context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def engine(args):
    """Start the engine on a live exchange (not built yet)."""
    click.echo("bot4 engine: live trading is not built yet", err=True)
    sys.exit(2)


def _register():
    from bot.data.commands import data
    from bot.features.commands import features_cmd
    from bot.ml.commands import models, train_cmd
    from bot.perf.commands import perf_manifest
    from bot.store.commands import runs, store
    from bot.strategy.commands import backtest, sim

    data.add_command(features_cmd)
    for command in (data, perf_manifest, backtest, sim, store, runs, train_cmd, models):
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()
