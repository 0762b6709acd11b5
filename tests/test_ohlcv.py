"""OHLCV reader: the shared bar files, gap detection, Parquet round trip, and rejection of
malformed rows with file, line, field and value named."""

import numpy as np
import pytest

from bot.data.ohlcv import OhlcvFormatError, find_gaps, read_ohlcv, write_ohlcv_parquet

HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = [
    "2024-01-01 00:00:00,10,12,9,11,5",
    "2024-01-01 02:00:00,11,13,10,12,6",
    "2024-01-01 04:00:00,12,12.5,11,11.5,0",
]


def _write(tmp_path, rows, name="bars.csv"):
    p = tmp_path / name
    p.write_text(HEADER + "\n".join(rows) + "\n")
    return p


def test_shared_2h_file(shared_data):
    path = shared_data / "ohlcv" / "binance_btcusdt_2h.csv"
    bars = read_ohlcv(path)
    lines = path.read_text().splitlines()
    assert len(bars) == len(lines) - 1
    assert bars.interval_ns == 2 * 3600 * 10**9
    assert len(bars.gaps) == 18
    # first and last row, parsed independently
    first = lines[1].split(",")
    assert bars.ts[0] == np.datetime64(first[0].replace(" ", "T"), "ns").astype(np.int64)
    assert bars.open[0] == float(first[1]) and bars.volume[0] == float(first[5])
    last = lines[-1].split(",")
    assert bars.close[-1] == float(last[4])
    # every gap is a spacing larger than the interval and nothing else is
    d = np.diff(bars.ts)
    assert sorted(g.index for g in bars.gaps) == list(np.flatnonzero(d != bars.interval_ns) + 1)
    for g in bars.gaps:
        assert g.ts_after_ns - g.ts_before_ns == (g.missing + 1) * bars.interval_ns
    for col in ("open", "high", "low", "close", "volume"):
        assert getattr(bars, col).dtype == np.float64
    assert bars.ts.dtype == np.int64


def test_shared_1d_file_has_no_gaps(shared_data):
    bars = read_ohlcv(shared_data / "ohlcv" / "binance_btcusdt_1d.csv")
    assert bars.interval_ns == 86400 * 10**9
    assert bars.gaps == []


def test_parquet_round_trip(tmp_path, shared_data):
    bars = read_ohlcv(shared_data / "ohlcv" / "binance_btcusdt_1d.csv")
    out = tmp_path / "bars.parquet"
    write_ohlcv_parquet(bars, out)
    back = read_ohlcv(out)
    for col in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(back, col), getattr(bars, col))
    assert back.interval_ns == bars.interval_ns and back.gaps == bars.gaps


def test_integer_epoch_timestamps(tmp_path):
    p = _write(tmp_path, ["1704067200000,10,12,9,11,5", "1704074400000,11,13,10,12,6"])
    bars = read_ohlcv(p)
    assert list(bars.ts) == [1704067200 * 10**9, 1704074400 * 10**9]


def test_gap_model():
    ts = np.array([0, 10, 20, 50, 60, 100], dtype=np.int64)
    interval, gaps = find_gaps(ts)
    assert interval == 10
    assert [(g.index, g.missing) for g in gaps] == [(3, 2), (5, 3)]


@pytest.mark.parametrize(
    "bad_row, message",
    [
        ("2024-01-01 06:00:00,abc,12,9,11,5", "open is not a number: 'abc'"),
        ("2024-01-01 06:00:00,10,12,9,nan,5", "close is not finite"),
        ("2024-01-01 06:00:00,10,12,9,11,inf", "volume is not finite"),
        ("2024-01-01 06:00:00,-10,12,-11,11,5", "open must be > 0"),
        ("2024-01-01 06:00:00,10,12,9,11,-5", "volume must be >= 0"),
        ("2024-01-01 06:00:00,10,9,12,11,5", "high 9.0 < low 12.0"),
        ("2024-01-01 06:00:00,13,12,9,11,5", "open 13.0 outside"),
        ("2024-01-01 06:00:00,10,12,9,8,5", "close 8.0 outside"),
        ("2024-01-01 04:00:00,10,12,9,11,5", "is not after the previous"),
        ("2024-01-01 06:00:00,10,12,9,11", "5 fields, expected 6"),
        ("yesterday,10,12,9,11,5", "timestamp is not a date/time"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, bad_row, message):
    p = _write(tmp_path, GOOD + [bad_row])
    with pytest.raises(OhlcvFormatError) as e:
        read_ohlcv(p)
    assert f"{p}:5:" in str(e.value)  # header is line 1, the bad row is line 5
    assert message in str(e.value)


def test_bad_header(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("time,o,h,l,c,v\n" + GOOD[0] + "\n")
    with pytest.raises(OhlcvFormatError, match=r"x.csv:1: header"):
        read_ohlcv(p)


def test_parquet_bad_row_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"timestamp": [1, 2, 3], "open": [1.0, 1.0, 1.0],
                             "high": [2.0, 2.0, 0.5], "low": [0.5, 0.5, 0.6],
                             "close": [1.0, 1.0, 0.55], "volume": [1.0, 1.0, 1.0]}), p)
    with pytest.raises(OhlcvFormatError, match=r"bad.parquet row 3: high 0.5 < low 0.6"):
        read_ohlcv(p)


def test_parquet_null_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "null.parquet"
    pq.write_table(pa.table({"timestamp": [1, 2], "open": [1.0, None], "high": [2.0, 2.0],
                             "low": [0.5, 0.5], "close": [1.0, 1.0], "volume": [1.0, 1.0]}), p)
    with pytest.raises(OhlcvFormatError, match=r"null.parquet row 2: open is null"):
        read_ohlcv(p)


@pytest.mark.parametrize("name", ["binance_btcusdt_2h.csv", "binance_btcusdt_1d.csv"])
def test_fast_csv_path_equals_row_parser(shared_data, name):
    from bot.data import ohlcv

    path = shared_data / "ohlcv" / name
    fast = ohlcv._read_csv_fast(path)
    assert fast is not None
    slow = ohlcv._read_csv(path)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_fast_csv_path_matches_row_parser_on_epochs_and_dates(tmp_path):
    from bot.data import ohlcv

    for rows in (["1704067200000,10,12,9,11,5", "1704074400000,11,13,10,12,6"],
                 ["2024-01-01,10,12,9,11,5", "2024-01-02,11,13,10,12,6"],
                 GOOD):
        p = _write(tmp_path, rows)
        fast = ohlcv._read_csv_fast(p)
        slow = ohlcv._read_csv(p)
        assert fast is not None
        for a, b in zip(fast, slow):
            np.testing.assert_array_equal(a, np.asarray(b))
