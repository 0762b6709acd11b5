"""Parsing the raw Binance feed (JSON lines -> columnar events), apart from applying it.

Reference in the same run: the obvious plain-Python reader (stdlib json, Decimal per
level, one tuple per row). Figures: messages/s for both and the speedup.
"""

import gzip
import json
from decimal import Decimal

import pytest

from bench.conftest import median_seconds
from bot.data.binance import ParseStats, parse_file
from bot.data.instruments import lookup

LINES = 30_000


@pytest.fixture(scope="module")
def feed_sample(shared_data, tmp_path_factory):
    src = shared_data / "binance" / "usdm" / "btcusdt_20240808.gz"
    dst = tmp_path_factory.mktemp("parse") / "sample.txt"
    with gzip.open(src, "rb") as f, open(dst, "wb") as out:
        for i, line in enumerate(f):
            if i == LINES:
                break
            out.write(line)
    return dst


def reference_parse(path, tick: Decimal, lot: Decimal) -> list[tuple]:
    rows = []
    with open(path) as f:
        for line in f:
            ts, _, js = line.partition(" ")
            msg = json.loads(js)
            data = msg.get("data", msg)
            if "lastUpdateId" in msg or data.get("e") == "depthUpdate":
                for side, key in ((0, "b" if "b" in data else "bids"), (1, "a" if "a" in data else "asks")):
                    for p, q in data[key]:
                        rows.append((int(ts), side, int(Decimal(p) / tick), int(Decimal(q) / lot)))
            elif data.get("e") == "trade":
                rows.append((int(ts), 0 if not data["m"] else 1, int(Decimal(data["p"]) / tick),
                             int(Decimal(data["q"]) / lot)))
            else:
                for p, q in ((data["b"], data["B"]), (data["a"], data["A"])):
                    rows.append((int(ts), 2, int(Decimal(p) / tick), int(Decimal(q) / lot)))
    return rows


def test_parse_binance_usdm(benchmark, feed_sample, figure):
    inst = lookup("binance-usdm", "BTCUSDT")
    stats = ParseStats()
    rows = benchmark.pedantic(parse_file, args=(feed_sample, inst, stats), rounds=5, warmup_rounds=1)
    messages = stats.messages // 6  # stats accumulate over warmup + 5 rounds
    ours = benchmark.stats.stats.median
    ref = median_seconds(lambda: reference_parse(feed_sample, inst.tick_size, inst.lot_size), rounds=3)
    assert len(reference_parse(feed_sample, inst.tick_size, inst.lot_size)) == len(rows)
    figure("parse.binance.messages_per_s", messages / ours, "1/s")
    figure("parse.binance.reference_messages_per_s", messages / ref, "1/s")
    figure("parse.binance.speedup_vs_python", ref / ours, "x")
