"""engine.feed.parse_binance (the C scanner) against bot.data.binance.parse_file, its reference.

* the recorded files: bit-identical rows;
* hypothesis-generated feeds (random key order, whitespace, escapes, duplicate and extra
  keys with nested values, decimals on and off the grid, empty diffs, blank lines): the
  same rows and stats as the Python reader, or both fail on the same line;
* byte mutations and truncations of real lines: never a crash; the C accepts only what the
  Python reader accepts (with the same rows), and its error names the first bad line;
* the malformed lines of tests/test_binance_parser.py raise with the same reasons.
"""

import gzip
import json
import pickle
import random
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.data import binance
from engine import events as ev
from bot.data.instruments import lookup
from bot.model import Instrument, decimal_text_units
from engine import feed

SPOT = lookup("binance-spot", "BTCUSDT")
USDM = lookup("binance-usdm", "BTCUSDT")

# The reference: the plain-Python reader. Once bot.data.binance.parse_file runs on the C
# scanner, the Python reader stays as parse_file_python (test_reference_is_python checks
# that it does not call the scanner).
REFERENCE = getattr(binance, "parse_file_python", binance.parse_file)


def c_parse(data: bytes, inst: Instrument):
    return feed.parse_binance(data, inst._price_scale, inst._tick_units, inst._qty_scale, inst._lot_units)


def py_parse(tmp_path: Path, data: bytes, inst: Instrument):
    """(rows, stats) of the Python reader, or the error it raised: FeedError, or OverflowError
    for integers beyond int64 (which it raises without a line number)."""
    p = tmp_path / "feed.txt"
    p.write_bytes(data)
    stats = binance.ParseStats()
    try:
        return REFERENCE(p, inst, stats), stats
    except (binance.FeedError, OverflowError) as e:
        return e, None


def py_error_line(err: Exception) -> int:
    m = re.search(r":(\d+): ", str(err))
    assert m, str(err)
    return int(m.group(1))


def stats_dict(stats: binance.ParseStats) -> dict:
    return {k: getattr(stats, k) for k in ("lines", "messages", "snapshots", "diffs", "trades", "quotes",
                                            "skipped")}


def first_bad_line(tmp_path, lines: list[bytes], inst) -> int | None:
    """The first line number at which the Python reader fails when fed the lines one prefix at
    a time: the line a one-pass reader must name."""
    for k in range(1, len(lines) + 1):
        res, _ = py_parse(tmp_path, b"\n".join(lines[:k]), inst)
        if isinstance(res, Exception):
            return k
    return None


def assert_same(tmp_path, data: bytes, inst: Instrument):
    """C and Python agree: same rows and stats, or both fail (C naming the first bad line)."""
    ref, stats = py_parse(tmp_path, data, inst)
    try:
        rows, cstats = c_parse(data, inst)
    except feed.FeedParseError as e:
        assert isinstance(ref, Exception), f"C refused what Python accepts: {e}"
        lines = data.split(b"\n")
        assert e.line == first_bad_line(tmp_path, lines, inst), (str(e), str(ref))
        return "error"
    assert not isinstance(ref, Exception), f"C accepted what Python refuses: {ref}"
    assert rows.dtype == ev.EVENT_DTYPE
    assert rows.tobytes() == ref.tobytes()
    assert cstats == stats_dict(stats)
    return "ok"


# -- the recorded files --------------------------------------------------------------------

def _recorded(shared_data):
    return [(p, SPOT) for p in sorted((shared_data / "binance" / "spot").glob("*.gz"))] + \
           [(shared_data / "binance" / "usdm" / "btcusdt_20240808.gz", USDM)]


def test_reference_is_python(tmp_path, monkeypatch):
    def scanner(*args, **kwargs):
        raise AssertionError("the reference reader must not call the C scanner")

    monkeypatch.setattr(feed, "parse_binance", scanner)
    monkeypatch.setattr(binance, "parse_binance", scanner, raising=False)
    p = tmp_path / "one.txt"
    p.write_bytes(b'1 {"lastUpdateId":1,"bids":[["1.00","1"]],"asks":[]}\n')
    assert len(REFERENCE(p, SPOT)) == 1


def test_recorded_files_bit_identical(shared_data, parse_cache):
    for path, inst in _recorded(shared_data):
        if REFERENCE is binance.parse_file:  # the session's parse cache holds the Python reader's rows
            ref, _ = binance.load_events([path], instrument=inst, cache_dir=parse_cache)
        else:
            ref = REFERENCE(path, inst)
        data = gzip.open(path, "rb").read()
        rows, stats = c_parse(data, inst)
        assert rows.tobytes() == ref.tobytes(), path
        assert stats["lines"] == data.count(b"\n") and stats["skipped"] == 0
        assert stats["messages"] == int((rows["flags"] & ev.EVF_BEGIN != 0).sum())
        assert stats["messages"] == stats["snapshots"] + stats["diffs"] + stats["trades"] + stats["quotes"]
        # The same bytes through a bytearray and a memoryview, and without the final newline.
        again, _ = c_parse(memoryview(bytearray(data[:-1])), inst)
        assert again.tobytes() == rows.tobytes()


# -- generated feeds -------------------------------------------------------------------------

WHITESPACE = ["", " ", "\t", "\r", "  ", " \t "]
SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b",
                 "\f": "\\f", "/": "\\/"}


class Writer:
    """JSON text with random whitespace between tokens and random escapes in strings, from
    one drawn seed (so generating a feed costs few hypothesis draws). A dict is written
    from obj(...) pairs, so keys may repeat."""

    def __init__(self, seed: int, ws_rate: float, esc_rate: float):
        self.rnd = random.Random(seed)
        self.ws_rate, self.esc_rate = ws_rate, esc_rate

    def ws(self) -> str:
        return self.rnd.choice(WHITESPACE) if self.rnd.random() < self.ws_rate else ""

    def string(self, text: str) -> str:
        out = []
        for c in text:
            o = ord(c)
            if c in '"\\' or o < 0x20 or self.rnd.random() < self.esc_rate:
                if c in SHORT_ESCAPES and self.rnd.random() < 0.5:
                    out.append(SHORT_ESCAPES[c])
                elif o > 0xFFFF:  # a surrogate pair
                    o -= 0x10000
                    out.append(f"\\u{0xD800 + (o >> 10):04X}\\u{0xDC00 + (o & 0x3FF):04x}")
                else:
                    out.append(f"\\u{o:04x}")
            else:
                out.append(c)
        return '"' + "".join(out) + '"'

    def value(self, v) -> str:
        if v is None:
            return "null"
        if v is True or v is False:
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            return json.dumps(v)
        if isinstance(v, str):
            return self.string(v)
        w = self.ws
        if v and v[0] == ("pairs",):
            return "{" + w() + ("," + w()).join(
                self.string(k) + w() + ":" + w() + self.value(x) + w() for k, x in v[1:]) + "}"
        return "[" + w() + ("," + w()).join(self.value(x) + w() for x in v) + "]"


def obj(*pairs):
    return [("pairs",)] + list(pairs)


junk = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.lists(st.tuples(st.text(max_size=4), children), max_size=3).map(lambda kv: obj(*kv)),
    max_leaves=8)

GRIDS = [("0.01", "0.000001"), ("0.1", "0.001"), ("1", "1"), ("0.5", "0.25"), ("25", "0.05"),
         ("0.00000001", "0.00000001")]


@st.composite
def decimal_text(draw, step: Decimal, allow_bad: bool, positive: bool):
    """A decimal string: usually a multiple of step, written with extra zeros; sometimes off
    the grid or not a plain decimal at all."""
    if allow_bad and draw(st.integers(0, 29)) == 0:
        return draw(st.sampled_from(["-1.0", "1e5", "", ".5", "5.", "NaN", " 5", "+5", "1.2.3", "0x10", "٣",
                                     "0", "0.0", str(step / 10)]))
    # (No text beyond int64: the Python reader raises OverflowError there, not FeedError;
    # test_strict_and_range_errors covers the scanner's range error.)
    k = draw(st.integers(1 if positive else 0, 10**9))
    v = step * k
    if allow_bad and draw(st.integers(0, 29)) == 0:
        v += step / 3  # off the grid
    text = format(v, "f")
    if "." not in text and draw(st.booleans()):
        text += "." + "0" * draw(st.integers(1, 3))
    elif "." in text:
        text += "0" * draw(st.integers(0, 3))
    if draw(st.integers(0, 9)) == 0:
        text = "0" * draw(st.integers(1, 25)) + text  # leading zeros: the long path
    return text


@st.composite
def message(draw, inst: Instrument, allow_bad: bool):
    """One feed line's JSON (as text) of a random kind."""
    ints = st.integers(0, 2**62)
    ms = st.integers(0, 9 * 10**12)
    price = lambda: draw(decimal_text(inst.tick_size, allow_bad, True))  # noqa: E731
    qty = lambda: draw(decimal_text(inst.lot_size, allow_bad, False))  # noqa: E731

    def levels():
        return [[price(), qty()] for _ in range(draw(st.integers(0, 4)))]

    kind = draw(st.sampled_from(["diff", "diff", "trade", "quote", "quote", "snapshot", "other"]))
    if kind == "diff":
        pairs = [("e", "depthUpdate"), ("E", draw(ms)), ("s", "BTCUSDT"), ("U", draw(ints)), ("u", draw(ints)),
                 ("b", levels()), ("a", levels())]
        if draw(st.booleans()):
            pairs.append(("T", draw(ms)))
        if draw(st.booleans()):
            pairs.append(("pu", draw(st.none() | ints)))
    elif kind == "trade":
        pairs = [("e", "trade"), ("E", draw(ms)), ("T", draw(ms)), ("s", "BTCUSDT"), ("t", draw(ints)),
                 ("p", price()), ("q", qty()), ("m", draw(st.booleans())), ("M", True)]
    elif kind == "quote":
        pairs = [("u", draw(ints)), ("s", "BTCUSDT"), ("b", price()), ("B", qty()), ("a", price()), ("A", qty())]
        e = draw(st.sampled_from(["bookTicker", None, "absent"]))
        if e != "absent":
            pairs.append(("e", e))
        for k in ("T", "E"):
            if draw(st.booleans()):
                pairs.append((k, draw(st.none() | ms)))
    elif kind == "snapshot":
        pairs = [("lastUpdateId", draw(ints)), ("bids", levels()), ("asks", levels())]
        for k in ("T", "E"):
            if draw(st.booleans()):
                pairs.append((k, draw(st.none() | ms)))
        if draw(st.booleans()):
            pairs.append(("data", None))
    else:
        pairs = [("e", draw(st.sampled_from(["aggTrade", "kline", "depthupdate"]))), ("x", draw(junk)),
                 ("b", draw(junk))]
    # Extra keys with nested values, and earlier duplicates of real keys (the last one wins).
    for _ in range(draw(st.integers(0, 2))):
        pairs.append((draw(st.text(max_size=5).filter(lambda k: k not in {"e", "E", "T", "U", "u", "pu", "b",
                                                                           "a", "t", "p", "q", "m", "B", "A",
                                                                           "lastUpdateId", "bids", "asks",
                                                                           "data", "stream"})),
                      draw(junk)))
    pairs = draw(st.permutations(pairs))
    if draw(st.integers(0, 4)) == 0:
        k, _ = draw(st.sampled_from(pairs))
        pairs.insert(0, (k, draw(junk)))
    writer = Writer(draw(st.integers(0, 2**32)), draw(st.sampled_from([0.0, 0.3, 1.0])),
                    draw(st.sampled_from([0.0, 0.0, 0.05, 0.5])))
    if kind == "snapshot":
        return writer.value(obj(*pairs))
    stream = [("stream", f"btcusdt@{kind}"), ("data", obj(*pairs))]
    if draw(st.booleans()):
        stream.append(("id", draw(junk)))
    return writer.value(obj(*draw(st.permutations(stream))))


@st.composite
def feed_bytes(draw):
    tick, lot = draw(st.sampled_from(GRIDS))
    inst = Instrument("binance-spot", "TEST", Decimal(tick), Decimal(lot))
    allow_bad = draw(st.booleans())
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 9)) == 0:
            lines.append("")
        lines.append(f"{draw(st.integers(0, 2**63 - 1))} {draw(message(inst, allow_bad))}")
    data = "\n".join(lines).encode()
    if draw(st.booleans()):
        data += b"\n"
    return data, inst


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.data_too_large])
@given(feed_bytes())
def test_generated_feeds_match_python_reader(tmp_path, case):
    data, inst = case
    assert_same(tmp_path, data, inst)


# -- exact decimals --------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.text("0123456789.", max_size=30) | st.from_regex(r"\A[0-9]{1,25}(\.[0-9]{1,25})?\Z"),
       st.integers(0, 18), st.sampled_from([1, 2, 5, 25, 10**18, 2**63 - 1]))
def test_decimal_steps_equal_exact_reference(text, scale, step):
    try:
        q, rem = divmod(decimal_text_units(text, scale), step)
        expected = q if rem == 0 and q < 2**63 else None
    except ValueError:
        expected = None
    assert feed.decimal_steps(text.encode(), scale, step) == expected


# -- mutations of real lines ---------------------------------------------------------------

def _real_lines(shared_data) -> list[bytes]:
    out = []
    with gzip.open(shared_data / "binance" / "usdm" / "btcusdt_20240808.gz", "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if len(line) < 3000:  # the big snapshot and depth lines would make each case slow
                out.append(line)
            if len(out) == 400:
                break
    return out


def test_mutations_never_crash_and_agree(shared_data, tmp_path):
    lines = _real_lines(shared_data)
    rng = random.Random(20240808)
    alphabet = b'{}[]",:\\0123456789.-+eEtrufalsn \t\r\nu\x00\x01\x80\xc3\xff'
    outcomes = {"ok": 0, "error": 0, "stricter": 0}
    for _ in range(2000):
        sample = [rng.choice(lines) for _ in range(3)]
        k = rng.randrange(3)
        m = bytearray(sample[k])
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(m) + 1)
            op = rng.randrange(4)
            if op == 0 and at < len(m):
                m[at] = rng.choice(alphabet) if rng.random() < 0.7 else rng.randrange(256)
            elif op == 1:
                m[at:at] = bytes([rng.choice(alphabet)])
            elif op == 2:
                del m[at:at + rng.randint(1, 4)]
            else:
                del m[at:]
        sample[k] = bytes(m)
        data = b"\n".join(sample)
        ref, stats = py_parse(tmp_path, data, USDM)
        try:
            rows, cstats = c_parse(data, USDM)
        except feed.FeedParseError as e:
            assert e.line >= k + 1 and e.reason  # the lines before the mutated one are good
            if isinstance(ref, Exception):
                outcomes["error"] += 1
                # Python names text-conversion errors after the scan (so possibly a later
                # line); the line a one-pass reader must name is the first bad prefix.
                expected = first_bad_line(tmp_path, data.split(b"\n"), USDM) \
                    if isinstance(ref, OverflowError) or "grid" in str(ref) else py_error_line(ref)
                assert e.line == expected, (bytes(sample[k]), str(e), str(ref))
            else:
                # Only where the C is documented as stricter (csrc/feed_binance.h).
                assert re.search(r"must be an integer|timestamp|must be a decimal string|\[price, qty\]",
                                 e.reason), (bytes(sample[k]), str(e))
                outcomes["stricter"] += 1
            continue
        assert not isinstance(ref, Exception), (bytes(sample[k]), str(ref))
        assert rows.tobytes() == ref.tobytes()
        assert cstats == stats_dict(stats)
        outcomes["ok"] += 1
    assert outcomes["ok"] > 100 and outcomes["error"] > 1000, outcomes


# -- errors ------------------------------------------------------------------------------------

def test_parse_error_names_line_and_column_and_pickles():
    # The malformed-line cases themselves run on both readers in test_binance_parser.py.
    good = '11 {"stream":"s","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["61000.00","1"]],"a":[]}}'
    with pytest.raises(feed.FeedParseError) as err:
        c_parse(f"{good}\n12 {{broken\n".encode(), SPOT)
    assert err.value.line == 2 and str(err.value).startswith("line 2: ")
    assert isinstance(err.value, ValueError) and err.value.column >= 1
    again = pickle.loads(pickle.dumps(err.value))
    assert str(again) == str(err.value) and again.line == 2


@pytest.mark.parametrize("line,match", [
    ('5 {"data":{"e":"depthUpdate","E":1,"U":1.0,"u":2,"b":[],"a":[]}}', "field 'U' must be an integer"),
    ('5 {"data":{"e":"depthUpdate","E":1,"U":"1","u":2,"b":[],"a":[]}}', "field 'U' must be an integer"),
    ('5 {"data":{"e":"depthUpdate","E":1,"U":1,"u":2,"b":null,"a":[]}}', r"field 'b' must be an array"),
    ('5 {"data":{"e":"depthUpdate","E":1,"U":1,"u":2,"b":[[1.5,"1"]],"a":[]}}', r"\[price, qty\]"),
    ('5 {"data":{"e":"trade","T":1,"t":1,"p":61000.5,"q":"1","m":true}}', "field 'p' must be a decimal string"),
    ('-5 {"lastUpdateId":1,"bids":[],"asks":[]}', "timestamp"),
    ('5 {"data":{"e":"depthUpdate","E":9999999999999,"U":1,"u":2,"b":[],"a":[]}}', "overflows int64 ns"),
    ('5 {"data":{"e":"depthUpdate","E":1,"U":9223372036854775808,"u":2,"b":[],"a":[]}}', "int64 range"),
    ('5 {"data":{"e":"trade","T":1,"t":1,"p":"99999999999999999999.00","q":"1","m":true}}', "out of range"),
    ('5 {"data":{"e":"depthUpdate","U":1,"u":2,"b":[],"a":[]}}', "without 'T' or 'E'"),
    ('5 {"data":[1]}', "field 'data' must be an object"),
    ("5 [1]", "not a JSON object"),
    ('5 {"x":1e400}', "malformed JSON"),
    ('5 {"x":"\\ud800"}', "malformed JSON"),
    ('5 {"x":1}}', "malformed JSON"),
    ("5 ", "malformed JSON"),
])
def test_strict_and_range_errors(line, match):
    with pytest.raises(feed.FeedParseError, match=match) as err:
        c_parse(f"1 {{\"hello\":0,\"lastUpdateId\":1,\"bids\":[],\"asks\":[]}}\n{line}".encode(), SPOT)
    assert err.value.line == 2


def test_json_edge_cases_agree_with_python(tmp_path):
    """Nesting limit, double overflow threshold, UTF-8 and surrogate rules: orjson's."""
    limit = 2**1024 - 2**970  # the least integer that rounds to +inf
    values = ["[" * 1022 + "]" * 1022, "[" * 1023 + "]" * 1023, str(limit), str(limit - 1),
              "1.7976931348623157e308", "17976931348623158e292", "-0", "0e5", "1E+2", "-0.0e-0",
              '"\\ud83d\\ude00"', '"\\udc00"', '"\xc3\xa9"', '"\xed\xa0\x80"', '"\xf4\x90\x80\x80"', '"\x7f"',
              '"\x1f"', "01", "1.", ".5", "[1,]", '{"a" :1 , "b":[ ] }', "tru", "nul", '"\\x"', '"\\U0041"']
    for v in values:
        data = ('7 {"stream":"s","data":{"e":"aggTrade","v":%s}}' % v).encode("latin-1")  # bytes as written
        assert assert_same(tmp_path, data, SPOT) in ("ok", "error")


def test_escaped_keys_values_and_duplicates(tmp_path):
    lines = [
        # escaped key names and values
        r'1 {"str\u0065am":"x","d\u0061ta":{"\u0065":"depth\u0055pdate","E":1,"\u0055":3,"u":4,'
        r'"b":[["6\u00310.00","1"]],"a":[]}}',
        # asks before bids, duplicate "b" (the last wins), levels in the top-level object too
        '2 {"bids":[["1.00","1"]],"data":{"a":[["2.00","1"]],"e":"depthUpdate","b":[["9","x"]],"E":1,'
        '"U":5,"u":6,"b":[["1.50","2"]]}}',
        # a replaced "data" object
        '3 {"data":{"e":"trade","T":1,"t":1,"p":"1","q":"1","m":true},"data":{"e":"bookTicker",'
        '"u":1,"b":"1.00","B":"1","a":"1.01","A":"2"}}',
        # whitespace everywhere, CR at the end
        '4 \t{ "stream" : "s" , "data" : { "e" : "trade" , "T" : 2 , "t" : 9 , "p" : "3.00" , '
        '"q" : "0.5" , "m" : false } }\r',
        '5 {"lastUpdateId":1,"data":null,"bids":[],"asks":[],"T":null,"E":5}',
        # leading zeros in the timestamp, as int() reads them
        '0000000000000000000000000000006 {"lastUpdateId":2,"bids":[],"asks":[]}',
    ]
    data = "\n".join(lines).encode()
    assert assert_same(tmp_path, data, SPOT) == "ok"
    rows, stats = c_parse(data, SPOT)
    assert list(rows["price"][:2]) == [61000, 150] and rows["qty"][1] == 2_000_000
    assert rows["kind"][3] == ev.EV_QUOTE and stats["quotes"] == 1


def test_output_grows_past_the_first_guess(tmp_path):
    """Rows denser than the first capacity guess (n/32): the scan resumes after growing."""
    levels = ",".join(f'["{i + 1}","1"]' for i in range(20000))
    data = ('9 {"lastUpdateId":5,"bids":[%s],"asks":[]}\n' % levels).encode() * 3
    inst = Instrument("binance-spot", "X", Decimal("1"), Decimal("1"))
    assert assert_same(tmp_path, data, inst) == "ok"
    rows, _ = c_parse(data, inst)
    assert len(rows) == 60000 and rows["price"][-1] == 20000


def test_empty_input_and_blank_lines():
    rows, stats = c_parse(b"", SPOT)
    assert len(rows) == 0 and stats["lines"] == 0 and stats["messages"] == 0
    rows, stats = c_parse(b"\n\n", SPOT)
    assert len(rows) == 0 and stats["lines"] == 0


@pytest.mark.parametrize("args,exc", [
    (("x", 2, 1, 6, 1), TypeError),
    ((b"", 19, 1, 6, 1), ValueError),
    ((b"", 2, 0, 6, 1), ValueError),
    ((b"", 2, 1, -1, 1), ValueError),
    ((b"", 2, 1, 6, 1.5), TypeError),
    ((b"", True, 1, 6, 1), TypeError),
    ((np.zeros(3, np.int64), 2, 1, 6, 1), TypeError),
])
def test_arguments_are_checked(args, exc):
    with pytest.raises(exc):
        feed.parse_binance(*args)
