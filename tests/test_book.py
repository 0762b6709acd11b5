"""engine.book against a plain-Python reference book and Binance's sequencing rules, and
against the recorded Binance feed (0 gaps, 0 crossed, best bid/ask == every bookTicker that
shares an applied diff's update id).

The reference (RefBook) is a dict per side plus sorting, with the sequencing procedure
written out directly from ../shared/data/README.md, including the buffer of diffs that
arrive before the snapshot.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine import events as E
from engine.book import BBO_DTYPE, PRICE_MAX, STATS_FIELDS, Book, top_many

BID, ASK, NONE = E.SIDE_BID, E.SIDE_ASK, E.SIDE_NONE


# ----------------------------------------------------------------------------- reference


class RefBook:
    """Plain-Python L2 book + Binance sequencing (the model engine.book must match)."""

    def __init__(self, pending_rows: int = 1 << 18):
        self.sides = [{}, {}]
        self.state = "waiting_snapshot"
        self.needs_resync = False
        self.last = -1
        self.pending: list[list[tuple]] = []  # buffered diff messages (rows)
        self.pending_rows = pending_rows
        self.stats = dict.fromkeys(STATS_FIELDS, 0)

    # levels
    def update(self, side, price, qty):
        if qty:
            self.sides[side][price] = qty
        else:
            self.sides[side].pop(price, None)

    def levels(self, side):
        return sorted(self.sides[side].items(), reverse=(side == BID))

    def best(self, side):
        d = self.sides[side]
        if not d:
            return None
        p = max(d) if side == BID else min(d)
        return (p, d[p])

    def crossed(self):
        b, a = self.best(BID), self.best(ASK)
        return b is not None and a is not None and b[0] >= a[0]

    def fill(self, side, qty):
        left, notional, levels = qty, 0, 0
        for p, q in self.levels(side):
            if left <= 0:
                break
            take = min(q, left)
            notional += p * take
            left -= take
            levels += 1
        return qty - left, notional, levels

    # sequencing; a message is a list of event rows as tuples (see rows_of)
    def snapshot(self, rows, L):
        self.sides = [{}, {}]
        for (side, px, q) in rows:
            self.update(side, px, q)
        self.stats["level_updates"] += len(rows)
        self.stats["snapshots"] += 1
        if self.needs_resync:
            self.stats["resyncs"] += 1
        self.needs_resync = False
        self.state = "syncing"
        self.last = L
        if self.crossed():
            self.stats["crossed"] += 1
        out = []
        buffered, self.pending = self.pending, []
        for msg in buffered:
            out += self.diff(msg, arriving=False)
        return out

    def _buffer(self, msg, arriving):
        self.stats["diffs_buffered"] += arriving
        nrows = max(1, len(msg["levels"]))
        if nrows > self.pending_rows:
            self.stats["diffs_buffer_dropped"] += 1
            return
        while sum(max(1, len(m["levels"])) for m in self.pending) + nrows > self.pending_rows:
            self.pending.pop(0)
            self.stats["diffs_buffer_dropped"] += 1
        self.pending.append(msg)

    def diff(self, msg, arriving=True):
        U, u, pu = msg["U"], msg["u"], msg["pu"]
        if u == -1:  # unsequenced (Tardis): applied on top of any snapshot
            if self.state == "waiting_snapshot":
                self.stats["diffs_no_snapshot"] += 1
                return []
            ok = True
        elif self.state == "waiting_snapshot":
            self._buffer(msg, arriving)
            return []
        else:
            # Binance's rules: futures (the diff carries pu) and spot; see engine.book
            if pu != -1:
                live = self.state == "live"
                stale = not live and u < self.last
                ok = pu == self.last if live else U <= self.last <= u
            else:
                stale = u <= self.last
                ok = U == self.last + 1 if self.state == "live" else U <= self.last + 1 <= u
            if stale:
                self.stats["diffs_stale"] += 1
                return []
        if not ok:
            self.stats["gaps"] += 1
            self.needs_resync = True
            self.state = "waiting_snapshot"
            self.pending = []
            self._buffer(msg, arriving)
            return []
        for (side, px, q) in msg["levels"]:
            self.update(side, px, q)
        self.stats["level_updates"] += len(msg["levels"])
        self.stats["diffs_applied"] += 1
        self.state = "live"
        if u != -1:
            self.last = u
        if self.crossed():
            self.stats["crossed"] += 1
        self.stats["bbo_written"] += 1
        b, a = self.best(BID) or (0, 0), self.best(ASK) or (0, 0)
        return [(u, msg["ts"], b[0], b[1], a[0], a[1])]


def seq_stats(stats):
    """The counters the reference models (all but the buffer's internal row copies)."""
    return {k: v for k, v in stats.items() if k != "diffs_buffer_rows_copied"}


def rows_of(messages) -> np.ndarray:
    """Messages (dicts) -> an EVENT_DTYPE array framed as the parser frames them."""
    rows = []
    for m in messages:
        t = m["type"]
        if t == "snap":
            lv = [(BID, p, q) for p, q in m["bids"]] + [(ASK, p, q) for p, q in m["asks"]]
            kind, U, u, pu = E.EV_SNAPSHOT, -1, m["L"], -1
        elif t == "diff":
            lv, kind, U, u, pu = m["levels"], E.EV_UPDATE, m["U"], m["u"], m["pu"]
        elif t == "trade":
            lv, kind, U, u, pu = [(m["side"], m["px"], m["qty"])], E.EV_TRADE, -1, m["id"], -1
        else:  # quote
            lv = [(BID, m["bid"], 1), (ASK, m["ask"], 1)]
            kind, U, u, pu = E.EV_QUOTE, -1, m["u"], -1
        if not lv:
            lv = [(NONE, 0, 0)]
        for i, (side, px, q) in enumerate(lv):
            flags = (E.EVF_BEGIN if i == 0 else 0) | (E.EVF_END if i == len(lv) - 1 else 0)
            rows.append((-1, m["ts"], px, q, U, u, pu, kind, side, flags, 0))
    return np.array(rows, dtype=E.EVENT_DTYPE) if rows else E.empty(0)


def ref_apply(ref: RefBook, messages):
    out = []
    for m in messages:
        if m["type"] == "snap":
            rows = [(BID, p, q) for p, q in m["bids"]] + [(ASK, p, q) for p, q in m["asks"]]
            out += ref.snapshot(rows, m["L"])
        elif m["type"] == "diff":
            out += ref.diff(m)
        else:
            ref.stats["rows_skipped"] += 1 if m["type"] == "trade" else 2
    return out


def book_state(book: Book):
    """Everything observable, to compare before/after a rejected call."""
    top = book.top(1 << 30)
    return (tuple(tuple(a.tolist()) for a in top), book.stats(), book.last_update_id,
            book.needs_resync, book.state, book.pending_messages)


def assert_same(book: Book, ref: RefBook):
    book.check_invariants()
    for side in (BID, ASK):
        lv = ref.levels(side)
        assert book.level_count(side) == len(lv)
        top = book.top(len(lv) + 3)
        px, q = (top[0], top[1]) if side == BID else (top[2], top[3])
        assert px.tolist() == [p for p, _ in lv]
        assert q.tolist() == [x for _, x in lv]
    assert book.best_bid() == ref.best(BID)
    assert book.best_ask() == ref.best(ASK)
    assert book.is_crossed() == ref.crossed()


# ----------------------------------------------------------------------------- strategies

MID = 5_000_000
offsets = st.one_of(
    st.integers(-40, 40),                       # at the touch
    st.integers(-6000, 6000),                   # inside/around a 4096 window
    st.integers(-3_000_000, 3_000_000),         # millions of ticks away
)
qtys = st.one_of(st.just(0), st.integers(1, 10**9))


sides = st.sampled_from([BID, ASK])


def level():
    """(side, price, qty) near the touch, around a 4096-tick window, or millions away;
    bids at or below MID, asks above it."""
    return st.tuples(sides, offsets, qtys).map(
        lambda t: (t[0], max(1, MID + (-abs(t[1]) if t[0] == BID else abs(t[1])) + (0 if t[0] == BID else 1)), t[2]))


@st.composite
def snapshot_levels(draw, max_levels=60):
    """Sorted, unique, non-crossed levels: bids strictly descending, asks strictly ascending."""
    centre = MID + draw(st.integers(-100_000, 100_000))
    nb = draw(st.integers(0, max_levels))
    na = draw(st.integers(0, max_levels))
    bgaps = draw(st.lists(st.one_of(st.integers(1, 5), st.integers(1, 50_000)), min_size=nb, max_size=nb))
    agaps = draw(st.lists(st.one_of(st.integers(1, 5), st.integers(1, 50_000)), min_size=na, max_size=na))
    bids, p = [], centre
    for g in bgaps:
        p -= g
        if p <= 0:
            break
        bids.append((p, draw(st.integers(1, 10**9))))
    asks, p = [], centre
    for g in agaps:
        p += g
        asks.append((p, draw(st.integers(1, 10**9))))
    return bids, asks


# ----------------------------------------------------------------------------- levels


class BookMachine(RuleBasedStateMachine):
    """Random snapshots/updates/deletes (near, inside a small window, millions of ticks
    away) with every query compared against RefBook after each step."""

    def __init__(self):
        super().__init__()
        self.book = Book(window_ticks=4096)
        self.ref = RefBook()

    @rule(snap=snapshot_levels(), L=st.integers(0, 10**12))
    def snapshot(self, snap, L):
        bids, asks = snap
        self.book.apply_snapshot([p for p, _ in bids], [q for _, q in bids],
                                 [p for p, _ in asks], [q for _, q in asks], L)
        self.ref.snapshot([(BID, p, q) for p, q in bids] + [(ASK, p, q) for p, q in asks], L)

    @rule(lv=level())
    def update(self, lv):
        self.book.update(*lv)
        self.ref.update(*lv)

    @rule(lvs=st.lists(level(), min_size=1, max_size=200))
    def many_updates(self, lvs):
        for lv in lvs:
            self.book.update(*lv)
            self.ref.update(*lv)

    @rule(side=st.sampled_from([BID, ASK]), off=st.integers(1_000_000, 4_000_000))
    def delete_far_absent(self, side, off):
        px = MID - off if side == BID else MID + off
        before = book_state(self.book)[0]
        self.book.update(side, px, 0)
        self.ref.update(side, px, 0)
        if px not in self.ref.sides[side]:
            assert book_state(self.book)[0] == before

    @precondition(lambda self: self.ref.sides[BID] or self.ref.sides[ASK])
    @rule(side=st.sampled_from([BID, ASK]), data=st.data())
    def delete_existing(self, side, data):
        if not self.ref.sides[side]:
            return
        px = data.draw(st.sampled_from(sorted(self.ref.sides[side])))
        self.book.update(side, px, 0)
        self.ref.update(side, px, 0)

    @precondition(lambda self: self.ref.sides[BID] or self.ref.sides[ASK])
    @rule(side=st.sampled_from([BID, ASK]))
    def delete_best(self, side):
        b = self.ref.best(side)
        if b:
            self.book.update(side, b[0], 0)
            self.ref.update(side, b[0], 0)

    @precondition(lambda self: self.ref.sides[ASK])
    @rule(q=st.integers(1, 100), extra=st.integers(0, 3))
    def cross(self, q, extra):
        """A bid at or through the best ask: the book is crossed until it is removed."""
        px = self.ref.best(ASK)[0] + extra
        self.book.update(BID, px, q)
        self.ref.update(BID, px, q)
        assert self.book.is_crossed()

    @rule(n=st.integers(0, 80))
    def top(self, n):
        bpx, bq, apx, aq = self.book.top(n)
        rb, ra = self.ref.levels(BID)[:n], self.ref.levels(ASK)[:n]
        assert list(zip(bpx.tolist(), bq.tolist(), strict=True)) == rb
        assert list(zip(apx.tolist(), aq.tolist(), strict=True)) == ra
        assert bpx.dtype == np.int64 and aq.dtype == np.int64

    @rule(side=st.sampled_from([BID, ASK]), qty=st.one_of(st.integers(0, 10**9), st.integers(0, 10**12)))
    def fill(self, side, qty):
        fc = self.book.fill_cost(side, qty)
        filled, notional, levels = self.ref.fill(side, qty)
        assert (fc.filled, fc.notional, fc.levels) == (filled, notional, levels)
        assert fc.complete == (filled == qty)
        if filled:
            assert fc.vwap == pytest.approx(notional / filled, rel=1e-12)
        else:
            assert fc.vwap is None

    @rule(lv=level())
    def depth(self, lv):
        side, px, _ = lv
        assert self.book.depth_at(side, px) == self.ref.sides[side].get(px, 0)

    @invariant()
    def structure_invariants_hold(self):
        self.book.check_invariants()

    @invariant()
    def same_top_of_book(self):
        assert self.book.best_bid() == self.ref.best(BID)
        assert self.book.best_ask() == self.ref.best(ASK)
        assert self.book.is_crossed() == self.ref.crossed()
        assert self.book.level_count(BID) == len(self.ref.sides[BID])
        assert self.book.level_count(ASK) == len(self.ref.sides[ASK])
        b, a = self.ref.best(BID), self.ref.best(ASK)
        if b and a:
            assert self.book.spread() == a[0] - b[0]
            assert self.book.mid_x2() == a[0] + b[0]
            assert self.book.mid() == (a[0] + b[0]) / 2
        else:
            assert self.book.spread() is None and self.book.mid() is None


BookMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=50, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
TestBookMachine = BookMachine.TestCase


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window=st.sampled_from([4096, 1 << 16]),
       ops=st.lists(level(), min_size=1, max_size=3000),
       drift=st.integers(-200_000, 200_000))
def test_long_update_sequences_match_reference(window, ops, drift):
    """Thousands of updates with a drifting touch (re-centring both ways), full-book check."""
    book, ref = Book(window_ticks=window), RefBook()
    for i, (side, px, q) in enumerate(ops):
        px = max(1, px + drift * i // len(ops))
        book.update(side, px, q)
        ref.update(side, px, q)
        if i % 500 == 0:
            assert_same(book, ref)
    assert_same(book, ref)


def test_recentre_up_down_and_far_levels():
    book, ref = Book(window_ticks=4096), RefBook()
    rng = np.random.default_rng(7)
    touch = 10_000_000
    for step in range(20_000):
        touch += int(rng.integers(-40, 41))
        side = int(rng.integers(0, 2))
        r = rng.random()
        d = int(rng.integers(0, 30)) if r < 0.7 else int(rng.integers(0, 20_000)) if r < 0.95 else int(rng.integers(10**6, 5 * 10**6))
        px = touch - d if side == BID else touch + 1 + d
        q = 0 if rng.random() < 0.35 else int(rng.integers(1, 1000))
        book.update(side, max(1, px), q)
        ref.update(side, max(1, px), q)
        if step % 2000 == 0:
            assert_same(book, ref)
    assert_same(book, ref)
    # empty one side entirely from the touch down: the window must follow into the overflow
    for p, _ in ref.levels(BID):
        book.update(BID, p, 0)
        ref.update(BID, p, 0)
        assert book.best_bid() == ref.best(BID)
    assert book.level_count(BID) == 0 and book.best_bid() is None


def test_extreme_prices():
    book = Book()
    book.update(BID, 1, 5)
    book.update(ASK, PRICE_MAX, 7)
    book.update(BID, PRICE_MAX - 10, 1)
    assert book.best_bid() == (PRICE_MAX - 10, 1) and book.best_ask() == (PRICE_MAX, 7)
    assert book.top(5)[0].tolist() == [PRICE_MAX - 10, 1]
    fc = book.fill_cost(ASK, 7)
    assert fc.notional == PRICE_MAX * 7 and fc.complete  # > 2^63: exact Python int
    book.update(BID, PRICE_MAX - 10, 0)
    assert book.best_bid() == (1, 5)


# ----------------------------------------------------------------------------- batch calls


def as_columns(ops):
    """(sides, prices, qtys) int64 arrays of a list of (side, price, qty)."""
    a = np.array(ops, dtype=np.int64).reshape(-1, 3)
    return a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window=st.sampled_from([4096, 1 << 16]),
       ops=st.lists(level(), min_size=0, max_size=3000),
       cuts=st.lists(st.integers(0, 3000), max_size=5))
def test_update_levels_matches_update(window, ops, cuts):
    """update_levels over the ops, cut into a few calls anywhere, leaves the same book (and
    the same level_updates count) as one update() per op."""
    one, many = Book(window_ticks=window), Book(window_ticks=window)
    for side, px, q in ops:
        one.update(side, px, q)
    bounds = [0, *sorted(c % (len(ops) + 1) for c in cuts), len(ops)]
    for lo, hi in zip(bounds, bounds[1:]):
        many.update_levels(*as_columns(ops[lo:hi]))
    many.check_invariants()
    assert book_state(many) == book_state(one)


def test_update_levels_accepts_sequences_and_integer_arrays():
    ops = [(BID, 100, 5), (ASK, 103, 2), (BID, 99, 1), (BID, 100, 0), (ASK, 101, 7)]
    want = Book()
    for op in ops:
        want.update(*op)
    sides, prices, qtys = as_columns(ops)
    forms = [
        ([o[0] for o in ops], [o[1] for o in ops], [o[2] for o in ops]),       # lists
        (sides.astype(np.uint8), prices.astype(np.int32), qtys.astype(np.uint64)),
        (np.repeat(sides, 2)[::2], np.repeat(prices, 2)[::2], np.repeat(qtys, 2)[::2]),
        (sides.astype(">i8"), prices, qtys),                                    # byte-swapped
    ]
    for form in forms:
        book = Book()
        book.update_levels(*form)
        assert book_state(book) == book_state(want)
    before = book_state(want)
    want.update_levels([], [], [])
    want.update_levels(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
    assert book_state(want) == before


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 50])
def test_top_into_matches_top(n):
    book = good_book()
    book.update_levels([BID, BID, ASK], [97, 90, 110], [1, 8, 3])
    out = np.full((4, n), -7, dtype=np.int64)
    nb, na = book.top_into(out)
    bp, bq, ap, aq = book.top(n)
    assert (nb, na) == (len(bp), len(ap))
    for row, want in zip(out, (bp, bq, ap, aq)):
        assert row[:len(want)].tolist() == want.tolist()
        assert (row[len(want):] == 0).all()  # past a side's last level: price 0, qty 0


def test_top_many_matches_top_into():
    rng = np.random.default_rng(3)
    books = [Book(), good_book()]
    for _ in range(4):
        b = Book()
        n = int(rng.integers(1, 40))
        b.update_levels(rng.integers(0, 2, n), rng.integers(1, 1000, n) + 10_000 * rng.integers(0, 2, n),
                        rng.integers(0, 50, n))
        books.append(b)
    books.append(books[1])  # the same book twice is fine
    for n in (0, 1, 10):
        out = np.full((len(books), 4, n), -1, dtype=np.int64)
        top_many(books, out)
        for i, b in enumerate(books):
            one = np.full((4, n), -1, dtype=np.int64)
            b.top_into(one)
            assert np.array_equal(out[i], one)
    top_many([], np.empty((0, 4, 10), np.int64))
    top_many(iter(books[:2]), np.empty((2, 4, 3), np.int64))  # any iterable of books


BATCH_OPS = [(BID, 98, 4), (ASK, 104, 1), (BID, 97, 0)]


def with_bad(field, index, value, dtype=np.int64):
    """The columns of BATCH_OPS with columns[field][index] = value (as dtype)."""
    cols = list(as_columns(BATCH_OPS))
    cols[field] = cols[field].astype(dtype)
    cols[field][index] = value
    return cols


@pytest.mark.parametrize("cols,exc,msg", [
    (with_bad(0, 1, 2), ValueError, r"sides\[1\] = 2: side must be 0 \(bid\) or 1 \(ask\)"),
    (with_bad(0, 2, -1), ValueError, r"sides\[2\] = -1"),
    (with_bad(1, 0, 0), ValueError, r"prices\[0\] = 0: price must be in 1\.\."),
    (with_bad(1, 2, PRICE_MAX + 1), ValueError, rf"prices\[2\] = {PRICE_MAX + 1}"),
    (with_bad(2, 1, -3), ValueError, r"qtys\[1\] = -3: qty must be >= 0 lots"),
    (with_bad(1, 1, 2**63, np.uint64), ValueError, r"prices\[1\] = 9223372036854775808 does not fit int64"),
    (with_bad(1, 1, 100.5, np.float64), TypeError, "prices must be integers.*float64"),
    (with_bad(2, 0, 1, bool), TypeError, "qtys must be integers.*bool"),
    ((["0", "1"], [1, 2], [1, 1]), TypeError, "sides must be integers"),
    (([0, 1], [100, 101], [1]), ValueError, "same length, got 2, 2 and 1"),
    ((np.zeros((2, 2), np.int64), [1, 2], [1, 1]), ValueError, r"sides must be 1-D, got shape \(2, 2\)"),
])
def test_update_levels_bad_input_raises_and_changes_nothing(cols, exc, msg):
    book = good_book()
    before = book_state(book)
    with pytest.raises(exc, match=msg):
        book.update_levels(*cols)
    assert book_state(book) == before


@pytest.mark.parametrize("out,exc,msg", [
    ([[0] * 3] * 4, TypeError, "out must be a numpy int64 array of shape \\(4, n\\), got list"),
    (np.zeros((4, 3), np.int32), TypeError, "out must be int64, got int32"),
    (np.zeros((3, 3), np.int64), ValueError, r"out must have shape \(4, n\), got \(3, 3\)"),
    (np.zeros((2, 4, 3), np.int64), ValueError, r"out must have shape \(4, n\), got \(2, 4, 3\)"),
    (np.zeros((4, 6), np.int64)[:, ::2], ValueError, "C-contiguous"),
    (np.zeros((4, 3), np.int64).T.copy().T, ValueError, "C-contiguous"),
    (np.zeros((4, 3), ">i8"), TypeError, "out must be int64, got >i8"),
])
def test_top_into_bad_out_raises_and_writes_nothing(out, exc, msg):
    book = good_book()
    before = book_state(book)
    snapshot = np.array(out, copy=True)
    with pytest.raises(exc, match=msg):
        book.top_into(out)
    assert book_state(book) == before
    assert np.array_equal(np.asarray(out), snapshot)


def test_top_into_read_only_out():
    out = np.zeros((4, 3), np.int64)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        good_book().top_into(out)
    assert not out.any()


@pytest.mark.parametrize("books,out,exc,msg", [
    (lambda b: [b, "book"], np.zeros((2, 4, 3), np.int64), TypeError, r"books\[1\] must be a Book, got str"),
    (lambda b: [b, None], np.zeros((2, 4, 3), np.int64), TypeError, r"books\[1\] must be a Book, got NoneType"),
    (lambda b: [b, b], np.zeros((3, 4, 3), np.int64), ValueError, r"out must have shape \(2, 4, n\), got \(3, 4, 3\)"),
    (lambda b: [b], np.zeros((4, 3), np.int64), ValueError, r"out must have shape \(1, 4, n\), got \(4, 3\)"),
    (lambda b: [b], np.zeros((1, 4, 3), np.float64), TypeError, "out must be int64"),
    (lambda b: [b], np.zeros((1, 4, 6), np.int64)[:, :, ::2], ValueError, "C-contiguous"),
    (lambda b: 5, np.zeros((1, 4, 3), np.int64), TypeError, "not iterable"),
])
def test_top_many_bad_input_raises_and_writes_nothing(books, out, exc, msg):
    book = good_book()
    before = book_state(book)
    snapshot = out.copy()
    with pytest.raises(exc, match=msg):
        top_many(books(book), out)
    assert book_state(book) == before
    assert np.array_equal(out, snapshot)


# ----------------------------------------------------------------------------- sequencing


def snap(L, ts, bids=((100, 1),), asks=((101, 1),)):
    return {"type": "snap", "L": L, "ts": ts, "bids": list(bids), "asks": list(asks)}


def diff(U, u, ts, levels=(), pu=-1):
    return {"type": "diff", "U": U, "u": u, "pu": pu, "ts": ts, "levels": list(levels)}


def run(messages, book=None, **kw):
    book = book or Book(**kw)
    ev = rows_of(messages)
    out = np.zeros(len(ev) + 8, BBO_DTYPE)
    res = book.apply_batch(ev, out)
    return book, res, out[: res["bbo_written"]]


def test_stale_dropped_and_straddle_applied():
    msgs = [snap(100, 1), diff(90, 95, 2, [(BID, 99, 3)]), diff(96, 100, 3, [(BID, 98, 3)]),
            diff(99, 105, 4, [(BID, 100, 7)]), diff(106, 106, 5, [(ASK, 101, 0)])]
    book, res, out = run(msgs)
    assert res["diffs_stale"] == 2 and res["diffs_applied"] == 2 and res["gaps"] == 0
    assert book.depth_at(BID, 99) == 0 and book.depth_at(BID, 98) == 0
    assert book.best_bid() == (100, 7) and book.best_ask() is None
    assert out["u"].tolist() == [105, 106]
    assert out[1].tolist() == (106, 5, 100, 7, 0, 0)
    assert book.last_update_id == 106 and book.state == "live"


def test_first_diff_must_straddle():
    book, res, _ = run([snap(100, 1), diff(102, 110, 2, [(BID, 99, 3)])])
    assert res["gaps"] == 1 and res["diffs_applied"] == 0
    assert book.needs_resync and book.depth_at(BID, 99) == 0 and book.state == "waiting_snapshot"


def test_spot_continuity_and_gap_blocks_until_snapshot():
    msgs = [snap(100, 1), diff(101, 103, 2, [(BID, 99, 1)]), diff(104, 104, 3, [(BID, 98, 1)]),
            diff(106, 107, 4, [(BID, 97, 1)]),            # gap: 105 missing
            diff(108, 109, 5, [(BID, 96, 1)])]            # buffered, not applied
    book, res, _ = run(msgs)
    assert res["gaps"] == 1 and res["diffs_applied"] == 2 and book.needs_resync
    assert book.depth_at(BID, 97) == 0 and book.depth_at(BID, 96) == 0
    assert book.pending_messages == 2
    # the resync snapshot: buffered diffs with u <= L are stale, the straddling one applies
    book, res, out = run([snap(107, 6, bids=((90, 5),)), diff(110, 112, 7, [(BID, 95, 2)])], book)
    assert res["resyncs"] == 1 and res["diffs_stale"] == 1 and res["diffs_applied"] == 2
    assert not book.needs_resync and book.state == "live"
    assert out["u"].tolist() == [109, 112]
    assert sorted(book.top(10)[0].tolist(), reverse=True) == [96, 95, 90]


def test_futures_continuity_uses_pu():
    msgs = [snap(100, 1), diff(95, 103, 2, [(ASK, 102, 1)], pu=94),
            diff(110, 120, 3, [(ASK, 103, 1)], pu=103),    # U jumps: fine for futures
            diff(125, 130, 4, [(ASK, 104, 1)], pu=121)]    # pu != 120: gap
    book, res, _ = run(msgs)
    assert res["diffs_applied"] == 2 and res["gaps"] == 1
    assert book.depth_at(ASK, 103) == 1 and book.depth_at(ASK, 104) == 0


def test_diffs_before_snapshot_are_buffered_then_applied():
    # receive order as recorded: the straddling diff arrives before the REST snapshot
    msgs = [diff(90, 99, 1, [(BID, 90, 1)]), diff(100, 104, 2, [(BID, 91, 1)]),
            snap(101, 3), diff(105, 106, 4, [(BID, 92, 1)])]
    book, res, out = run(msgs)
    assert res["diffs_buffered"] == 2 and res["diffs_stale"] == 1 and res["gaps"] == 0
    assert res["diffs_applied"] == 2 and out["u"].tolist() == [104, 106]
    assert book.depth_at(BID, 90) == 0 and book.depth_at(BID, 91) == 1 and book.depth_at(BID, 92) == 1


def test_unsequenced_feed():
    """Tardis-style messages carry no ids: applied on top of any snapshot, never gaps."""
    msgs = [diff(-1, -1, 1, [(BID, 90, 1)]), snap(-1, 2, bids=((95, 1),)),
            diff(-1, -1, 3, [(BID, 96, 2)]), diff(-1, -1, 4, [(ASK, 101, 0)])]
    book, res, out = run(msgs)
    assert res["diffs_no_snapshot"] == 1 and res["diffs_applied"] == 2 and res["gaps"] == 0
    assert book.best_bid() == (96, 2) and book.best_ask() is None and book.last_update_id is None
    assert out["u"].tolist() == [-1, -1]


def test_tardis_fixture(shared_data):
    from bot.data.tardis import load_events

    ev, _ = load_events([shared_data / "tardis" / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"])
    book = Book()
    res = book.apply_batch(ev)
    assert res["snapshots"] >= 1 and res["gaps"] == 0
    levels = ev[ev["kind"] == E.EV_SNAPSHOT]
    for side in (BID, ASK):
        rows = levels[levels["side"] == side]
        assert book.level_count(side) == len(rows)
        for r in rows:
            assert book.depth_at(side, int(r["price"])) == int(r["qty"])


def test_no_snapshot_nothing_applied():
    book, res, out = run([diff(1, 2, 1, [(BID, 5, 1)]), diff(3, 4, 2, [])])
    assert res["diffs_applied"] == 0 and res["diffs_buffered"] == 2 and len(out) == 0
    assert book.level_count(BID) == 0 and book.state == "waiting_snapshot"


def test_pending_buffer_drops_oldest():
    msgs = [diff(i, i, i, [(BID, 100 + i, 1)] * 1) for i in range(1, 11)] + [snap(7, 20)]
    book, res, out = run(msgs, pending_rows=4)
    assert res["diffs_buffer_dropped"] == 6 and res["diffs_stale"] == 1
    assert out["u"].tolist() == [8, 9, 10]


def test_empty_diff_advances_sequence():
    book, res, out = run([snap(10, 1), diff(11, 12, 2, []), diff(13, 13, 3, [(ASK, 105, 1)])])
    assert res["diffs_applied"] == 2 and res["gaps"] == 0 and res["level_updates"] == 3
    assert out[0].tolist() == (12, 2, 100, 1, 101, 1)


def test_trades_quotes_skipped_and_crossed_counted():
    msgs = [snap(10, 1), {"type": "trade", "ts": 2, "side": BID, "px": 100, "qty": 1, "id": 5},
            {"type": "quote", "ts": 3, "u": 11, "bid": 100, "ask": 101},
            diff(11, 11, 4, [(BID, 101, 2)]), diff(12, 12, 5, [(BID, 101, 0)])]
    book, res, _ = run(msgs)
    assert res["rows_skipped"] == 3 and res["crossed"] == 1 and not book.is_crossed()


def test_bbo_out_too_small_raises_without_change():
    book = Book()
    ev = rows_of([snap(10, 1), diff(11, 11, 2, [(BID, 99, 1)]), diff(12, 12, 3, [(BID, 98, 1)])])
    before = book_state(book)
    with pytest.raises(ValueError, match="bbo_out has 1 rows"):
        book.apply_batch(ev, np.zeros(1, BBO_DTYPE))
    assert book_state(book) == before
    assert book.apply_batch(ev)["diffs_applied"] == 2  # no output array: fine


def rand_level(rnd):
    """The distribution of level() from a seeded random.Random (hypothesis draws are slow
    for streams of hundreds of messages)."""
    side = rnd.choice((BID, ASK))
    r = rnd.random()
    off = rnd.randint(0, 40) if r < 0.5 else rnd.randint(0, 6000) if r < 0.85 else rnd.randint(0, 3_000_000)
    q = 0 if rnd.random() < 0.3 else rnd.randint(1, 10**9)
    return (side, MID - off if side == BID else MID + 1 + off, q)


def rand_snapshot(rnd, max_levels=12):
    centre = MID + rnd.randint(-100_000, 100_000)
    bids, asks, p = [], [], centre
    for _ in range(rnd.randint(0, max_levels)):
        p -= rnd.randint(1, 5) if rnd.random() < 0.7 else rnd.randint(1, 50_000)
        bids.append((p, rnd.randint(1, 10**9)))
    p = centre
    for _ in range(rnd.randint(0, max_levels)):
        p += rnd.randint(1, 5) if rnd.random() < 0.7 else rnd.randint(1, 50_000)
        asks.append((p, rnd.randint(1, 10**9)))
    return bids, asks


def message_stream(rnd, n_messages):
    """Snapshots (sequenced, or unsequenced 1 in 10), in-order / gapped / stale /
    overlapping / empty / unsequenced diffs, trades and quotes; spot or futures ids."""
    futures = rnd.random() < 0.5
    msgs, sent, ts = [], 1000, 0
    kinds = ["next"] * 8 + ["gap", "stale", "snap", "trade", "quote", "empty", "overlap", "unseq"]
    for _ in range(n_messages):
        ts += rnd.randint(0, 3)
        what = rnd.choice(kinds)
        if what == "unseq":  # a message of an unsequenced feed (Tardis)
            msgs.append(diff(-1, -1, ts, [rand_level(rnd) for _ in range(rnd.randint(0, 6))]))
            continue
        if what == "snap":
            bids, asks = rand_snapshot(rnd)
            L = -1 if rnd.random() < 0.1 else sent + rnd.randint(-6, 3)
            msgs.append({"type": "snap", "L": L, "ts": ts, "bids": bids, "asks": asks})
            continue
        if what == "trade":
            msgs.append({"type": "trade", "ts": ts, "side": BID, "px": MID, "qty": 1, "id": ts})
            continue
        if what == "quote":
            msgs.append({"type": "quote", "ts": ts, "u": sent, "bid": MID, "ask": MID + 1})
            continue
        n = rnd.randint(1, 5)
        if what == "stale":
            U, u = max(0, sent - rnd.randint(5, 20)), sent - rnd.randint(0, 4)
            pu = U - 1
        else:
            U = sent + 1 + (rnd.randint(1, 3) if what == "gap" else 0)
            if what == "overlap":
                U = sent - rnd.randint(0, 3)
            u = max(U, sent + n)
            pu = sent if what != "gap" else sent + 1
        lv = [] if what == "empty" else [rand_level(rnd) for _ in range(rnd.randint(1, 12))]
        msgs.append(diff(max(0, U), u, ts, lv, pu=pu if futures else -1))
        sent = max(sent, u)
    return msgs


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_messages=st.integers(1, 400),
       split=st.integers(0, 400), pending=st.sampled_from([1 << 18, 8]))
def test_batch_sequencing_matches_reference(seed, n_messages, split, pending):
    """Random streams of snapshots, in-order/gapped/stale/overlapping diffs, trades and
    quotes, applied in two batches cut at a message boundary: same counts, BBO rows, book.
    The stream comes from a seeded random.Random (a failure reports the seed)."""
    msgs = message_stream(random.Random(seed), n_messages)
    ref = RefBook(pending_rows=pending)
    ref_out = ref_apply(ref, msgs)
    book = Book(window_ticks=4096, pending_rows=pending)
    k = min(split, len(msgs))
    outs, total, n_rows = [], dict.fromkeys(STATS_FIELDS, 0), 0
    for part in (msgs[:k], msgs[k:]):
        ev = rows_of(part)
        n_rows += len(ev)
        out = np.zeros(len(ev) + book.pending_messages + 1, BBO_DTYPE)
        res = book.apply_batch(ev, out)
        outs += [tuple(r) for r in out[: res["bbo_written"]].tolist()]
        for f in STATS_FIELDS:
            total[f] += res[f]
    ref.stats["rows"] = n_rows
    assert seq_stats(total) == seq_stats(ref.stats)
    assert seq_stats(book.stats()) == seq_stats(ref.stats)
    assert outs == ref_out
    assert book.needs_resync == ref.needs_resync and book.state == ref.state
    assert book.last_update_id == (None if ref.last < 0 else ref.last)
    assert_same(book, ref)


# ----------------------------------------------------------------------------- bad input


def good_book():
    book = Book()
    run([snap(100, 1, bids=((99, 2), (98, 3)), asks=((101, 4),)), diff(101, 101, 2, [(ASK, 102, 1)])], book)
    return book


def bad_batch(mutate):
    ev = rows_of([snap(200, 5, bids=((99, 2), (97, 1)), asks=((101, 4), (103, 2))),
                  diff(201, 202, 6, [(BID, 98, 1), (ASK, 102, 2)]),
                  {"type": "trade", "ts": 7, "side": BID, "px": 100, "qty": 1, "id": 5}])
    mutate(ev)
    return ev


def setf(row, field, value):
    def mutate(ev):
        ev[field][row] = value
    return mutate


BAD_BATCHES = [
    ("kind", setf(5, "kind", 9), r"events\[5\]\.kind = 9"),
    ("kind0", setf(6, "kind", 0), r"events\[6\]\.kind = 0"),
    ("side", setf(4, "side", 3), r"events\[4\]\.side = 3"),
    ("price0", setf(4, "price", 0), r"events\[4\]\.price = 0"),
    ("price_neg", setf(1, "price", -5), r"events\[1\]\.price = -5"),
    ("price_big", setf(5, "price", PRICE_MAX + 1), r"events\[5\]\.price"),
    ("qty", setf(5, "qty", -1), r"events\[5\]\.qty = -1"),
    ("unsorted_ts", setf(6, "ts_local", 0), r"events\[6\]\.ts_local = 0.*unsorted"),
    ("no_begin", setf(4, "flags", 0), r"events\[4\]\.flags = 0.*no EVF_BEGIN"),
    ("unterminated", setf(5, "flags", 0), r"events\[4\]\.flags = 1.*not closed"),
    ("nested", setf(5, "flags", 3), r"events\[5\]\.flags = 3.*still open"),
    ("seq_mismatch", setf(5, "seq_last", 999), r"events\[5\]\.seq_last = 999"),
    ("seq_range", lambda ev: ev[4:6].__setitem__("seq_first", 300), r"events\[4\]\.seq_first = 300"),
    ("seq_first_without_last", lambda ev: ev[4:6].__setitem__("seq_last", -1), r"events\[4\]\.seq_first = 201"),
    ("seq_last_range", lambda ev: ev[0:4].__setitem__("seq_last", -2), r"events\[0\]\.seq_last = -2"),
    ("snap_unsorted", setf(1, "price", 99), r"events\[1\]\.price = 99.*strictly"),
    ("snap_unsorted_ask", setf(3, "price", 100), r"events\[3\]\.price = 100.*strictly"),
    ("snap_crossed", setf(2, "price", 99), r"events\[2\]\.price = 99.*crossed"),
    ("snap_qty0", setf(0, "qty", 0), r"events\[0\]\.qty = 0"),
    ("side_none", setf(4, "side", NONE), r"events\[4\]\.side = 2"),
]


@pytest.mark.parametrize("name,mutate,msg", BAD_BATCHES, ids=[b[0] for b in BAD_BATCHES])
def test_bad_batch_raises_and_changes_nothing(name, mutate, msg):
    book = good_book()
    before = book_state(book)
    with pytest.raises(ValueError, match=msg):
        book.apply_batch(bad_batch(mutate), np.zeros(10, BBO_DTYPE))
    assert book_state(book) == before
    # the unmutated batch is accepted
    assert book.apply_batch(bad_batch(lambda ev: None))["snapshots"] == 1


def test_bad_batch_types():
    book = good_book()
    before = book_state(book)
    ev = bad_batch(lambda ev: None)
    other = np.zeros(3, dtype=[("price", "<i8")])
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        book.apply_batch(other)
    renamed = ev.view(np.dtype({"names": ["ts_exch", "ts_local", "px", "qty", "seq_first", "seq_last",
                                          "seq_prev", "kind", "side", "flags", "reserved"],
                                "formats": [E.EVENT_DTYPE[i] for i in range(11)],
                                "offsets": [E.EVENT_DTYPE.fields[n][1] for n in E.EVENT_DTYPE.names],
                                "itemsize": 64}))
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        book.apply_batch(renamed)
    with pytest.raises(TypeError, match="numpy array"):
        book.apply_batch(ev.tolist())
    wide = np.zeros(len(ev) * 2, E.EVENT_DTYPE)
    wide[::2] = ev
    with pytest.raises(ValueError, match="C-contiguous"):
        book.apply_batch(wide[::2])
    with pytest.raises(ValueError, match="1-D"):
        book.apply_batch(ev.reshape(1, -1))
    with pytest.raises(TypeError, match="BBO_DTYPE"):
        book.apply_batch(ev, np.zeros(10, np.int64))
    with pytest.raises(ValueError, match="C-contiguous"):
        book.apply_batch(ev, np.zeros(20, BBO_DTYPE)[::2])
    assert book_state(book) == before


BAD_SNAPSHOTS = [
    (dict(bid_prices=[99, 99]), ValueError, r"bid_prices\[1\] = 99.*strictly descend"),
    (dict(bid_prices=[98, 99]), ValueError, r"bid_prices\[1\] = 99"),
    (dict(ask_prices=[105, 101]), ValueError, r"ask_prices\[1\] = 101.*strictly ascend"),
    (dict(bid_prices=[0, -1]), ValueError, r"bid_prices\[0\] = 0"),
    (dict(ask_qtys=[1, -3]), ValueError, r"ask_qtys\[1\] = -3"),
    (dict(bid_qtys=[0, 1]), ValueError, r"bid_qtys\[0\] = 0"),
    (dict(bid_qtys=[1.0, float("nan")]), ValueError, r"bid_qtys\[1\] is NaN"),
    (dict(ask_prices=[101.0, 102.5]), TypeError, r"ask_prices must be int64"),
    (dict(bid_qtys=[1]), ValueError, r"bid_prices has 2 entries but bid_qtys has 1"),
    (dict(ask_prices=[98, 105]), ValueError, r"crossed: best bid 99 >= best ask 98"),
    (dict(bid_prices=np.array([[99, 98]])), ValueError, r"bid_prices must be 1-D"),
    (dict(bid_prices=np.array([99, 0, 98, 0])[::2]), ValueError, r"bid_prices must be C-contiguous"),
    (dict(bid_prices=["a", "b"]), TypeError, r"bid_prices must be int64"),
    (dict(last_update_id=-1), ValueError, r"last_update_id must be"),
    (dict(last_update_id="5"), ValueError, r"last_update_id must be"),
    (dict(last_update_id=float("nan")), ValueError, r"last_update_id must be"),
]


@pytest.mark.parametrize("kw,exc,msg", BAD_SNAPSHOTS)
def test_bad_snapshot_raises_and_changes_nothing(kw, exc, msg):
    book = good_book()
    before = book_state(book)
    args = dict(bid_prices=[99, 98], bid_qtys=[1, 2], ask_prices=[101, 105], ask_qtys=[1, 2],
                last_update_id=5)
    args.update(kw)
    with pytest.raises(exc, match=msg):
        book.apply_snapshot(**args)
    assert book_state(book) == before


@pytest.mark.parametrize("call,exc,msg", [
    (lambda b: b.update(2, 100, 1), ValueError, "side must be 0"),
    (lambda b: b.update(-1, 100, 1), ValueError, "side must be 0"),
    (lambda b: b.update(0, 0, 1), ValueError, "price must be in 1.."),
    (lambda b: b.update(0, PRICE_MAX + 1, 1), ValueError, "price must be in 1.."),
    (lambda b: b.update(0, 100, -1), ValueError, "qty must be >= 0 lots, got -1"),
    (lambda b: b.update(0, 100.5, 1), TypeError, "price must be an integer, got float 100.5"),
    (lambda b: b.update(0, float("nan"), 1), TypeError, "price must be an integer, got float nan"),
    (lambda b: b.update(0, 100, float("nan")), TypeError, "qty must be an integer, got float nan"),
    (lambda b: b.update(0.0, 100, 1), TypeError, "side must be an integer"),
    (lambda b: b.update(0, "100", 1), TypeError, "price must be an integer, got str"),
    (lambda b: b.update(0, 2**70, 1), ValueError, r"price must be in \[-9223372036854775808, 9223372036854775807\], got 1180591620717411303424"),
    (lambda b: b.update(0, 100, True), TypeError, "qty must be an integer, got bool"),
    (lambda b: b.depth_at(0, 1.5), TypeError, "price must be an integer"),
    (lambda b: b.fill_cost(1, float("nan")), TypeError, "qty must be an integer"),
    (lambda b: b.top(2.0), TypeError, "n must be an integer"),
    (lambda b: b.depth_at(5, 100), ValueError, "side must be 0"),
    (lambda b: b.depth_at(0, -1), ValueError, "price must be in 1.."),
    (lambda b: b.fill_cost(0, -5), ValueError, "qty must be >= 0 lots, got -5"),
    (lambda b: b.fill_cost(2, 5), ValueError, "side must be 0"),
    (lambda b: b.top(-1), ValueError, "n must be >= 0"),
    (lambda b: b.level_count(7), ValueError, "side must be 0"),
])
def test_bad_arguments_raise_and_change_nothing(call, exc, msg):
    book = good_book()
    before = book_state(book)
    with pytest.raises(exc, match=msg):
        call(book)
    assert book_state(book) == before


def test_constructor_checks():
    with pytest.raises(ValueError, match="window_ticks must be a power of two"):
        Book(window_ticks=5000)
    with pytest.raises(ValueError, match="window_ticks must be a power of two"):
        Book(window_ticks=1024)
    with pytest.raises(ValueError, match="pending_rows must be >= 1"):
        Book(pending_rows=0)


def test_reset():
    book = good_book()
    book.reset()
    assert book.level_count(BID) == 0 and book.best_ask() is None and book.last_update_id is None
    assert book.state == "waiting_snapshot" and all(v == 0 for v in book.stats().values())


# ----------------------------------------------------------------------------- recorded data


def bbo_check(ev, bbo):
    """(checked, mismatched): bookTickers whose u equals an applied diff's u."""
    starts = np.flatnonzero((ev["kind"] == E.EV_QUOTE) & ((ev["flags"] & E.EVF_BEGIN) != 0))
    qb, qa = ev[starts], ev[starts + 1]
    assert (qb["side"] == BID).all() and (qa["side"] == ASK).all()
    assert (qb["seq_last"] == qa["seq_last"]).all()
    pos = np.minimum(np.searchsorted(bbo["u"], qb["seq_last"]), len(bbo) - 1)
    hit = bbo["u"][pos] == qb["seq_last"]
    m, qb, qa = bbo[pos[hit]], qb[hit], qa[hit]
    bad = ((m["bid_price"] != qb["price"]) | (m["bid_qty"] != qb["qty"])
           | (m["ask_price"] != qa["price"]) | (m["ask_qty"] != qa["qty"]))
    return int(hit.sum()), int(bad.sum())


@pytest.fixture(scope="module", params=["spot", "usdm"])
def recorded(request):
    """(name, events) parsed once per session by tests/conftest.py (receive order)."""
    ev, _ = request.getfixturevalue(f"{request.param}_events")
    return request.param, ev


def test_recorded_replay(recorded):
    """Receive order, one batch: 0 gaps, 0 crossed, every matching bookTicker equal."""
    name, ev = recorded
    book = Book()
    bbo = np.zeros(int(((ev["kind"] == E.EV_UPDATE) & ((ev["flags"] & E.EVF_BEGIN) != 0)).sum()), BBO_DTYPE)
    res = book.apply_batch(ev, bbo)
    assert res["gaps"] == 0 and res["crossed"] == 0 and res["snapshots"] == 1
    assert not book.needs_resync and book.state == "live"
    assert res["diffs_applied"] > 6000 and res["level_updates"] > 290_000
    assert np.all(np.diff(bbo["u"][: res["bbo_written"]]) > 0)
    checked, mismatched = bbo_check(ev, bbo[: res["bbo_written"]])
    assert checked > 500 and mismatched == 0


def test_recorded_matches_reference_book_and_chunks(recorded):
    """The final book equals the reference built from the same rows, and replaying in
    chunks cut at message boundaries gives the same book and BBO rows as one batch."""
    name, ev = recorded
    whole = Book()
    out1 = np.zeros(len(ev), BBO_DTYPE)
    r1 = whole.apply_batch(ev, out1)
    ref = RefBook()
    starts = np.flatnonzero(ev["flags"] & E.EVF_BEGIN)
    ends = np.append(starts[1:], len(ev))
    kinds, side, price, qty = ev["kind"], ev["side"], ev["price"], ev["qty"]
    U, u, pu = ev["seq_first"], ev["seq_last"], ev["seq_prev"]
    ref_out = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        k = kinds[s]
        lv = [(int(side[i]), int(price[i]), int(qty[i])) for i in range(s, e) if side[i] != NONE]
        if k == E.EV_SNAPSHOT:
            ref_out += ref.snapshot(lv, int(u[s]))
        elif k == E.EV_UPDATE:
            ref_out += ref.diff({"U": int(U[s]), "u": int(u[s]), "pu": int(pu[s]),
                                 "ts": int(ev["ts_local"][s]), "levels": lv})
    assert_same(whole, ref)
    assert [tuple(r) for r in out1[: r1["bbo_written"]].tolist()] == ref_out
    chunked = Book(window_ticks=4096)  # small window: re-centring on real data too
    cuts = starts[:: max(1, len(starts) // 37)][1:]
    outs = []
    for part in np.split(ev, cuts):
        o = np.zeros(len(part) + chunked.pending_messages + 1, BBO_DTYPE)
        r = chunked.apply_batch(np.ascontiguousarray(part), o)
        outs.append(o[: r["bbo_written"]])
    assert np.array_equal(np.concatenate(outs), out1[: r1["bbo_written"]])
    assert_same(chunked, ref)
    assert chunked.stats() == whole.stats()


def test_concurrent_use_raises_instead_of_racing(usdm_events):
    """apply_batch releases the GIL; another thread touching the same Book meanwhile
    gets RuntimeError, and the replay result is unaffected."""
    import threading

    ev, _ = usdm_events
    book = Book()
    seen = {"busy": 0, "ok": 0}
    stop = threading.Event()

    def poke():
        while not stop.is_set():
            try:
                book.update(BID, 1, 1)
                book.update(BID, 1, 0)
                seen["ok"] += 1
            except RuntimeError as e:
                assert "not thread-safe" in str(e)
                seen["busy"] += 1

    t = threading.Thread(target=poke)
    t.start()
    try:
        results = [book.apply_batch(ev) for _ in range(3) if book.reset() is None]
    finally:
        stop.set()
        t.join()
    assert all(r["gaps"] == 0 and r["crossed"] == 0 for r in results)
    assert seen["busy"] > 0  # the other thread did run during the GIL-free apply
