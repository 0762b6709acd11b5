"""`bot4 data replay` on the recorded Binance files, and on copies we damaged on purpose."""

import gzip
import json

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import main
from engine import events as ev
from bot.data.replay import check_bbo, quotes_of, replay


def _spot(shared_data):
    return sorted((shared_data / "binance" / "spot").glob("*.gz"))


def _usdm(shared_data):
    return [shared_data / "binance" / "usdm" / "btcusdt_20240808.gz"]


@pytest.mark.parametrize("which", ["spot", "usdm"])
def test_recorded_replay_has_no_gap_no_cross_no_mismatch(shared_data, which, parse_cache):
    paths = _spot(shared_data) if which == "spot" else _usdm(shared_data)
    r = replay(paths, check=True, cache_dir=parse_cache)
    assert r.gaps == 0 and r.crossed == 0 and r.resyncs == 0
    assert r.snapshots == 1
    assert r.bbo.checked > 500, "the check must actually compare many bookTickers"
    assert r.bbo.mismatched == 0, r.bbo.first_mismatch
    assert r.ok
    # The final top of book is ordered and not crossed.
    bids = [float(p) for p, _ in r.top_bids]
    asks = [float(p) for p, _ in r.top_asks]
    assert len(bids) == 10 and len(asks) == 10
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert bids[0] < asks[0]


def test_spot_files_replay_as_one_session(shared_data, parse_cache):
    """The second spot file has no snapshot: it only replays as the continuation of the first."""
    both = replay(_spot(shared_data), cache_dir=parse_cache)
    first = replay(_spot(shared_data)[:1], cache_dir=parse_cache)
    assert both.gaps == 0 and both.diffs_applied > first.diffs_applied
    second_alone = replay(_spot(shared_data)[1:], cache_dir=parse_cache)
    assert second_alone.diffs_applied == 0, "no snapshot: nothing may be applied"


def _copy_without_one_diff(src, dst, skip_after_snapshot=50):
    seen_snapshot, diffs, dropped = False, 0, None
    with gzip.open(src, "rb") as f, open(dst, "wb") as out:  # plain text: fast to write
        for line in f:
            if b'"lastUpdateId"' in line:
                seen_snapshot = True
            elif seen_snapshot and b'"depthUpdate"' in line:
                diffs += 1
                if diffs == skip_after_snapshot:
                    dropped = line
                    continue
            out.write(line)
    assert dropped is not None
    return dst


def test_a_missing_diff_is_a_gap_not_a_silent_apply(shared_data, tmp_path, parse_cache):
    damaged = _copy_without_one_diff(_usdm(shared_data)[0], tmp_path / "btcusdt_gap.txt")
    r = replay([damaged], check=True, cache_dir=parse_cache)
    assert r.gaps == 1
    assert not r.ok
    good = replay(_usdm(shared_data), cache_dir=parse_cache)
    assert r.diffs_applied < good.diffs_applied, "diffs after the gap must wait for a resync"
    result = CliRunner().invoke(main, ["data", "replay", str(damaged), "--json"],
                                env={"BOT4_DATA_CACHE_DIR": parse_cache})
    assert result.exit_code == 1
    assert json.loads(result.output)["gaps"] == 1


def test_check_bbo_catches_a_wrong_book():
    bbo_dtype = np.dtype([("u", "<i8"), ("ts_local", "<i8"), ("bid_price", "<i8"), ("bid_qty", "<i8"),
                          ("ask_price", "<i8"), ("ask_qty", "<i8")])
    bbo = np.array([(10, 0, 100, 5, 101, 7), (12, 0, 100, 4, 101, 7)], dtype=bbo_dtype)
    quotes = np.array([[10, 100, 5, 101, 7], [11, 100, 9, 101, 9], [12, 100, 4, 102, 7]])
    c = check_bbo(quotes, bbo)
    assert (c.quotes, c.checked, c.mismatched) == (3, 2, 1)
    assert c.first_mismatch["u"] == 12


def test_quotes_of_pairs_bid_and_ask_rows():
    rows = ev.empty(4)
    rows["kind"] = ev.EV_QUOTE
    rows["side"] = [0, 1, 0, 1]
    rows["seq_last"] = [5, 5, 6, 6]
    rows["price"] = [10, 11, 12, 13]
    rows["qty"] = [1, 2, 3, 4]
    assert quotes_of(rows).tolist() == [[5, 10, 1, 11, 2], [6, 12, 3, 13, 4]]
    rows["seq_last"][3] = 7
    with pytest.raises(ValueError, match="pairs"):
        quotes_of(rows)


def test_cli_replay_reports_everything_the_issue_names(shared_data, parse_cache):
    result = CliRunner().invoke(main, ["data", "replay", *map(str, _usdm(shared_data)), "--check-bbo",
                                       "--repeat", "2", "--json"], env={"BOT4_DATA_CACHE_DIR": parse_cache})
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    for key in ("messages", "level_updates", "trades", "gaps", "resyncs", "crossed", "bbo_check",
                "best_bid", "best_ask", "top_bids", "top_asks", "apply_seconds_median",
                "level_updates_per_s", "parse_seconds"):
        assert key in d
    assert d["bbo_check"]["checked"] > 0 and d["bbo_check"]["mismatched"] == 0
    assert len(d["apply_seconds"]) == 2
    text = CliRunner().invoke(main, ["data", "replay", *map(str, _usdm(shared_data))],
                              env={"BOT4_DATA_CACHE_DIR": parse_cache})
    assert text.exit_code == 0 and "level updates/s" in text.output and "result   OK" in text.output
    assert "(cached or converted)" in text.output, "the second run must not re-parse"


def test_cli_replay_rejects_malformed_input(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wt") as f:
        f.write('1 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["-5.00","1"]],"a":[]}}\n')
    result = CliRunner().invoke(main, ["data", "replay", str(bad), "--no-cache"])
    assert result.exit_code == 1
    assert f"{bad}:1" in result.output and "price '-5.00'" in result.output


def test_converted_parquet_replays_like_the_raw_feed(shared_data, parse_cache, tmp_path):
    out = tmp_path / "usdm.parquet"
    r = CliRunner().invoke(main, ["data", "convert", *map(str, _usdm(shared_data)), "--out", str(out)])
    assert r.exit_code == 0, r.output
    raw = replay(_usdm(shared_data), check=True, cache_dir=parse_cache)
    conv = replay([out], check=True)
    assert conv.parsed_from_cache
    for k in ("messages", "rows", "level_updates", "diffs_applied", "gaps", "crossed",
              "best_bid", "best_ask", "top_bids", "top_asks"):
        assert getattr(conv, k) == getattr(raw, k), k
    assert conv.bbo.__dict__ == raw.bbo.__dict__


def test_bars_are_not_replayable(shared_data):
    r = CliRunner().invoke(main, ["data", "replay", str(shared_data / "ohlcv" / "binance_btcusdt_1d.csv")])
    assert r.exit_code == 1 and "has no book events" in r.output


def test_replay_takes_spec_overrides(shared_data, parse_cache):
    """An override equal to the shipped spec replays the same book; its source says so."""
    from decimal import Decimal

    shipped = replay(_usdm(shared_data), cache_dir=parse_cache)
    assert shipped.spec_source == "shipped table" and (shipped.tick_size, shipped.lot_size) == ("0.1", "0.001")
    same = replay(_usdm(shared_data), cache_dir=parse_cache,
                  overrides={"tick_size": Decimal("0.1"), "lot_size": Decimal("0.001")})
    assert same.spec_source == "override"
    assert (same.best_bid, same.best_ask, same.diffs_applied) == (shipped.best_bid, shipped.best_ask,
                                                                  shipped.diffs_applied)
    finer = replay(_usdm(shared_data), cache_dir=parse_cache, overrides={"tick_size": Decimal("0.01")})
    assert finer.ok and [Decimal(x) for x in finer.best_bid] == [Decimal(x) for x in shipped.best_bid]
