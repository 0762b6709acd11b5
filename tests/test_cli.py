"""The CLI skeleton: every top-level command is listed; `bot4 engine` says it is not built."""

import pytest
from click.testing import CliRunner

from bot.cli import main


def test_help_lists_the_commands():
    out = CliRunner().invoke(main, ["--help"]).output
    for name in ("sim", "engine", "perf-manifest", "data", "store", "train", "models"):
        assert f"  {name} " in out


def test_data_group_includes_features():
    out = CliRunner().invoke(main, ["data", "--help"]).output
    for name in ("replay", "convert", "info", "synth", "features"):
        assert f"  {name} " in out


@pytest.mark.parametrize("args", [[], ["start"], ["--some-flag", "x"], ["run", "--live", "--help"]])
def test_engine_is_not_built_yet(args):
    r = CliRunner().invoke(main, ["engine", *args])
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    assert r.stderr == "bot4 engine: live trading is not built yet\n"


@pytest.mark.parametrize("cmd", [["data", "replay"], ["data", "info"], ["data", "convert"], ["data", "features"],
                                 ["train"], ["backtest"], ["sim"]])
def test_market_data_commands_take_an_instrument_spec(cmd):
    out = CliRunner().invoke(main, [*cmd, "--help"]).output
    for opt in ("--tick-size", "--lot-size", "--contract-size", "--instruments", "BOT4_INSTRUMENTS"):
        assert opt in out, (cmd, opt)
