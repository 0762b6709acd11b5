"""Tardis CSV reader: the shared fixture, each file kind, message framing and numbering,
precision inference (exact gcd), book replay against a plain-Python book, and malformed
rows rejected with file and line named."""

import gzip
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import events as E
from bot.model import Instrument
from bot.data.tardis import TardisFormatError, detect_kind, infer_instrument, is_tardis_csv, load_events
from engine.book import Book

L2 = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
TRADES = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
QUOTES = "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n"


def _write(tmp_path, name, text, gz=False):
    p = tmp_path / name
    if gz:
        with gzip.open(p, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        p.write_text(text)
    return p


def test_shared_fixture(shared_data):
    path = shared_data / "tardis" / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    assert is_tardis_csv(path)
    ev, inst = load_events(path)
    assert (inst.venue, inst.symbol, inst.tick_size, inst.lot_size) == ("deribit", "BTC-PERPETUAL", Decimal("0.5"), Decimal("10"))
    assert len(ev) == 15 and (ev["kind"] == E.EV_SNAPSHOT).all() and (ev["side"] == E.SIDE_ASK).all()
    assert ev["price"][0] == 12843 and ev["qty"][0] == 1864  # 6421.5 / 0.5, 18640 / 10
    assert ev["ts_exch"][0] == 1585699200245000 * 1000 and ev["ts_local"][0] == 1585699200355684 * 1000
    assert ev["flags"][0] == E.EVF_BEGIN and ev["flags"][-1] == E.EVF_END and not ev["flags"][1:-1].any()
    # every price converts back to the text exactly
    texts = [line.split(",")[6] for line in path.read_text().splitlines()[1:]]
    assert [inst.ticks_to_price(int(t)) for t in ev["price"]] == [Decimal(t) for t in texts]


def _l2_rows():
    rows = [
        ("true", "bid", "100.5", "2"), ("true", "bid", "100", "1.5"),
        ("true", "ask", "101", "3"), ("true", "ask", "101.5", "0.5"),
    ]
    text = "".join(f"x,BTC,1000,1005,{s},{side},{p},{q}\n" for s, side, p, q in rows)
    text += "x,BTC,2000,2004,false,bid,100.5,0\n"        # message 2: one row
    text += "x,BTC,3000,3010,false,ask,101,1\nx,BTC,3000,3010,false,bid,99.5,4\n"  # message 3
    return text


@pytest.mark.parametrize("gz", [False, True])
def test_incremental_l2_framing_numbering_and_replay(tmp_path, gz):
    p = _write(tmp_path, "book.csv" + (".gz" if gz else ""), L2 + _l2_rows(), gz)
    ev, inst = load_events(p)
    assert inst.tick_size == Decimal("0.5") and inst.lot_size == Decimal("0.5")
    assert list(ev["kind"]) == [1, 1, 1, 1, 2, 2, 2]
    assert list(ev["flags"]) == [1, 0, 0, 2, 3, 1, 2]
    assert list(ev["seq_last"]) == [1, 1, 1, 1, 2, 3, 3]
    assert list(ev["seq_first"]) == [-1, -1, -1, -1, 2, 3, 3]
    book = Book()
    stats = book.apply_batch(ev)
    assert stats["gaps"] == 0 and stats["diffs_applied"] == 2
    bpx, bq, apx, aq = book.top(5)
    assert list(bpx) == [200, 199] and list(bq) == [3, 8]     # 100 x 1.5, 99.5 x 4
    assert list(apx) == [202, 203] and list(aq) == [2, 1]


def test_trades_quotes_and_book_snapshot(tmp_path):
    t = _write(tmp_path, "trades.csv", TRADES + "x,BTC,10,11,501,buy,100.25,0.01\n"
               "x,BTC,12,13,abc-7,sell,100.5,0.02\nx,BTC,14,15,502,unknown,100.5,0.01\n")
    ev, inst = load_events(t)
    assert inst.tick_size == Decimal("0.25") and inst.lot_size == Decimal("0.01")
    assert list(ev["kind"]) == [3, 3, 3] and list(ev["side"]) == [E.SIDE_BID, E.SIDE_ASK, E.SIDE_NONE]
    assert list(ev["seq_last"]) == [501, E.SEQ_NONE, 502] and list(ev["qty"]) == [1, 2, 1]
    assert (ev["flags"] == E.EVF_BEGIN | E.EVF_END).all()
    q = _write(tmp_path, "quotes.csv", QUOTES + "x,BTC,10,11,2,101,100,3\nx,BTC,20,21,,,100,1\n")
    ev, inst = load_events(q, Instrument("x", "BTC", Decimal("1"), Decimal("1")))
    assert list(ev["kind"]) == [4, 4, 4] and list(ev["side"]) == [E.SIDE_BID, E.SIDE_ASK, E.SIDE_BID]
    assert list(ev["price"]) == [100, 101, 100] and list(ev["qty"]) == [3, 2, 1]
    assert list(ev["flags"]) == [1, 2, 3]
    head = "exchange,symbol,timestamp,local_timestamp," + ",".join(
        f"asks[{i}].price,asks[{i}].amount,bids[{i}].price,bids[{i}].amount" for i in range(2))
    s = _write(tmp_path, "snap.csv", head + "\nx,BTC,10,11,101,1,100,2,102,3,,\nx,BTC,20,21,101,1,99,2,102,3,98,1\n")
    assert detect_kind(head.split(",")) == "book_snapshot"
    ev, inst = load_events(s, Instrument("x", "BTC", Decimal("1"), Decimal("1")))
    assert list(ev["kind"]) == [1] * 7 and list(ev["seq_last"]) == [1, 1, 1, 2, 2, 2, 2]
    book = Book()
    assert book.apply_batch(ev)["snapshots"] == 2
    bpx, bq, apx, aq = book.top(5)
    assert list(bpx) == [99, 98] and list(apx) == [101, 102]


@pytest.mark.parametrize("body,where,what", [
    ("x,BTC,1,2,true,bid,100\n", ":2:", "expected 8 fields"),
    ("x,BTC,1,2,true,bid,100,1\nx,BTC,1,2,maybe,bid,100,1\n", ":3:", "is_snapshot 'maybe'"),
    ("x,BTC,1,2,true,buy,100,1\n", ":2:", "side 'buy'"),
    ("x,BTC,1,2,true,bid,1e5,1\n", ":2:", "price '1e5'"),
    ("x,BTC,1,2,true,bid,-3,1\n", ":2:", "price '-3'"),
    ("x,BTC,1,2,true,bid,0,1\n", ":2:", "price '0' must be positive"),
    ("x,BTC,1.5,2,true,bid,100,1\n", ":2:", "timestamp '1.5'"),
    ("x,BTC,1,2,true,bid,100,1\ny,ETH,1,2,true,bid,100,1\n", ":3:", "instrument y:ETH"),
])
def test_malformed_rows_name_file_and_line(tmp_path, body, where, what):
    p = _write(tmp_path, "bad.csv", L2 + body)
    with pytest.raises(TardisFormatError) as e:
        load_events(p)
    assert str(p) + where in str(e.value) and what in str(e.value)


def test_off_grid_value_with_given_instrument(tmp_path):
    p = _write(tmp_path, "b.csv", L2 + "x,BTC,1,2,true,bid,100.5,1\nx,BTC,1,2,true,bid,100.25,1\n")
    with pytest.raises(TardisFormatError, match=r"b\.csv:3: .*100\.25"):
        load_events(p, Instrument("x", "BTC", Decimal("0.5"), Decimal("1")))


def test_unknown_header_and_empty_file(tmp_path):
    p = _write(tmp_path, "h.csv", "a,b,c\n1,2,3\n")
    assert not is_tardis_csv(p)
    with pytest.raises(TardisFormatError, match="unrecognised Tardis CSV header"):
        load_events(p)
    e = _write(tmp_path, "e.csv", "")
    with pytest.raises(TardisFormatError, match="e.csv:1: empty file"):
        load_events(e)


@settings(max_examples=60, deadline=None)
@given(step_units=st.sampled_from([1, 2, 5, 25]), scale=st.integers(0, 8),
       mults=st.lists(st.integers(1, 10**9), min_size=1, max_size=30))
def test_inferred_tick_is_the_exact_grid(step_units, scale, mults):
    """Prices k * step as decimal text: the inferred tick divides the step's multiple gcd
    exactly, and every price converts to an integer number of ticks and back exactly."""
    step = Decimal(step_units).scaleb(-scale)
    texts = [format(step * m, "f") for m in mults]
    inst = infer_instrument("x", "Y", texts, ["1"])
    from math import gcd
    g = 0
    for m in mults:
        g = gcd(g, m)
    assert inst.tick_size == step * g
    for t in texts:
        assert inst.ticks_to_price(inst.price_to_ticks(t)) == Decimal(t)


def test_replay_matches_python_book_on_random_l2(tmp_path):
    rng = np.random.default_rng(4)
    lines, book = [], [{}, {}]
    for i in range(40):
        lines.append(f"x,BTC,{i},{i},true,bid,{1000 - i},{rng.integers(1, 9)}")
        lines.append(f"x,BTC,{i},{i},true,ask,{1001 + i},{rng.integers(1, 9)}")
    snap = sorted(lines, key=lambda s: s.split(",")[5])  # all bids then all asks
    snap = [",".join(["x", "BTC", "0", "0"] + s.split(",")[4:]) for s in snap]
    for s in snap:
        _, _, _, _, _, side, px, q = s.split(",")
        book[side == "ask"][int(px)] = int(q)
    upd = []
    for t in range(1, 300):
        side = int(rng.integers(0, 2))
        px = int(rng.integers(961, 1000)) if side == 0 else int(rng.integers(1001, 1041))
        q = int(rng.integers(0, 5))
        upd.append(f"x,BTC,{t},{t},false,{'ask' if side else 'bid'},{px},{q}")
        if q:
            book[side][px] = q
        else:
            book[side].pop(px, None)
    p = _write(tmp_path, "r.csv", L2 + "\n".join(snap + upd) + "\n")
    ev, inst = load_events(p, Instrument("x", "BTC", Decimal("1"), Decimal("1")))
    b = Book()
    assert b.apply_batch(ev)["gaps"] == 0
    bpx, bq, apx, aq = b.top(10)
    assert list(zip(bpx, bq)) == sorted(book[0].items(), reverse=True)[:10]
    assert list(zip(apx, aq)) == sorted(book[1].items())[:10]
