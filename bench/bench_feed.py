"""The C feed scanner (engine.feed.parse_binance) against the Python reader it replaces.

Both read the same decompressed bytes of the recorded USD-M file (93,954 messages,
27.7 MB): the scanner from memory, bot.data.binance.parse_file_python (the plain-Python reader) from a plain temporary file
(so neither pays for gzip). Rows are checked equal. Figures: messages/s of the scanner,
of the Python reader, and the speedup; also messages/s by process CPU time (best of 10),
which the other programs on a shared machine disturb less than wall time.
"""

import gzip
import time

import pytest

from bench.conftest import median_seconds
from bot.data.binance import ParseStats, parse_file_python
from bot.data.instruments import lookup
from engine import feed


@pytest.fixture(scope="module")
def usdm_bytes(shared_data, tmp_path_factory):
    data = gzip.open(shared_data / "binance" / "usdm" / "btcusdt_20240808.gz", "rb").read()
    plain = tmp_path_factory.mktemp("feed") / "usdm.txt"
    plain.write_bytes(data)
    return data, plain


def test_parse_c_usdm(benchmark, usdm_bytes, figure):
    data, plain = usdm_bytes
    inst = lookup("binance-usdm", "BTCUSDT")
    grid = (inst._price_scale, inst._tick_units, inst._qty_scale, inst._lot_units)
    rows, stats = benchmark.pedantic(feed.parse_binance, args=(data, *grid), rounds=15, warmup_rounds=2)
    ours = benchmark.stats.stats.median
    ref_stats = ParseStats()
    ref_rows = parse_file_python(plain, inst, ref_stats)
    assert rows.tobytes() == ref_rows.tobytes() and stats["messages"] == ref_stats.messages
    ref = median_seconds(lambda: parse_file_python(plain, inst), rounds=3, warmup=0)
    messages = stats["messages"]
    figure("parse.c.messages_per_s", messages / ours, "1/s")
    figure("parse.c.bytes_per_s", len(data) / ours, "B/s")
    figure("parse.c.python_reader_messages_per_s", messages / ref, "1/s")
    figure("parse.c.speedup_vs_python_reader", ref / ours, "x")
    cpu = []
    for _ in range(10):
        t0 = time.process_time()
        feed.parse_binance(data, *grid)
        cpu.append(time.process_time() - t0)
    figure("parse.c.cpu_messages_per_s", messages / min(cpu), "1/s")
