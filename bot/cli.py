"""The `bot4` command line. Each domain owns its commands; this module only assembles them."""

from __future__ import annotations

import click

from bot import __version__
from bot.pending import PendingGroup


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bot4")
def main():
    """Bot4: a low-latency crypto trading engine (C hot path, Cython, Python shell)."""


def _register():
    from bot.data.commands import data
    from bot.perf.commands import perf_manifest
    from bot.sim.commands import sim

    main.add_command(data)
    main.add_command(perf_manifest)
    main.add_command(sim)
    main.add_command(PendingGroup("engine", None, "start the engine on a live exchange"))
    from bot.store.commands import store

    main.add_command(store)
    from bot.ml.commands_train import train_cmd

    main.add_command(train_cmd)
    from bot.ml.commands_models import models

    main.add_command(models)


_register()

if __name__ == "__main__":
    main()
