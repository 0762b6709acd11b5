"""`bot4 backtest` as a user runs it: the README's example strategy, copied to a file,
run on the synthetic market and on recorded data; same seed, same trades; clear errors for
a bad strategy or parameter."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    """The first python block of the README's "Writing a strategy" section, verbatim."""
    text = README.read_text()
    section = text[text.index("## Writing a strategy"):]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m, "README's 'Writing a strategy' section has no python block"
    return m.group(1)


@pytest.fixture
def example(tmp_path) -> Path:
    path = tmp_path / "imbalance.py"
    path.write_text(readme_example())
    return path


def backtest(*args):
    res = CliRunner().invoke(main, ["backtest", *args])
    return res


def run_json(*args) -> dict:
    res = backtest("--json", *args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    out.pop("replay_seconds")
    return out


def test_readme_example_on_synthetic_data(example):
    spec = f"{example}:ImbalanceTaker"
    a = run_json("--strategy", spec, "--param", "ratio=2", "--events", "30000", "--seed", "3")
    b = run_json("--strategy", spec, "--param", "ratio=2", "--events", "30000", "--seed", "3")
    assert a == b  # same seed, same trades
    assert a["strategy"] == "ImbalanceTaker"
    assert a["fills"] > 0 and a["taker_fills"] == a["fills"] and a["conservation_gap"] == "0"
    c = run_json("--strategy", spec, "--param", "ratio=2", "--events", "30000", "--seed", "4")
    assert c != a


def test_readme_example_on_recorded_data(example, shared_data):
    path = shared_data / "binance" / "usdm" / "btcusdt_20240808.gz"
    if not path.exists():
        pytest.skip("no recorded USD-M data")
    spec = f"{example}:ImbalanceTaker"
    args = ("--strategy", spec, "--param", "qty=0.002", "--data", str(path), "--interval", "10ms")
    a = run_json(*args)  # 0.002 BTC: above USD-M's 100 USDT minimum notional
    assert a["instrument"] == "binance-usdm:BTCUSDT" and a["fills"] > 0 and a["conservation_gap"] == "0"
    assert a == run_json(*args)


def test_text_output_names_the_strategy(example):
    res = backtest("--strategy", f"{example}:ImbalanceTaker", "--events", "5000", "--show-fills", "1")
    assert res.exit_code == 0, res.output
    assert "ImbalanceTaker" in res.output and "realized PnL" in res.output


def test_builtin_market_maker_equals_sim():
    a = run_json("--strategy", "market_maker", "--events", "20000", "--seed", "5")
    res = CliRunner().invoke(main, ["sim", "--json", "--events", "20000", "--seed", "5"])
    b = json.loads(res.output)
    b.pop("replay_seconds")
    a.pop("source"), b.pop("source")
    assert a == b


@pytest.mark.parametrize("args, needle", [
    (["--strategy", "nope"], "neither a built-in strategy"),
    (["--strategy", "missing.py:X"], "no such file"),
    (["--param", "ratio"], "not k=v"),
    (["--param", "colour=red"], "takes no parameter 'colour'"),
    (["--param", "half_spread_ticks=0"], "half_spread_ticks must be an int >= 1"),
    (["--interval", "fast"], "--interval"),
])
def test_bad_arguments_are_named(args, needle):
    res = backtest("--events", "2000", *args)
    assert res.exit_code == 2, res.output
    assert needle in res.output


def test_a_class_that_is_not_a_strategy(tmp_path):
    path = tmp_path / "plain.py"
    path.write_text("class NotAStrategy:\n    pass\n")
    res = backtest("--strategy", f"{path}:NotAStrategy", "--events", "2000")
    assert res.exit_code == 2 and "not a subclass of bot.strategy.Strategy" in res.output
    res = backtest("--strategy", f"{path}:Missing", "--events", "2000")
    assert res.exit_code == 2 and "has no class 'Missing'" in res.output
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_here\n")
    res = backtest("--strategy", f"{broken}:X", "--events", "2000")
    assert res.exit_code == 1 and "cannot be imported" in res.output
