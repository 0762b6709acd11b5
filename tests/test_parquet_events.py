"""Parquet event files (bot.data.parquet) and the `bot4 data convert|info|synth|features`
commands: round trips are exact, converted data replays like the source without
re-parsing, bad files are named, and the features file carries its layout."""

import json
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from bot.cli import main
from engine import events as E
from bot.model import Instrument
from bot.data.parquet import EventFileError, is_event_file, read_events, read_metadata, write_events
from bot.features.compute import parse_interval, read_feature_series
from engine.feature_layout import LAYOUT_VERSION, NAMES
from engine.book import Book
from engine.features import compute
from engine.synth import generate

INST = Instrument("venue-x", "ABC-USD", Decimal("0.05"), Decimal("0.0001"), Decimal("10"))


def test_round_trip_is_exact(tmp_path):
    ev = generate(20_000, seed=8, regime="crisis")
    ev["reserved"][5] = 77  # every field survives, even the reserved one
    p = tmp_path / "e.parquet"
    write_events(p, ev, INST, source="unit test")
    assert is_event_file(p)
    back, inst = read_events(p)
    assert back.dtype == E.EVENT_DTYPE and np.array_equal(back, ev)
    assert inst == INST
    assert read_metadata(p) == (INST, "unit test", len(ev))


def test_empty_array_round_trip(tmp_path):
    p = tmp_path / "empty.parquet"
    write_events(p, E.empty(0), INST)
    back, inst = read_events(p)
    assert len(back) == 0 and inst == INST


def test_bad_files_are_named(tmp_path):
    with pytest.raises(EventFileError, match="EVENT_DTYPE"):
        write_events(tmp_path / "x.parquet", np.zeros(3), INST)
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), other)
    assert not is_event_file(other)
    with pytest.raises(EventFileError, match=r"other\.parquet: bot4\.format"):
        read_events(other)
    text = tmp_path / "t.parquet"
    text.write_text("not parquet")
    assert not is_event_file(text)
    with pytest.raises(EventFileError, match=r"t\.parquet"):
        read_events(text)
    # a column of the wrong type
    ev = generate(100, seed=1)
    p = tmp_path / "wrong.parquet"
    write_events(p, ev, INST)
    t = pq.read_table(p)
    t = t.set_column(t.column_names.index("price"), "price", t.column("price").cast(pa.float64()))
    pq.write_table(t, p)
    with pytest.raises(EventFileError, match="column 'price' has type float64"):
        read_events(p)


def test_cli_synth_info_features(tmp_path):
    r = CliRunner()
    out = tmp_path / "s.parquet"
    res = r.invoke(main, ["data", "synth", "--events", "30000", "--seed", "5", "--regime", "bear", "--out", str(out)])
    assert res.exit_code == 0, res.output
    ev, inst = read_events(out)
    want = generate(30_000, seed=5, regime="bear")
    assert np.array_equal(ev, want) and inst.venue == "synthetic"
    res = r.invoke(main, ["data", "info", str(out), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["rows"] == 30_000 and info["sequence"]["gaps"] == 0 and info["sequence"]["crossed_messages"] == 0
    assert info["counts"]["snapshot"] == {"rows": 50, "messages": 1}
    assert info["counts"]["trade"]["rows"] == int((want["kind"] == E.EV_TRADE).sum())
    assert info["instrument"]["tick_size"] == "0.01"
    feats = tmp_path / "f.parquet"
    res = r.invoke(main, ["data", "features", str(out), "--out", str(feats), "--every", "50", "--vpin-bucket", "500"])
    assert res.exit_code == 0, res.output
    cols, meta = read_feature_series(feats)
    assert meta["layout"]["version"] == LAYOUT_VERSION and meta["layout"]["names"] == list(NAMES)
    assert meta["params"]["vpin_bucket"] == 500 and meta["sampling"]["every"] == 50
    from engine.feature_layout import FeatureParams
    direct = compute(want, FeatureParams(vpin_bucket=500), every=50)
    assert np.array_equal(cols["row"], direct["row"])
    got = np.column_stack([cols[n] for n in NAMES])
    assert np.array_equal(np.nan_to_num(got, nan=-7.0), np.nan_to_num(direct["values"], nan=-7.0))
    res = r.invoke(main, ["data", "features", str(out), "--out", str(feats), "--interval", "250ms"])
    assert res.exit_code == 0, res.output
    cols, meta = read_feature_series(feats)
    assert (np.diff(cols["ts_local"]) >= 250_000_000).all()
    for bad in (["--every", "5", "--interval", "1s"], []):
        res = r.invoke(main, ["data", "features", str(out), "--out", str(feats), *bad])
        assert res.exit_code == 2 and "exactly one" in res.output
    res = r.invoke(main, ["data", "features", str(out), "--out", str(feats), "--interval", "fast"])
    assert res.exit_code == 2 and "fast" in res.output


def test_parse_interval():
    assert parse_interval("100ms") == 100_000_000 and parse_interval("1s") == 10**9
    assert parse_interval("500us") == 500_000 and parse_interval("2m") == 120 * 10**9
    for bad in ("", "10", "ms", "-1s", "0ms"):
        with pytest.raises(ValueError):
            parse_interval(bad)


def test_cli_convert_tardis_and_binance_replay_without_reparse(tmp_path, shared_data, spot_events):
    r = CliRunner()
    src = shared_data / "tardis" / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    out = tmp_path / "t.parquet"
    res = r.invoke(main, ["data", "convert", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    ev, inst = read_events(out)
    assert len(ev) == 15 and inst.tick_size == Decimal("0.5")
    res = r.invoke(main, ["data", "info", str(src)])
    assert res.exit_code == 0 and "deribit:BTC-PERPETUAL" in res.output and "tick 0.5" in res.output
    spot = sorted((shared_data / "binance" / "spot").glob("*.gz"))
    out = tmp_path / "spot.parquet"
    res = r.invoke(main, ["data", "convert", *map(str, spot), "--out", str(out)])
    assert res.exit_code == 0, res.output
    ev, inst = read_events(out)
    src_ev, src_inst = spot_events
    assert np.array_equal(ev, src_ev) and inst == src_inst
    # the converted file rebuilds the same book as the source
    a, b = Book(), Book()
    sa, sb = a.apply_batch(ev), b.apply_batch(src_ev)
    assert sa == sb and sa["gaps"] == 0
    assert all(np.array_equal(x, y) for x, y in zip(a.top(20), b.top(20)))
    res = r.invoke(main, ["data", "info", str(out), "--json"])
    info = json.loads(res.output)
    assert info["counts"]["snapshot"]["messages"] == 1 and info["sequence"]["gaps"] == 0


def test_cli_convert_rejects_unknown_and_mixed(tmp_path, shared_data):
    r = CliRunner()
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    res = r.invoke(main, ["data", "convert", str(junk), "--out", str(tmp_path / "o.parquet")])
    assert res.exit_code == 1 and "unrecognised data format" in res.output
    tardis = shared_data / "tardis" / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    ohlcv = shared_data / "ohlcv" / "binance_btcusdt_1d.csv"
    res = r.invoke(main, ["data", "info", str(tardis), str(ohlcv)])
    assert res.exit_code == 1 and "mix formats" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text("exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\nx,Y,1,2,true,up,1,1\n")
    res = r.invoke(main, ["data", "convert", str(bad), "--out", str(tmp_path / "o.parquet")])
    assert res.exit_code == 1 and "bad.csv:2" in res.output and "side 'up'" in res.output
