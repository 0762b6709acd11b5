"""Matching engine (engine.match over csrc/match.c): classic scenarios, argument checks, and
property tests against the plain-Python reference matcher (tests/match_reference.py) over
long random operation sequences."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import match as M
from tests.match_reference import REASONS as REF_REASONS
from tests.match_reference import ReferenceMatcher


@pytest.fixture
def eng():
    e = M.MatchingEngine(1024)
    yield e
    e.check()


def fills_of(out):
    return [(int(f["maker_id"]), int(f["price"]), int(f["qty"]), M.FILL_KINDS[f["kind"]])
            for f in out.fills]


# ---- classic scenarios --------------------------------------------------------------------

def test_reason_names_match_reference():
    assert M.REASONS == REF_REASONS


def test_limit_rests(eng):
    out = eng.add(1, "buy", 100, 5)
    assert out.ok and out.resting == 5 and out.filled == 0 and len(out.fills) == 0
    assert eng.best("buy") == (100, 5) and eng.best("sell") is None
    assert eng.get(1) == (0, "buy", 100, 5)


def test_exact_match(eng):
    eng.add(1, "sell", 100, 5, owner=1)
    out = eng.add(2, "buy", 100, 5, owner=2)
    assert out.filled == 5 and out.resting == 0
    assert fills_of(out) == [(1, 100, 5, "fill")]
    assert len(eng) == 0 and eng.get(1) is None


def test_partial_fill_leaves_remainder(eng):
    eng.add(1, "sell", 100, 3)
    out = eng.add(2, "buy", 101, 5)
    assert out.filled == 3 and out.resting == 2 and out.price == 101
    assert eng.best("buy") == (101, 2) and eng.best("sell") is None
    eng.add(3, "sell", 99, 10)  # trades at the resting bid's price, 101
    assert eng.best("sell") == (99, 8)


def test_trades_at_resting_price(eng):
    eng.add(1, "sell", 100, 1)
    out = eng.add(2, "buy", 150, 1)
    assert out.fills["price"].tolist() == [100]


def test_price_time_priority(eng):
    eng.add(1, "sell", 101, 2)
    eng.add(2, "sell", 100, 2)
    eng.add(3, "sell", 100, 2)
    eng.add(4, "sell", 101, 2)
    out = eng.add(5, "buy", 101, 7)
    assert [f[0] for f in fills_of(out)] == [2, 3, 1, 4]
    assert eng.get(4)[3] == 1
    assert eng.level_orders("sell", 101) == [4]


def test_market_sweeps_levels(eng):
    for i, p in enumerate((100, 101, 102)):
        eng.add(i + 1, "sell", p, 2)
    out = eng.add(9, "buy", qty=5, type="market")
    assert [(f[1], f[2]) for f in fills_of(out)] == [(100, 2), (101, 2), (102, 1)]
    assert out.filled == 5 and out.resting == 0 and eng.best("sell") == (102, 1)
    out = eng.add(10, "buy", qty=5, type="market")
    assert out.filled == 1 and out.cancelled == 4 and len(eng) == 0
    assert eng.add(11, "buy", qty=1, type="market").reason == "no_liquidity"


def test_cancel_then_second_cancel_fails(eng):
    eng.add(1, "buy", 100, 5)
    first = eng.cancel(1)
    assert first.ok and first.cancelled == 5
    second = eng.cancel(1)
    assert second.reason == "unknown_id" and second.cancelled == 0
    assert eng.best("buy") is None


def test_ioc_does_not_rest(eng):
    eng.add(1, "sell", 100, 2)
    out = eng.add(2, "buy", 100, 5, tif="ioc")
    assert out.filled == 2 and out.cancelled == 3 and out.resting == 0
    assert len(eng) == 0


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_fok_both_sides(eng, side):
    opp = "sell" if side == "buy" else "buy"
    near, far = (100, 101) if side == "buy" else (101, 100)
    eng.add(1, opp, near, 3)
    eng.add(2, opp, far, 3)
    before = eng.depth(10)
    # needs 7 but only 6 exist within any limit: rejected, book untouched
    out = eng.add(3, side, far, 7, tif="fok")
    assert out.reason == "fok_unfillable" and len(out.fills) == 0
    after = eng.depth(10)
    for k in ("bids", "asks"):
        for a, b in zip(before[k], after[k]):
            assert a.tolist() == b.tolist()
    # within the near price only 3 exist
    assert eng.add(4, side, near, 4, tif="fok").reason == "fok_unfillable"
    out = eng.add(5, side, far, 6, tif="fok")
    assert out.ok and out.filled == 6 and len(eng) == 0


def test_spread_and_depth_snapshot(eng):
    for i, (s, p, q) in enumerate([("buy", 99, 1), ("buy", 98, 2), ("buy", 99, 3),
                                   ("sell", 101, 4), ("sell", 103, 5), ("buy", 97, 6)]):
        eng.add(i + 1, s, p, q)
    assert eng.spread() == 2
    d = eng.depth(2)
    assert d["bids"][0].tolist() == [99, 98] and d["bids"][1].tolist() == [4, 2]
    assert d["bids"][2].tolist() == [2, 1]
    assert d["asks"][0].tolist() == [101, 103] and d["asks"][1].tolist() == [4, 5]
    assert len(eng.depth(100)["bids"][0]) == 3


def test_post_only_reject_and_reprice(eng):
    eng.add(1, "sell", 100, 5)
    out = eng.add(2, "buy", 100, 1, post_only="reject")
    assert out.reason == "post_only_would_take"
    out = eng.add(3, "buy", 105, 1, post_only="reprice")
    assert out.ok and out.price == 99 and out.filled == 0 and eng.best("buy") == (99, 1)
    assert eng.add(4, "buy", 99, 1, post_only="reject").ok
    assert eng.add(5, "buy", 1, 1, tif="ioc", post_only="reject").reason == "invalid_flags"


def test_reduce_only(eng):
    eng.add(1, "sell", 100, 10)
    assert eng.add(2, "buy", 100, 1, reduce_only=True, position=0).reason == "reduce_only_would_increase"
    assert eng.add(3, "buy", 100, 1, reduce_only=True, position=5).reason == "reduce_only_would_increase"
    out = eng.add(4, "buy", 100, 8, reduce_only=True, position=-3)
    assert out.ok and out.filled == 3 and out.cancelled == 5


def test_modify_priority(eng):
    eng.add(1, "buy", 100, 5)
    eng.add(2, "buy", 100, 5)
    assert eng.modify(1, 100, 3).ok  # qty down keeps priority
    assert eng.level_orders("buy", 100) == [1, 2]
    assert eng.best("buy") == (100, 8)
    assert eng.modify(1, 100, 4).ok  # qty up loses it
    assert eng.level_orders("buy", 100) == [2, 1]
    assert eng.modify(2, 101, 5).ok and eng.modify(2, 100, 5).ok  # price change loses it
    assert eng.level_orders("buy", 100) == [1, 2]
    eng.add(3, "sell", 102, 2)
    out = eng.modify(1, 102, 4)  # crossing modify trades
    assert out.filled == 2 and out.resting == 2 and eng.best("buy") == (102, 2)
    assert eng.modify(99, 100, 1).reason == "unknown_id"


@pytest.mark.parametrize("stp,expect_fills,rest_maker,taker_resting", [
    ("cancel_newest", [], 5, 0),
    ("cancel_oldest", [(1, 100, 5, "stp_cancel_maker"), (2, 100, 3, "fill")], None, 0),
    ("decrement_both", [(1, 100, 3, "stp_decrement")], 2, 0),
])
def test_self_trade_prevention(eng, stp, expect_fills, rest_maker, taker_resting):
    eng.add(1, "sell", 100, 5, owner=7)
    eng.add(2, "sell", 100, 5, owner=8)
    out = eng.add(3, "buy", 100, 3, owner=7, stp=stp)
    assert fills_of(out) == expect_fills
    got = eng.get(1)
    assert (got[3] if got else None) == rest_maker
    assert out.resting == taker_resting


def test_self_trade_allowed_without_stp(eng):
    eng.add(1, "sell", 100, 5, owner=7)
    out = eng.add(2, "buy", 100, 5, owner=7)
    assert fills_of(out) == [(1, 100, 5, "fill")]


def test_duplicate_id_and_book_full():
    e = M.MatchingEngine(2)
    assert e.add(1, "buy", 10, 1).ok
    assert e.add(1, "buy", 11, 1).reason == "duplicate_id"
    assert e.add(2, "buy", 11, 1).ok
    assert e.add(3, "buy", 12, 1).reason == "book_full"
    assert e.add(4, "sell", 10, 1, tif="ioc").ok  # IOC never needs a slot
    e.check()


@pytest.mark.parametrize("kwargs,field", [
    (dict(id=0, side="buy", price=1, qty=1), "id"),
    (dict(id=1, side="up", price=1, qty=1), "side"),
    (dict(id=1, side="buy", price=0, qty=1), "price"),
    (dict(id=1, side="buy", price=1, qty=0), "qty"),
    (dict(id=1, side="buy", price=1, qty=1, tif="day"), "tif"),
    (dict(id=1, side="buy", price=1, qty=1, stp="maybe"), "stp"),
    (dict(id=1, side="buy", price=1, qty=2**63), "qty"),
    (dict(id=1, side="buy", price=1.5, qty=1), "price"),
])
def test_bad_arguments_raise_and_change_nothing(eng, kwargs, field):
    eng.add(50, "sell", 200, 1)
    with pytest.raises(ValueError, match=field):
        eng.add(**kwargs)
    assert len(eng) == 1


def test_bad_arrays_raise(eng):
    with pytest.raises(ValueError, match="ops"):
        eng.run(np.zeros(3, dtype=np.int64))
    ops = M.make_ops(2)
    with pytest.raises(ValueError, match="results"):
        eng.run_into(ops, np.zeros(1, dtype=M.RESULT_DTYPE), np.zeros(4, dtype=M.FILL_DTYPE))


def test_fill_buffer_full_stops_before_op():
    e = M.MatchingEngine(64)
    ops = M.make_ops(6)
    ops["id"] = np.arange(1, 7)
    ops["side"] = [1, 1, 1, 0, 1, 0]
    ops["price"] = [100, 100, 100, 100, 100, 100]
    ops["qty"] = [1, 1, 1, 3, 1, 1]
    res = np.zeros(6, dtype=M.RESULT_DTYPE)
    fills = np.zeros(2, dtype=M.FILL_DTYPE)
    done, nf = e.run_into(ops, res, fills)
    assert (done, nf) == (3, 0)  # op 3 could touch 3 resting orders > 2 free records
    assert M.REASONS[res[3]["reason"]] == "fill_buffer_full"
    assert len(e) == 3
    results, all_fills = e.run(ops[3:])
    assert all_fills["maker_id"].tolist() == [1, 2, 3, 5]


# ---- property tests against the reference -----------------------------------------------

FIELDS = ("id", "owner", "price", "qty", "position", "op", "side", "type", "tif", "post_only",
          "stp", "reduce_only")

op_strategy = st.one_of(
    st.fixed_dictionaries({
        "op": st.just(0), "id": st.integers(1, 80), "owner": st.integers(0, 3),
        "price": st.integers(95, 105), "qty": st.integers(1, 12),
        "position": st.integers(-10, 10), "side": st.integers(0, 1),
        "type": st.sampled_from([0, 0, 0, 0, 1]), "tif": st.sampled_from([0, 0, 0, 1, 2]),
        "post_only": st.sampled_from([0, 0, 0, 0, 1, 2]), "stp": st.integers(0, 3),
        "reduce_only": st.sampled_from([0, 0, 0, 0, 0, 1]),
    }),
    st.fixed_dictionaries({"op": st.just(1), "id": st.integers(1, 80)}),
    st.fixed_dictionaries({"op": st.just(2), "id": st.integers(1, 80),
                           "price": st.integers(95, 105), "qty": st.integers(1, 12)}),
    # malformed rows the C side must reject with a reason and no effect
    st.fixed_dictionaries({
        "op": st.integers(0, 3), "id": st.integers(-1, 80), "price": st.integers(-1, 105),
        "qty": st.integers(-1, 3), "side": st.integers(0, 3), "type": st.integers(0, 2),
        "tif": st.integers(0, 3), "post_only": st.integers(0, 3), "stp": st.integers(0, 4),
        "reduce_only": st.integers(0, 2)}),
)


def to_ops(seq):
    ops = M.make_ops(len(seq))
    for i, d in enumerate(seq):
        for k in FIELDS:
            ops[i][k] = d.get(k, 0)
    return ops


def ref_op(row):
    return {k: int(row[k]) for k in FIELDS}


def assert_same_book(eng, ref):
    eng.check()
    assert len(eng) == len(ref)
    d = eng.depth(1000)
    for name, side in (("bids", 0), ("asks", 1)):
        prices, qtys, counts = d[name]
        got = list(zip(prices.tolist(), qtys.tolist(), counts.tolist()))
        assert got == ref.depth(side, 1000)
        for p in prices.tolist():
            assert eng.level_orders(("buy", "sell")[side], p) == ref.level_ids(side, p)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.large_base_example])
@given(seq=st.lists(op_strategy, min_size=50, max_size=400), cap=st.sampled_from([8, 40, 1024]),
       chunk=st.integers(1, 60))
def test_matches_reference(seq, cap, chunk):
    eng, ref = M.MatchingEngine(cap), ReferenceMatcher(cap)
    ops = to_ops(seq)
    for start in range(0, len(ops), chunk):
        batch = ops[start:start + chunk]
        results, fills = eng.run(batch)
        ref_fills = []
        for i, row in enumerate(batch):
            r, f = ref.run_one(ref_op(row), i)
            got = {k: int(results[i][k]) for k in ("id", "filled", "resting", "cancelled", "price", "reason")}
            assert got == r, (start + i, ref_op(row))
            assert int(results[i]["nfills"]) == len(f)
            ref_fills.extend(f)
        got_fills = [tuple(int(x[k]) for k in ("taker_id", "maker_id", "taker_owner", "maker_owner",
                                                "price", "qty", "maker_remaining", "kind",
                                                "taker_side", "op_index")) for x in fills]
        assert got_fills == ref_fills
        assert_same_book(eng, ref)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.large_base_example])
@given(seq=st.lists(op_strategy, min_size=100, max_size=300), fills_cap=st.integers(0, 12))
def test_small_fill_buffer_resumes_identically(seq, fills_cap):
    """Running in slices through a tiny buffer gives the same records as one big run."""
    ops = to_ops(seq)
    a, b = M.MatchingEngine(64), M.MatchingEngine(64)
    _, want = a.run(ops)
    got, done = [], 0
    res = np.zeros(len(ops), dtype=M.RESULT_DTYPE)
    buf = np.zeros(fills_cap, dtype=M.FILL_DTYPE)
    while done < len(ops):
        nd, nf = b.run_into(ops[done:], res[done:], buf)
        chunk = buf[:nf].copy()
        chunk["op_index"] += done
        got.extend(chunk.tolist())
        done += nd
        if nd == 0:  # buffer too small for the next op: finish it with a big buffer
            _, f = b.run(ops[done:done + 1])
            f["op_index"] += done
            got.extend(f.tolist())
            done += 1
    assert got == want.tolist()
    b.check()
