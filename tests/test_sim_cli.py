"""`bot4 sim` end to end (synthetic and recorded data), determinism, and the built-in
microprice market maker's quoting rules."""

import json
from fractions import Fraction

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.strategy import MicropriceMM


def run_json(*args):
    res = CliRunner().invoke(main, ["sim", "--json", *args])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    out.pop("replay_seconds")
    return out


def test_sim_synthetic_default_is_deterministic_and_conserves():
    a = run_json("--events", "20000", "--seed", "3")
    b = run_json("--events", "20000", "--seed", "3")
    assert a == b
    assert a["fills"] > 0 and a["conservation_gap"] == "0"
    assert a["maker_fills"] + a["taker_fills"] == a["fills"]
    c = run_json("--events", "20000", "--seed", "4")
    assert c != a


def test_sim_text_output():
    res = CliRunner().invoke(main, ["sim", "--events", "5000", "--show-fills", "2"])
    assert res.exit_code == 0, res.output
    assert "microprice market maker" in res.output
    assert "realized PnL" in res.output and "queue:" in res.output


def test_sim_recorded(shared_data):
    paths = sorted(str(p) for p in (shared_data / "binance" / "spot").glob("btcusdt_*.gz"))
    if not paths:
        pytest.skip("no recorded spot data")
    one = run_json("--data", paths[0], "--queue-model", "log")
    assert one["instrument"] == "binance-spot:BTCUSDT"
    assert one["events"] > 100_000 and one["fills"] > 0 and one["conservation_gap"] == "0"
    both = run_json("--data", *paths)  # several files after one --data: one session
    assert both["events"] > one["events"] or len(paths) == 1


def test_sim_paths_need_data_flag(shared_data):
    path = shared_data / "binance" / "spot" / "btcusdt_20240808.gz"
    res = CliRunner().invoke(main, ["sim", str(path)])
    assert res.exit_code == 2 and "--data" in res.output


def test_sim_bad_qty():
    res = CliRunner().invoke(main, ["sim", "--events", "5000", "--qty", "0.0001"])
    assert res.exit_code == 2 and "--qty" in res.output


def test_microprice_and_quotes():
    mm = MicropriceMM(order_qty=2, half_spread_ticks=1, skew_ticks=1, max_position=4)
    assert mm.microprice(100, 1, 102, 3) == Fraction(100 * 3 + 102 * 1, 4)
    q = mm.quotes(100, 1, 102, 3, position=0)  # micro 100.5
    assert q == {"buy": 99, "sell": 102}
    q = mm.quotes(100, 1, 102, 3, position=2)  # long one order: shift down one tick
    assert q == {"buy": 98, "sell": 101}
    assert mm.quotes(100, 1, 102, 3, position=4)["buy"] is None
    assert mm.quotes(100, 1, 102, 3, position=-4)["sell"] is None
    tight = MicropriceMM(order_qty=1, half_spread_ticks=1, skew_ticks=0)
    assert tight.quotes(100, 5, 101, 5, 0) == {"buy": 99, "sell": 102}
    assert tight.quotes(100, 1, 101, 1000, 0)["sell"] >= 101  # never through the bid
    with pytest.raises(ValueError, match="order_qty"):
        MicropriceMM(order_qty=0)
