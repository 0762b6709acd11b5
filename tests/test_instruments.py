"""Instrument specs for any symbol (bot.data.instruments.resolve): the shipped table, the
recording's own grid, overrides, the user's table, a Binance exchangeInfo entry, bad specs;
and `bot4 data replay` of constructed Binance spot, USD-M and COIN-M recordings of symbols
given by no option."""

import gzip
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.data import binance
from bot.data import instruments as I
from bot.model import Instrument, InstrumentError

T0 = 1_700_000_000_000_000_000  # receive time of the first line, ns


# --- constructed recordings ---------------------------------------------------------------


def _text(units: int, step: Decimal, decimals: int) -> str:
    return f"{Decimal(units) * step:.{decimals}f}"


def record(path: Path, venue: str, symbol: str, tick: str, lot: str, base: str, *, seed: int = 1,
           diffs: int = 60, decimals: int | None = None) -> dict:
    """Write a Binance recording of `symbol` on `venue` (binance-spot|usdm|coinm) whose prices
    lie on `tick` and quantities on `lot`, and return its final book (ticks -> lots).

    Lines are `<recv ns> <json>`: a stale diff, the REST snapshot (bare JSON with
    lastUpdateId), then diffs whose first straddles lastUpdateId + 1, each followed by the
    bookTicker of the book it leaves (same update id), and some trades. Spot text carries 8
    decimals as Binance spot does; futures text the step's own decimals."""
    rng = random.Random(seed)
    tick_d, lot_d = Decimal(tick), Decimal(lot)
    futures = venue != "binance-spot"
    p_dec = decimals if decimals is not None else (8 if not futures else max(0, -tick_d.as_tuple().exponent))
    q_dec = decimals if decimals is not None else (8 if not futures else max(0, -lot_d.as_tuple().exponent))
    mid = int(Decimal(base) / tick_d)
    s = symbol.lower()
    depth_stream = f"{s}@depth@0ms" if futures else f"{s}@depth@100ms"
    extra = {}
    if venue == "binance-coinm":
        extra["ps"] = symbol.partition("_")[0]
    bids = {mid - k: rng.randint(1, 5000) for k in range(1, 11)}
    asks = {mid + k: rng.randint(1, 5000) for k in range(0, 10)}
    lines, ts, ms = [], T0, 1_700_000_000_000

    def emit(obj):
        nonlocal ts
        ts += 1_000_000
        lines.append(f"{ts} {json.dumps(obj, separators=(',', ':'))}")

    def levels(d):
        return [[_text(p, tick_d, p_dec), _text(q, lot_d, q_dec)] for p, q in d]

    def diff(U, u, pu, b, a):
        data = {"e": "depthUpdate", "E": ms, "s": symbol, "U": U, "u": u, "b": levels(b), "a": levels(a)}
        if futures:
            data.update(T=ms, pu=pu, **extra)
        emit({"stream": depth_stream, "data": data})

    L = 1000
    diff(990, 995, 989, [(mid - 3, 7)], [])  # stale: u <= lastUpdateId, dropped
    snap = {"lastUpdateId": L, "bids": levels(sorted(bids.items(), reverse=True)),
            "asks": levels(sorted(asks.items()))}
    if futures:
        snap.update(E=ms, T=ms)
    emit(snap)
    prev_u, U = 995, 996
    for i in range(diffs):
        ms += 100
        u = max(U + rng.randint(0, 3), L + 1) if i == 0 else U + rng.randint(0, 3)
        b, a = [], []
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.5:
                p = min(asks) - rng.randint(1, 12)
                q = 0 if (p in bids and len(bids) > 3 and rng.random() < 0.3) else rng.randint(1, 5000)
                b.append((p, q))
                bids.pop(p, None) if q == 0 else bids.__setitem__(p, q)
            else:
                p = max(bids) + rng.randint(1, 12)
                q = 0 if (p in asks and len(asks) > 3 and rng.random() < 0.3) else rng.randint(1, 5000)
                a.append((p, q))
                asks.pop(p, None) if q == 0 else asks.__setitem__(p, q)
        diff(U, u, prev_u, b, a)
        bb, ba = max(bids), min(asks)
        tick_msg = {"u": u, "s": symbol, "b": _text(bb, tick_d, p_dec), "B": _text(bids[bb], lot_d, q_dec),
                    "a": _text(ba, tick_d, p_dec), "A": _text(asks[ba], lot_d, q_dec)}
        if futures:
            tick_msg = {"e": "bookTicker", **tick_msg, "T": ms, "E": ms, **extra}
        emit({"stream": f"{s}@bookTicker", "data": tick_msg})
        if i % 5 == 0:
            emit({"stream": f"{s}@trade", "data": {"e": "trade", "E": ms, "T": ms, "s": symbol, "t": 100 + i,
                                                    "p": _text(bb, tick_d, p_dec),
                                                    "q": _text(rng.randint(1, 50), lot_d, q_dec), "m": True}})
        prev_u = u
        U = u + 1 if not futures else u + 1 + rng.randint(0, 2)
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    return {"bids": bids, "asks": asks, "tick": tick_d, "lot": lot_d}


def replay_json(*args, env=None):
    res = CliRunner().invoke(main, ["data", "replay", *map(str, args), "--check-bbo", "--json", "--no-cache"],
                             env=env or {})
    return res


def _ok_report(res, book):
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["ok"] and r["gaps"] == 0 and r["crossed"] == 0 and r["snapshots"] == 1
    assert r["bbo_check"]["checked"] > 10 and r["bbo_check"]["mismatched"] == 0
    bb, ba = max(book["bids"]), min(book["asks"])
    assert Decimal(r["best_bid"][0]) == bb * book["tick"] and Decimal(r["best_bid"][1]) == book["bids"][bb] * book["lot"]
    assert Decimal(r["best_ask"][0]) == ba * book["tick"] and Decimal(r["best_ask"][1]) == book["asks"][ba] * book["lot"]
    return r


# --- replay without a spec ------------------------------------------------------------------


@pytest.mark.parametrize("venue, symbol, tick, lot, base, contract", [
    ("binance-spot", "ETHUSDT", "0.01", "0.0001", "2500", None),
    ("binance-spot", "SOLUSDT", "0.01", "0.001", "140", None),
    ("binance-usdm", "ETHUSDT", "0.01", "0.001", "2500", None),
    ("binance-usdm", "XRPUSDT", "0.0001", "0.1", "0.6", None),
    ("binance-coinm", "BTCUSD_PERP", "0.1", "1", "60000", "100"),
    ("binance-coinm", "ETHUSD_PERP", "0.01", "1", "2500", "10"),
])
def test_shipped_instruments_replay_without_a_spec(tmp_path, venue, symbol, tick, lot, base, contract):
    p = tmp_path / f"{symbol.lower()}.gz"
    book = record(p, venue, symbol, tick, lot, base)
    r = _ok_report(replay_json(p), book)
    assert (r["venue"], r["symbol"], r["spec_source"]) == (venue, symbol, "shipped table")
    assert Decimal(r["tick_size"]) == Decimal(tick) and Decimal(r["lot_size"]) == Decimal(lot)
    assert r["contract_size"] == contract


@pytest.mark.parametrize("venue, symbol, tick, lot, base", [
    ("binance-spot", "FOOBARUSDT", "0.001", "0.01", "3.5"),
    ("binance-spot", "QUXBTC", "0.00000001", "1", "0.00012"),
    ("binance-usdm", "FOOBARUSDT", "0.0001", "0.1", "1.25"),
    ("binance-coinm", "LINKUSD_PERP", "0.001", "1", "12"),
])
def test_unknown_symbol_is_inferred_exactly(tmp_path, venue, symbol, tick, lot, base):
    p = tmp_path / "unknown.gz"
    book = record(p, venue, symbol, tick, lot, base, seed=3)
    r = _ok_report(replay_json(p), book)
    assert r["spec_source"] == "inferred"
    assert Decimal(r["tick_size"]) == Decimal(tick) and Decimal(r["lot_size"]) == Decimal(lot)
    assert "inferred from" in r["spec"] and "prices" in r["spec"]
    if venue == "binance-coinm":
        assert r["contract_size"] == "10"  # Binance: 10 USD for every COIN-M contract but BTC's
    text = CliRunner().invoke(main, ["data", "replay", str(p), "--no-cache"])
    assert text.exit_code == 0, text.output
    spec_line = next(line for line in text.output.splitlines() if line.startswith("spec"))
    grid = binance.infer_grid([p])
    assert f"inferred from {grid.prices:,} prices and {grid.quantities:,} quantities" in spec_line


def test_inference_needs_every_value(tmp_path):
    """One price off the coarse grid makes the inferred tick fine: the finest step any
    value needs, never a sample's."""
    g = I.grid_of_texts(["100.10", "100.20", "100.30", "99.90", "100.25"], ["1.5", "2", "0"])
    assert (g.tick_size, g.lot_size, g.prices, g.quantities) == (Decimal("0.01"), Decimal("0.1"), 5, 2)
    coarse = I.grid_of_texts(["100.10", "100.20"], ["2"])
    assert coarse.tick_size == Decimal("0.1"), "the data's own grid: coarser than a 0.01 tick by chance"
    assert I.grid_of_texts(["300", "500"], ["20"]).tick_size == Decimal(1), "inferred steps are at most 1"
    assert I.grid_of_texts(["0.05", "0.15"], []).price_step == Decimal("0.05")
    assert I.grid_of_texts(["0.05", "0.15"], []).tick_size == Decimal("0.01")
    assert I.grid_of_texts(["61837.63000000", "61837.64000000"], ["0.00000000"]).tick_size == Decimal("0.01")
    assert I.grid_of_texts([], ["0"]).lot_size is None
    with pytest.raises(InstrumentError, match="'1e-3'"):
        I.grid_of_texts(["1e-3"], [])


@pytest.mark.parametrize("market, tick, lot", [("spot", "0.01", "0.000001"), ("usdm", "0.1", "0.001")])
def test_inference_on_the_recorded_files_equals_the_true_grid(shared_data, tmp_path, market, tick, lot):
    paths = sorted((shared_data / "binance" / market).glob("*.gz"))
    g = binance.infer_grid(paths, cache_dir=tmp_path)
    assert g.tick_size == Decimal(tick) and g.price_step == Decimal(tick)
    assert g.lot_size == Decimal(lot)
    assert g.prices > 100_000 and g.quantities > 100_000
    assert binance.infer_grid(paths, cache_dir=tmp_path) == g  # from the cache
    venue = f"binance-{market}"
    inst, source = I.resolve(venue, "BTCUSDT", infer_from=paths)
    assert source == "shipped table" and inst == I.BUILTIN[(venue, "BTCUSDT")]


def test_shipped_spec_is_refined_to_a_finer_recording(tmp_path):
    """Binance's feed can carry quantities finer than the order step (and ticks change):
    a shipped spec the recording is off is refined, and the output says so."""
    p = tmp_path / "eth.gz"
    book = record(p, "binance-spot", "ETHUSDT", "0.01", "0.00001", "2500")
    r = _ok_report(replay_json(p), book)
    assert r["spec_source"] == "shipped table" and r["lot_size"] == "0.00001"
    assert "lot refined to the grid of" in r["spec"]


# --- options and tables ---------------------------------------------------------------------


def test_overrides_win_and_must_fit(tmp_path):
    p = tmp_path / "eth.gz"
    book = record(p, "binance-spot", "ETHUSDT", "0.01", "0.0001", "2500")
    r = _ok_report(replay_json(p, "--tick-size", "0.005", "--lot-size", "0.00005"), book)
    assert (r["spec_source"], r["tick_size"], r["lot_size"]) == ("override", "0.005", "0.00005")
    partial = _ok_report(replay_json(p, "--tick-size", "0.001"), book)
    assert partial["lot_size"] == "0.0001" and "tick override, lot shipped table" in partial["spec"]
    bad = CliRunner().invoke(main, ["data", "replay", str(p), "--tick-size", "0.1", "--no-cache"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1, bad.output
    assert "tick grid (0.1)" in bad.output and "tick_size 0.1 (override)" in bad.output and ".gz:" in bad.output
    for value in ("0", "-0.01", "abc", "nan"):
        res = CliRunner().invoke(main, ["data", "replay", str(p), "--tick-size", value])
        assert res.exit_code == 2 and "Traceback" not in res.output
        assert "--tick-size" in res.output and value in res.output


def test_user_table_adds_to_the_shipped_one(tmp_path):
    p = tmp_path / "foo.gz"
    book = record(p, "binance-spot", "FOOBARUSDT", "0.001", "0.01", "3.5")
    table = tmp_path / "mine.toml"
    table.write_text('[binance-spot]\nFOOBARUSDT = { tick_size = "0.0005", lot_size = "0.005", min_notional = "1" }\n')
    r = _ok_report(replay_json(p, "--instruments", table), book)
    assert (r["spec_source"], r["tick_size"], r["lot_size"]) == ("user table", "0.0005", "0.005")
    r = _ok_report(replay_json(p, env={"BOT4_INSTRUMENTS": str(table)}), book)
    assert r["spec_source"] == "user table"
    # The shipped entries stay; an override beats the user's table.
    inst, src = I.resolve("binance-spot", "ETHUSDT", user_table=table)
    assert src == "shipped table" and inst.tick_size == Decimal("0.01")
    inst, src = I.resolve("binance-spot", "FOOBARUSDT", user_table=table, overrides={"tick_size": "0.001"})
    assert src == "override" and (inst.tick_size, inst.lot_size, inst.min_notional) == (
        Decimal("0.001"), Decimal("0.005"), Decimal(1))
    # A user's spec the recording does not fit is an error, not refined.
    table.write_text('[binance-spot]\nFOOBARUSDT = { tick_size = "0.01", lot_size = "0.01" }\n')
    res = CliRunner().invoke(main, ["data", "replay", str(p), "--instruments", str(table), "--no-cache"])
    assert res.exit_code == 1 and "tick_size 0.01 (user table)" in res.output


@pytest.mark.parametrize("text, needle", [
    ('[binance-spot]\nETHUSDT = { tick_size = "0.01", lot_size = "0.0001" \n', "not valid TOML"),
    ('[binance-spot]\nETHUSDT = { tick_size = "0", lot_size = "0.0001" }\n', "mine.toml:2: binance-spot:ETHUSDT: tick_size 0 must be positive"),
    ('# mine\n[binance-usdm]\nA = { tick_size = "0.1", lot_size = "1" }\nETHUSDT = { tick_size = "0.01", lot_size = "-1" }\n',
     "mine.toml:4: binance-usdm:ETHUSDT: lot_size -1 must be positive"),
    ('[binance-spot]\nETHUSDT = { tick_size = "x", lot_size = "1" }\n', "tick_size 'x' is not a decimal number"),
    ('[binance-spot]\nETHUSDT = { tick = "0.01", lot_size = "1" }\n', "unknown key(s) tick"),
    ('[binance-spot]\nETHUSDT = "0.01"\n', "mine.toml:2: binance-spot:ETHUSDT: expected"),
    ('ETHUSDT = 1\n', "must be a [venue] table"),
])
def test_bad_tables_are_one_line_errors(tmp_path, text, needle):
    table = tmp_path / "mine.toml"
    table.write_text(text)
    with pytest.raises(InstrumentError) as e:
        I.load_table(table)
    assert needle in str(e.value)
    p = tmp_path / "eth.gz"
    record(p, "binance-spot", "ETHUSDT", "0.01", "0.0001", "2500", diffs=5)
    res = CliRunner().invoke(main, ["data", "info", str(p), "--instruments", str(table)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1 and needle.split(":")[-1].strip() in res.output


def test_exchange_info_entry():
    spot = {"symbol": "ETHUSDT", "status": "TRADING", "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
        {"filterType": "LOT_SIZE", "minQty": "0.00010000", "maxQty": "9000.00000000", "stepSize": "0.00010000"},
        {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "stepSize": "0.00000000"}]}
    inst, src = I.resolve("binance-spot", "ETHUSDT", exchange_info=spot)
    assert src == "exchange info"
    assert (inst.tick_size, inst.lot_size, inst.min_notional, inst.contract_size) == (
        Decimal("0.01"), Decimal("0.0001"), Decimal(5), None)
    usdm = {"symbol": "NEWUSDT", "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.0010"},
                                            {"filterType": "LOT_SIZE", "stepSize": "1"},
                                            {"filterType": "MIN_NOTIONAL", "notional": "5"}]}
    inst, src = I.resolve("binance-usdm", "NEWUSDT", exchange_info=usdm)
    assert (src, inst.tick_size, inst.lot_size, inst.min_notional) == ("exchange info", Decimal("0.001"), 1, 5)
    coinm = {"symbol": "BTCUSD_PERP", "contractSize": 100, "filters": [
        {"filterType": "PRICE_FILTER", "tickSize": "0.1"}, {"filterType": "LOT_SIZE", "stepSize": "1"}]}
    inst, src = I.resolve("binance-coinm", "BTCUSD_PERP", exchange_info=coinm)
    assert (src, inst.tick_size, inst.lot_size, inst.contract_size) == ("exchange info", Decimal("0.1"), 1, 100)
    assert I.resolve("binance-spot", "ETHUSDT", exchange_info={"symbols": [usdm, spot]}) == (
        I.resolve("binance-spot", "ETHUSDT", exchange_info=spot))
    # Overrides still come first; a bad filter value names itself.
    assert I.resolve("binance-spot", "ETHUSDT", exchange_info=spot, overrides={"tick_size": "0.001"})[1] == "override"
    bad = {"symbol": "X", "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.00000000"}]}
    with pytest.raises(InstrumentError, match="exchange info X: PRICE_FILTER tickSize 0.00000000 must be positive"):
        I.resolve("binance-spot", "X", exchange_info=bad)


def test_shipped_table():
    table = I.shipped_table()
    assert I.SHIPPED_TABLE.is_file()
    for key, inst in I.BUILTIN.items():  # the built-in specs are kept exactly
        assert I.resolve(*key) == (inst, "shipped table")
    for venue in ("binance-spot", "binance-usdm", "binance-coinm"):
        assert sum(v == venue for v, _ in table) >= 2
    for venue, symbol in table:
        inst, _ = I.resolve(venue, symbol)
        assert (venue == "binance-coinm") == (inst.contract_size is not None), symbol
    assert I.resolve("binance-coinm", "BTCUSD_PERP")[0].contract_size == 100
    assert I.resolve("binance-coinm", "ETHUSD_PERP")[0].contract_size == 10
    assert I.lookup("binance-spot", "ethusdt").symbol == "ETHUSDT"
    with pytest.raises(InstrumentError, match="no instrument spec for binance-spot:NOPEUSDT"):
        I.resolve("binance-spot", "NOPEUSDT")
    assert I.resolve("binance-spot", "NOPEUSDT", overrides={"tick_size": "0.1", "lot_size": "1"})[1] == "override"


def test_instrument_contract_size_is_optional():
    a = Instrument("v", "S", Decimal("0.1"), Decimal("1"))
    assert a.contract_size is None
    assert Instrument("v", "S", Decimal("0.1"), Decimal("1"), Decimal(0), Decimal(10)).contract_size == 10
    with pytest.raises(InstrumentError, match="contract_size"):
        Instrument("v", "S", Decimal("0.1"), Decimal("1"), Decimal(0), Decimal(0))


def test_venue_of_a_recording(tmp_path):
    for venue, symbol in (("binance-spot", "ETHUSDT"), ("binance-usdm", "ETHUSDT"), ("binance-coinm", "ETHUSD_PERP")):
        p = tmp_path / f"{venue}.gz"
        record(p, venue, symbol, "0.01", "1", "2500", diffs=3)
        assert binance.sniff(p) == (venue, symbol)


# --- every command that reads market data -----------------------------------------------------


@pytest.mark.parametrize("cmd", [["data", "replay"], ["data", "info"], ["data", "convert"], ["data", "features"],
                                 ["train"], ["backtest"], ["sim"]])
def test_every_data_command_takes_the_spec_options(cmd):
    res = CliRunner().invoke(main, [*cmd, "--help"])
    assert res.exit_code == 0
    for opt in ("--tick-size", "--lot-size", "--contract-size", "--instruments"):
        assert opt in res.output, (cmd, opt)


def test_info_convert_features_and_backtest_on_an_unknown_symbol(tmp_path):
    p = tmp_path / "foo.gz"
    record(p, "binance-usdm", "FOOBARUSDT", "0.0001", "0.1", "1.25", diffs=200)
    run = CliRunner().invoke
    info = run(main, ["data", "info", str(p), "--json"])
    assert info.exit_code == 0, info.output
    i = json.loads(info.output)["instrument"]
    assert (i["source"], i["tick_size"], i["lot_size"]) == ("inferred", "0.0001", "0.1")
    out = tmp_path / "foo.parquet"
    conv = run(main, ["data", "convert", str(p), "--out", str(out)])
    assert conv.exit_code == 0 and "inferred from" in conv.output, conv.output
    info = run(main, ["data", "info", str(out), "--json"])
    assert json.loads(info.output)["instrument"]["source"] == "event file"
    res = run(main, ["data", "replay", str(out), "--tick-size", "0.001"])
    assert res.exit_code == 1 and "differs from the event file's tick_size 0.0001" in res.output
    feats = run(main, ["data", "features", str(p), "--every", "50", "--out", str(tmp_path / "f.parquet"),
                       "--lot-size", "0.01"])
    assert feats.exit_code == 0 and "lot 0.01 (tick inferred" in feats.output, feats.output
    # An inferred spec has no minimum notional, so the order size is given.
    bt = run(main, ["backtest", "--data", str(p), "--json", "--interval", "100ms", "--param", "order_qty=10"])
    assert bt.exit_code == 0, bt.output
    summary = json.loads(bt.output)
    assert summary["instrument"] == "binance-usdm:FOOBARUSDT" and "inferred from" in summary["source"]
    sim = run(main, ["sim", "--data", str(p), "--tick-size", "0.00005", "--show-fills", "0", "--qty", "1"])
    assert sim.exit_code == 0 and "tick 0.00005, lot 0.1 (tick override, lot inferred" in sim.output, sim.output
    bad = run(main, ["sim", "--tick-size", "0.1"])
    assert bad.exit_code == 2 and "apply to recorded data" in bad.output
    train = run(main, ["train", str(p), "--out", str(tmp_path / "m"), "--tick-size", "-1"])
    assert train.exit_code == 2 and "--tick-size -1 must be positive" in train.output
