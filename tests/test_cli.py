"""The CLI skeleton: every top-level command is listed; unbuilt ones say so with exit code 2."""

from click.testing import CliRunner

from bot.cli import main
from bot.pending import PendingCommand, PendingGroup


def test_help_lists_the_commands():
    out = CliRunner().invoke(main, ["--help"]).output
    for name in ("sim", "engine", "perf-manifest", "data"):
        assert f"  {name} " in out


def test_pending_commands_exit_2_with_one_line():
    pending = [n for n, c in main.commands.items() if isinstance(c, (PendingCommand, PendingGroup))]
    data = main.commands["data"]
    pending += [f"data {n}" for n, c in data.commands.items() if isinstance(c, PendingCommand)]
    for name in pending:
        r = CliRunner().invoke(main, [*name.split(), "--some-flag", "x"])
        assert r.exit_code == 2, name
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and "not built yet" in lines[0], r.output
