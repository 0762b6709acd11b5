"""The Binance raw-feed reader: exact conversion, message framing, errors naming file:line."""

import gzip
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.data import binance
from engine import events as ev
from bot.data.instruments import lookup
from bot.model import Instrument

SPOT = lookup("binance-spot", "BTCUSDT")
# parse_file runs the C scanner; parse_file_python is its plain-Python reference. Both
# must frame messages and reject bad input the same way.
READERS = pytest.mark.parametrize("reader", [binance.parse_file, binance.parse_file_python],
                                  ids=["c", "python"])
USDM = lookup("binance-usdm", "BTCUSDT")


def _write(tmp_path, lines, name="feed.gz"):
    p = tmp_path / name
    with gzip.open(p, "wt") as f:
        for line in lines:
            f.write(line + "\n")
    return p


def _diff(U, u, bids, asks, pu=None, E=1723161255208):
    pu_part = f',"pu":{pu}' if pu is not None else ""
    b = ",".join(f'["{p}","{q}"]' for p, q in bids)
    a = ",".join(f'["{p}","{q}"]' for p, q in asks)
    return ('{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":%d,"s":"BTCUSDT",'
            '"U":%d,"u":%d%s,"b":[%s],"a":[%s]}}' % (E, U, u, pu_part, b, a))


# -- exact conversion ----------------------------------------------------------------------

decimal_texts = st.builds(
    lambda whole, frac, pad: f"{whole}.{frac}{'0' * pad}" if frac else str(whole),
    st.integers(0, 10**9), st.text("0123456789", max_size=6), st.integers(0, 4))


@settings(max_examples=200)
@given(st.lists(decimal_texts, min_size=1, max_size=50), st.sampled_from([0, 1, 2, 3, 6]),
       st.sampled_from([1, 2, 5]))
def test_bulk_conversion_equals_exact_reference(texts, scale, step):
    fast, fast_bad = binance._texts_to_steps(texts, scale, step)
    slow, slow_bad = binance._texts_to_steps_slow(texts, scale, step)
    assert (fast_bad == slow_bad).all()
    assert (fast[~fast_bad] == slow[~slow_bad]).all()
    # And both agree with Decimal arithmetic.
    for t, v, bad in zip(texts, fast, fast_bad):
        q = Decimal(t) / (Decimal(step) / Decimal(10) ** scale)
        assert bad == (q != q.to_integral_value())
        if not bad:
            assert v == int(q)


@pytest.mark.parametrize("texts", [["1.5", "-2.0"], ["1.5", "nan"], ["1e5"], ["", "1"], ["1.2.3"],
                                   [".5"], ["5."], ["+5"], [" 5"], ["٣"]])
def test_bulk_conversion_flags_non_decimals(texts):
    _, bad = binance._texts_to_steps(texts, 2, 1)
    assert bad.any()


# -- framing -------------------------------------------------------------------------------

@READERS
def test_rows_and_flags_of_each_message_kind(tmp_path, reader):
    snap = '{"lastUpdateId":100,"bids":[["61000.00","1.5"],["60999.99","2"]],"asks":[["61000.01","0.25"]]}'
    p = _write(tmp_path, [
        "1000 " + _diff(95, 100, [("61000.00", "1.0")], []),
        "1001 " + snap,
        "1002 " + _diff(101, 103, [("61000.00", "0")], [("61000.02", "0.000001")]),
        "1003 " + _diff(104, 104, [], []),
        '1004 {"stream":"btcusdt@trade","data":{"e":"trade","E":5,"s":"BTCUSDT","t":7,"p":"61000.01","q":"0.5","T":6,"m":true,"M":true}}',
        '1005 {"stream":"btcusdt@bookTicker","data":{"u":103,"s":"BTCUSDT","b":"60999.99","B":"2","a":"61000.01","A":"0.25"}}',
        '1006 {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade"}}',
    ])
    stats = binance.ParseStats()
    rows = reader(p, SPOT, stats)
    assert (stats.snapshots, stats.diffs, stats.trades, stats.quotes, stats.skipped) == (1, 3, 1, 1, 1)
    assert list(rows["kind"]) == [2, 1, 1, 1, 2, 2, 2, 3, 4, 4]
    assert list(rows["side"]) == [0, 0, 0, 1, 0, 1, 2, 1, 0, 1]
    assert list(rows["price"][:4]) == [6100000, 6100000, 6099999, 6100001]
    assert list(rows["qty"][:4]) == [1_000_000, 1_500_000, 2_000_000, 250_000]
    assert rows["qty"][5] == 1
    # Every message has exactly one BEGIN and one END, in order.
    b = np.flatnonzero(rows["flags"] & ev.EVF_BEGIN)
    e = np.flatnonzero(rows["flags"] & ev.EVF_END)
    assert list(b) == [0, 1, 4, 6, 7, 8] and list(e) == [0, 3, 5, 6, 7, 9]
    assert rows["seq_last"][1] == 100 and rows["seq_first"][4] == 101
    assert rows["seq_prev"][4] == ev.SEQ_NONE
    assert rows["ts_exch"][7] == 6_000_000 and rows["ts_local"][7] == 1004
    assert rows["ts_exch"][8] == -1  # spot bookTicker carries no exchange time


# -- errors name file and line and say what was wrong ---------------------------------------

@pytest.mark.parametrize("line,match", [
    ("12 {not json", "malformed JSON"),
    ("no-timestamp-here", "expected '<ns timestamp> <json>'"),
    ("abc " + _diff(1, 2, [("1.00", "1")], []), "bad value"),
    ('12 {"stream":"x","data":{"e":"depthUpdate","E":1,"U":1,"b":[],"a":[]}}', "missing field 'u'"),
    ("12 " + _diff(1, 2, [("-61000.00", "1")], []), "price '-61000.00'"),
    ("12 " + _diff(1, 2, [("61000.005", "1")], []), "price '61000.005'"),
    ("12 " + _diff(1, 2, [("NaN", "1")], []), "price 'NaN'"),
    ("12 " + _diff(1, 2, [("61000.00", "0.0000001")], []), "qty '0.0000001'"),
    ("12 " + _diff(1, 2, [("0.00", "1")], []), "price '0.00'"),
    ('12 {"stream":"t","data":{"e":"trade","T":1,"t":1,"p":"1.00","q":"1","m":"yes"}}', "'m' must be true/false"),
    ('12 {"hello":1}', "neither a stream message nor a depth snapshot"),
])
@READERS
def test_malformed_lines_name_file_and_line(tmp_path, line, match, reader):
    good = "11 " + _diff(1, 2, [("61000.00", "1")], [])
    p = _write(tmp_path, [good, line])
    with pytest.raises(binance.FeedError, match=match) as err:
        reader(p, SPOT)
    assert f"{p}:2" in str(err.value)


def test_chunked_scan_equals_whole_file_and_names_lines_across_chunks(tmp_path):
    lines = ["%d %s" % (i, _diff(2 * i + 1, 2 * i + 2, [("61000.00", str(i + 1))], [("61000.01", "1")]))
             for i in range(500)]
    p = _write(tmp_path, lines)
    whole = binance.parse_file(p, SPOT)
    for chunk in (100, 997, 4096):
        stats = binance.ParseStats()
        assert binance.parse_file(p, SPOT, stats, chunk_bytes=chunk).tobytes() == whole.tobytes()
        assert stats.lines == 500 and stats.diffs == 500
    lines[371] = "371 {broken"
    p = _write(tmp_path, lines, "bad.gz")
    for chunk in (100, 997, 1 << 20):
        with pytest.raises(binance.FeedError, match=f"{p}:372: "):
            binance.parse_file(p, SPOT, chunk_bytes=chunk)


@READERS
def test_truncated_gzip_is_a_clear_error(tmp_path, reader):
    p = _write(tmp_path, ["1 " + _diff(1, 2, [("61000.00", "1")], [])] * 2000)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(binance.FeedError, match="cannot read"):
        reader(p, SPOT)


def test_mixed_streams_are_refused(tmp_path):
    a = _write(tmp_path, ["1 " + _diff(1, 2, [("61000.00", "1")], [])], "a.gz")
    b = _write(tmp_path, ["1 " + _diff(1, 2, [("61000.0", "1")], [], pu=0)], "b.gz")
    with pytest.raises(binance.FeedError, match="different streams"):
        binance.load_events([a, b])


def test_unknown_symbol_takes_the_recordings_grid(tmp_path):
    line = "1 " + _diff(1, 2, [("1.5", "1"), ("1.25", "0.3")], []).replace("BTCUSDT", "FOOUSDT")
    p = _write(tmp_path, [line])
    events, inst = binance.load_events([p])
    assert (inst.tick_size, inst.lot_size) == (Decimal("0.01"), Decimal("0.1"))
    assert events["price"].tolist() == [150, 125] and events["qty"].tolist() == [10, 3]
    events, inst = binance.load_events([p], instrument=Instrument("binance-spot", "FOOUSDT", Decimal("0.05"), Decimal("0.1")))
    assert events["price"].tolist() == [30, 25]


# -- the recorded files ---------------------------------------------------------------------

def test_recorded_files_parse_and_cache(shared_data, tmp_path):
    spot = sorted((shared_data / "binance" / "spot").glob("*.gz"))
    stats = binance.ParseStats()
    rows, inst = binance.load_events(spot, cache_dir=tmp_path, stats=stats)
    assert inst == SPOT
    assert stats.skipped == 0 and stats.snapshots == 1
    assert stats.messages == stats.snapshots + stats.diffs + stats.trades + stats.quotes
    assert (np.diff(rows["ts_local"]) >= 0).all(), "two files of one stream replay as one session"
    assert (rows["price"][rows["side"] != ev.SIDE_NONE] > 0).all()
    assert (rows["qty"] >= 0).all()
    assert len(list(tmp_path.glob("*.npy"))) == 2
    again, _ = binance.load_events(spot, cache_dir=tmp_path)
    assert again.tobytes() == rows.tobytes()


def test_usdm_file_carries_pu(shared_data):
    rows, inst = binance.load_events(shared_data / "binance" / "usdm" / "btcusdt_20240808.gz")
    assert inst == USDM
    upd = rows[rows["kind"] == ev.EV_UPDATE]
    assert (upd["seq_prev"] != ev.SEQ_NONE).all()
