"""engine.book's Binance sequencing, per market, against a plain-Python reference written
from Binance's documents, and its diff buffer (a ring) on long streams with no snapshot.

The reference (RefSeq) is a dict per side and the rules as the documents state them:
  * spot - Binance Spot API, WebSocket Streams, "How to manage a local order book
    correctly": drop a buffered event with u <= lastUpdateId; the first processed has
    U <= lastUpdateId + 1 AND u >= lastUpdateId + 1; then each U equals the previous
    u + 1, otherwise restart from a snapshot; an event with u <= the book's update id is
    ignored (the update procedure of the same section);
  * futures - Binance USDS-Margined (and COIN-Margined) Futures, WebSocket Market
    Streams, "How to manage a local order book correctly": drop an event with
    u < lastUpdateId; the first processed has U <= lastUpdateId AND u >= lastUpdateId;
    then each pu equals the previous u, otherwise restart from a snapshot.
The market of a diff: Book(sequencing="spot"|"futures"), or "auto": futures when the diff
carries pu (seq_prev != -1). Diffs received while no snapshot is usable are buffered, at
most pending_rows rows, the oldest messages dropped first.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import events as E
from engine.book import BBO_DTYPE, PENDING_DEFAULT, Book

BID, ASK, NONE = E.SIDE_BID, E.SIDE_ASK, E.SIDE_NONE
MID = 100_000
MODELLED = ("snapshots", "diffs_applied", "diffs_stale", "diffs_buffered", "diffs_buffer_dropped",
            "gaps", "resyncs", "crossed", "level_updates")


# ----------------------------------------------------------------------------- reference


class RefSeq:
    """A Binance L2 book kept by the documented rules (see the module docstring)."""

    def __init__(self, sequencing="auto", pending_rows=PENDING_DEFAULT):
        self.sides = ({}, {})
        self.sequencing = sequencing
        self.pending_rows = pending_rows
        self.state = "waiting_snapshot"
        self.needs_resync = False
        self.last = -1
        self.buffer = deque()
        self.buffer_rows = 0
        self.stats = dict.fromkeys(MODELLED, 0)

    def levels(self, side):
        return sorted(self.sides[side].items(), reverse=side == BID)

    def best(self, side):
        lv = self.sides[side]
        if not lv:
            return None
        p = max(lv) if side == BID else min(lv)
        return (p, lv[p])

    def crossed(self):
        b, a = self.best(BID), self.best(ASK)
        return b is not None and a is not None and b[0] >= a[0]

    def market(self, m):
        if self.sequencing != "auto":
            return self.sequencing
        return "futures" if m["pu"] != -1 else "spot"

    def verdict(self, m):
        """'apply', 'stale' or 'gap' for a diff reaching a book that holds a snapshot."""
        U, u, pu, last = m["U"], m["u"], m["pu"], self.last
        if self.market(m) == "futures":
            if self.state == "syncing":
                if u < last:                        # "Drop any event where u is < lastUpdateId"
                    return "stale"
                return "apply" if U <= last <= u else "gap"  # "U <= lastUpdateId AND u >= lastUpdateId"
            return "apply" if pu == last else "gap"  # "each new event's pu ... previous event's u"
        if u <= last:                               # "Drop any event where u is <= lastUpdateId"
            return "stale"
        if self.state == "syncing":
            return "apply" if U <= last + 1 <= u else "gap"  # "U <= lastUpdateId+1 AND u >= ..."
        return "apply" if U == last + 1 else "gap"  # "U should be equal to the previous u+1"

    def apply(self, m):
        for side, px, q in m["levels"]:
            if q:
                self.sides[side][px] = q
            else:
                self.sides[side].pop(px, None)
        self.stats["level_updates"] += len(m["levels"])
        self.stats["diffs_applied"] += 1
        self.state = "live"
        self.last = m["u"]
        self.stats["crossed"] += self.crossed()
        b, a = self.best(BID) or (0, 0), self.best(ASK) or (0, 0)
        return (m["u"], m["ts"], b[0], b[1], a[0], a[1])

    def gap(self):
        self.stats["gaps"] += 1
        self.needs_resync = True
        self.state = "waiting_snapshot"

    def push(self, m):
        """Buffer m; drop the oldest whole messages while the rows would exceed the cap."""
        self.stats["diffs_buffered"] += 1
        rows = max(1, len(m["levels"]))
        if rows > self.pending_rows:
            self.stats["diffs_buffer_dropped"] += 1
            return
        while self.buffer_rows + rows > self.pending_rows:
            old = self.buffer.popleft()
            self.buffer_rows -= max(1, len(old["levels"]))
            self.stats["diffs_buffer_dropped"] += 1
        self.buffer.append(m)
        self.buffer_rows += rows

    def diff(self, m):
        """An arriving diff; returns the BBO rows written (0 or 1)."""
        if self.state == "waiting_snapshot":
            self.push(m)
            return []
        v = self.verdict(m)
        if v == "stale":
            self.stats["diffs_stale"] += 1
            return []
        if v == "gap":
            self.gap()
            self.push(m)
            return []
        return [self.apply(m)]

    def snapshot(self, m):
        self.sides = ({p: q for p, q in m["bids"]}, {p: q for p, q in m["asks"]})
        self.stats["level_updates"] += len(m["bids"]) + len(m["asks"])
        self.stats["snapshots"] += 1
        self.stats["resyncs"] += self.needs_resync
        self.needs_resync = False
        self.state = "syncing"
        self.last = m["L"]
        self.stats["crossed"] += self.crossed()
        out = []
        while self.buffer:  # the buffered diffs, oldest first, until one breaks the sequence
            v = self.verdict(self.buffer[0])
            if v == "gap":
                self.gap()
                break
            msg = self.buffer.popleft()
            self.buffer_rows -= max(1, len(msg["levels"]))
            if v == "stale":
                self.stats["diffs_stale"] += 1
            else:
                out.append(self.apply(msg))
        return out

    def feed(self, m):
        return self.snapshot(m) if m["type"] == "snap" else self.diff(m)


# ----------------------------------------------------------------------------- messages


def snap(L, ts=0, bids=((MID - 10, 1),), asks=((MID + 10, 1),)):
    return {"type": "snap", "L": L, "ts": ts, "bids": list(bids), "asks": list(asks)}


def diff(U, u, pu=-1, ts=0, levels=((BID, MID - 1, 1),)):
    return {"type": "diff", "U": U, "u": u, "pu": pu, "ts": ts, "levels": list(levels)}


def events(messages):
    """Messages -> an EVENT_DTYPE array framed as the Binance parser frames them."""
    rows = []
    for m in messages:
        if m["type"] == "snap":
            lv = [(BID, p, q) for p, q in m["bids"]] + [(ASK, p, q) for p, q in m["asks"]]
            kind, U, u, pu = E.EV_SNAPSHOT, -1, m["L"], -1
        else:
            lv, kind, U, u, pu = m["levels"], E.EV_UPDATE, m["U"], m["u"], m["pu"]
        lv = lv or [(NONE, 0, 0)]
        for i, (side, px, q) in enumerate(lv):
            flags = (E.EVF_BEGIN if i == 0 else 0) | (E.EVF_END if i == len(lv) - 1 else 0)
            rows.append((-1, m["ts"], px, q, U, u, pu, kind, side, flags, 0))
    return np.array(rows, dtype=E.EVENT_DTYPE) if rows else E.empty(0)


def feed(book, messages):
    """Apply messages in one batch: (this call's counts, its BBO rows as tuples)."""
    ev = events(messages)
    out = np.zeros(len(ev) + book.pending_messages + 1, BBO_DTYPE)
    res = book.apply_batch(ev, out)
    return res, [tuple(r) for r in out[: res["bbo_written"]].tolist()]


def assert_same(book, ref):
    book.check_invariants()
    bp, bq, ap, aq = book.top(1 << 20)
    assert list(zip(bp.tolist(), bq.tolist())) == ref.levels(BID)
    assert list(zip(ap.tolist(), aq.tolist())) == ref.levels(ASK)
    assert book.state == ref.state and book.needs_resync == ref.needs_resync
    assert book.last_update_id == (None if ref.last < 0 else ref.last)
    assert book.pending_messages == len(ref.buffer)
    stats = book.stats()
    assert {k: stats[k] for k in MODELLED} == ref.stats


def run_both(messages, sequencing="auto", pending_rows=PENDING_DEFAULT):
    """Book and reference over the same messages, one message per batch, compared after
    every message. Returns (book, ref, bbo rows)."""
    book, ref = Book(window_ticks=4096, pending_rows=pending_rows, sequencing=sequencing), \
        RefSeq(sequencing, pending_rows)
    rows = []
    for m in messages:
        _, out = feed(book, [m])
        want = ref.feed(m)
        assert out == want, m
        assert_same(book, ref)
        rows += out
    return book, ref, rows


# ----------------------------------------------------------------------------- every branch


SPOT, FUT = "spot", "futures"


def d(market, U, u, pu, px=MID - 1):
    """A one-level diff; pu only on the futures stream (spot diffs never carry it)."""
    return diff(U, u, pu if market == FUT else -1, levels=[(BID, px, 1)])


@pytest.mark.parametrize("sequencing", ["auto", "explicit"])
@pytest.mark.parametrize("market", [SPOT, FUT])
def test_straddle_at_u_equal_last_update_id(market, sequencing):
    """u == lastUpdateId: the first processed event for futures, stale for spot."""
    msgs = [d(market, 91, 100, 90, px=MID - 2), snap(100), d(market, 101, 101, 100, px=MID - 3)]
    book, ref, rows = run_both(msgs, market if sequencing == "explicit" else "auto")
    st_ = book.stats()
    assert st_["gaps"] == 0 and book.state == "live"
    if market == FUT:
        assert st_["diffs_applied"] == 2 and st_["diffs_stale"] == 0
        assert book.depth_at(BID, MID - 2) == 1
    else:
        assert st_["diffs_applied"] == 1 and st_["diffs_stale"] == 1
        assert book.depth_at(BID, MID - 2) == 0
    assert [r[0] for r in rows] == ([100, 101] if market == FUT else [101])


@pytest.mark.parametrize("market", [SPOT, FUT])
def test_first_diff_starting_at_last_update_id_plus_one(market):
    """U == lastUpdateId + 1: the spot straddle; for futures the first must have
    U <= lastUpdateId, so it is a gap."""
    book, _, rows = run_both([snap(100), d(market, 101, 103, 100)])
    if market == SPOT:
        assert rows and rows[0][0] == 103 and book.stats()["gaps"] == 0
    else:
        assert not rows and book.stats()["gaps"] == 1 and book.needs_resync


@pytest.mark.parametrize("market", [SPOT, FUT])
def test_diffs_wholly_before_the_snapshot_are_stale(market):
    msgs = [d(market, 80, 85, 79), d(market, 86, 90, 85), snap(100), d(market, 95, 104, 90)]
    book, _, rows = run_both(msgs)
    assert book.stats()["diffs_stale"] == 2 and book.stats()["diffs_buffered"] == 2
    assert [r[0] for r in rows] == [104] and book.stats()["gaps"] == 0


@pytest.mark.parametrize("market", [SPOT, FUT])
def test_first_diff_after_the_straddle_point_is_a_gap(market):
    book, _, rows = run_both([snap(100), d(market, 103, 105, 101)])
    assert not rows and book.stats()["gaps"] == 1 and book.state == "waiting_snapshot"
    assert book.pending_messages == 1  # kept for the resync


@pytest.mark.parametrize("market", [SPOT, FUT])
def test_later_gap_then_resync(market):
    """A break once live (spot: U != prev u + 1; futures: pu != prev u) buffers until a
    new snapshot, which replays the buffered diffs by the first-event rule."""
    if market == SPOT:
        live, breaking, after = d(SPOT, 101, 104, -1), d(SPOT, 106, 108, -1), d(SPOT, 109, 110, -1)
        L2 = 105  # the breaking diff starts at L2 + 1
    else:
        live, breaking, after = d(FUT, 99, 104, 98), d(FUT, 107, 108, 105), d(FUT, 112, 115, 108)
        L2 = 108  # the breaking diff ends at L2
    msgs = [snap(100), live, breaking, after, snap(L2, bids=[(MID - 20, 5)])]
    book, _, rows = run_both(msgs)
    s = book.stats()
    assert s["gaps"] == 1 and s["resyncs"] == 1 and s["diffs_applied"] == 3
    assert [r[0] for r in rows] == [104, 108, 110 if market == SPOT else 115]
    assert not book.needs_resync and book.state == "live"


def test_futures_redelivery_once_live_is_a_gap_spot_ignores_it():
    """Once live a re-delivered diff breaks pu continuity (futures) but is only stale
    for spot (u <= the book's update id)."""
    book, _, _ = run_both([snap(100), d(FUT, 99, 104, 98), d(FUT, 99, 104, 98)])
    assert book.stats()["gaps"] == 1 and book.stats()["diffs_stale"] == 0
    book, _, _ = run_both([snap(100), d(SPOT, 101, 104, -1), d(SPOT, 101, 104, -1)])
    assert book.stats()["gaps"] == 0 and book.stats()["diffs_stale"] == 1


def test_spot_overlap_once_live_is_a_gap():
    """Spot, once live: U must be exactly the previous u + 1 (an overlap is a gap)."""
    book, _, rows = run_both([snap(100), d(SPOT, 101, 104, -1), d(SPOT, 103, 106, -1)])
    assert [r[0] for r in rows] == [104] and book.stats()["gaps"] == 1


def test_usdm_recording_whose_straddle_ends_at_last_update_id():
    """The reported ETHUSDT shape: the buffered diff that straddles the snapshot has
    u == lastUpdateId, and the next one's U is past lastUpdateId + 1 (futures ids are
    sparse). Binance's futures rule rebuilds it with 0 gaps."""
    msgs = [diff(10, 20, 5, ts=1, levels=[(BID, MID - 1, 3)]),
            diff(25, 30, 20, ts=2, levels=[(ASK, MID + 1, 4)]),
            snap(20, ts=3),
            diff(34, 40, 30, ts=4, levels=[(BID, MID - 1, 0)])]
    book = Book()
    res, rows = feed(book, msgs)
    assert res["gaps"] == 0 and res["diffs_applied"] == 3 and res["diffs_stale"] == 0
    assert [r[0] for r in rows] == [20, 30, 40]
    assert book.best_bid() == (MID - 10, 1) and book.best_ask() == (MID + 1, 4)


def test_sequencing_setting():
    book = Book(sequencing="futures")
    assert book.sequencing == "futures"
    book.sequencing = "spot"
    book.reset()
    assert book.sequencing == "spot"
    assert Book().sequencing == "auto"
    for bad in ("usdm", None, 1):
        with pytest.raises(ValueError, match="sequencing must be one of 'auto', 'spot', 'futures'"):
            Book(sequencing=bad)
        with pytest.raises(ValueError, match="sequencing must be one of"):
            book.sequencing = bad
    assert book.sequencing == "spot"
    # forced spot on diffs that carry pu: pu is ignored, U continuity decides
    book, _, rows = run_both([snap(100), d(FUT, 101, 103, 50), d(FUT, 110, 111, 103)], "spot")
    assert [r[0] for r in rows] == [103] and book.stats()["gaps"] == 1
    # forced futures on diffs without pu: nothing links them once live
    book, _, rows = run_both([snap(100), d(SPOT, 96, 100, -1), d(SPOT, 101, 101, -1)], "futures")
    assert [r[0] for r in rows] == [100] and book.stats()["gaps"] == 1


# ----------------------------------------------------------------------------- generated streams


level = st.tuples(st.sampled_from([BID, ASK]), st.integers(-60, 60), st.integers(0, 3))
op = st.one_of(
    st.tuples(st.just("diff"), st.lists(level, max_size=4), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("diff"), st.lists(level, max_size=4), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("diff"), st.lists(level, max_size=4), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("lost"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("overlap"), st.lists(level, max_size=4), st.integers(1, 4), st.integers(0, 3)),
    st.tuples(st.just("redeliver"), st.integers(1, 4)),
    st.tuples(st.just("snap"), st.integers(-2, 10),
              st.lists(st.integers(1, 50), max_size=5, unique=True),
              st.lists(st.integers(0, 50), max_size=5, unique=True)),
)


def stream(market, ops):
    """Exchange messages from ops: spot ids consecutive (U = prev u + 1), futures ids
    sparse (U = prev u + 1 + skip) with pu = prev u; 'lost' advances the ids without
    delivering (a gap), 'overlap' starts `back` ids before prev u + 1, 'redeliver' sends an
    earlier diff again, 'snap' a snapshot whose lastUpdateId is `back` ids before the
    newest id sent (negative: after it)."""
    msgs, sent, prev = [], [], 1000
    for ts, o in enumerate(ops):
        if o[0] in ("diff", "lost", "overlap"):
            lv, span, skip = (o[1], o[2], o[3]) if o[0] != "lost" else ([], o[1], o[2])
            U = prev + 1 + (skip if market == FUT else 0)
            u = U + span
            if o[0] == "overlap":
                U, u = max(0, prev + 1 - span), prev + 1 + skip
            m = diff(U, u, prev if market == FUT else -1, ts,
                     [(s, MID + off if s == ASK else MID - off, q) for s, off, q in lv])
            prev = u
            if o[0] != "lost":
                msgs.append(m)
                sent.append(m)
        elif o[0] == "redeliver":
            if sent:
                msgs.append(dict(sent[-min(o[1], len(sent))], ts=ts))
        else:
            _, back, bids, asks = o
            msgs.append(snap(max(0, prev - back), ts, [(MID - 60 - b, 1) for b in sorted(bids)],
                             [(MID + 61 + a, 2) for a in sorted(asks)]))
    return msgs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(market=st.sampled_from([SPOT, FUT]), sequencing=st.sampled_from(["auto", "as_market", "other"]),
       pending_rows=st.sampled_from([3, 7, PENDING_DEFAULT]), ops=st.lists(op, min_size=8, max_size=80))
def test_generated_streams_match_reference(market, sequencing, pending_rows, ops):
    """Message for message the book equals the reference: levels, state, update id,
    buffer, counters and BBO rows; then the whole stream in one batch gives the same."""
    mode = {"auto": "auto", "as_market": market, "other": SPOT if market == FUT else FUT}[sequencing]
    msgs = stream(market, ops)
    book, ref, rows = run_both(msgs, mode, pending_rows)
    whole = Book(window_ticks=4096, pending_rows=pending_rows, sequencing=mode)
    _, rows_whole = feed(whole, msgs)
    assert rows_whole == rows
    assert_same(whole, ref)


# ----------------------------------------------------------------------------- the buffer ring


def spot_stream(sizes, first_id=1):
    """One spot diff message per entry of sizes (its rows), ids first_id, first_id + 1, ...
    (U == u); levels on both sides, quantity = the row's number + 1."""
    sizes = np.asarray(sizes, np.int64)
    n = int(sizes.sum())
    msg = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    ends = starts + sizes - 1
    ev = E.empty(n)
    r = np.arange(n)
    side = (r % 2).astype(np.uint8)
    ev["ts_exch"] = -1
    ev["ts_local"] = msg
    ev["side"] = side
    ev["price"] = np.where(side == BID, MID - 1 - r % 61, MID + r % 59)
    ev["qty"] = r + 1
    ev["seq_first"] = ev["seq_last"] = msg + first_id
    ev["seq_prev"] = -1
    ev["kind"] = E.EV_UPDATE
    flags = np.zeros(n, np.uint16)
    flags[starts] |= E.EVF_BEGIN
    flags[ends] |= E.EVF_END
    ev["flags"] = flags
    return ev, starts, sizes


def test_ring_long_gapped_stream_is_linear_drops_oldest_and_drains_in_order():
    """~320,000 rows of diffs (messages of 1-3 rows) and no snapshot through the default
    2^18-row buffer. Each message costs O(1): the rows written or moved inside the buffer
    stay linear in the rows received (a buffer shifting its rows to drop the oldest would
    move ~2^18 per message). The oldest are dropped and counted; a snapshot then drains
    the kept messages in order, giving the reference's book."""
    n_msgs = 160_000
    sizes = 1 + np.arange(n_msgs) % 3
    ev, starts, sizes = spot_stream(sizes)
    assert len(ev) > 300_000
    ref = RefSeq("spot", PENDING_DEFAULT)
    col = {k: ev[k].tolist() for k in ("side", "price", "qty", "seq_first", "ts_local")}
    col["ts"] = col["ts_local"]
    msgs = []
    for s, k in zip(starts.tolist(), sizes.tolist()):
        lv = [(col["side"][i], col["price"][i], col["qty"][i]) for i in range(s, s + k)]
        msgs.append(diff(col["seq_first"][s], col["seq_first"][s], -1, col["ts"][s], lv))
    for m in msgs:
        ref.diff(m)

    book = Book()
    res = book.apply_batch(ev)
    dropped = ref.stats["diffs_buffer_dropped"]
    assert dropped > 0 and res["diffs_buffer_dropped"] == dropped
    assert res["diffs_buffered"] == n_msgs and res["diffs_applied"] == 0
    assert book.pending_messages == len(ref.buffer) and ref.buffer_rows <= PENDING_DEFAULT
    copied = res["diffs_buffer_rows_copied"]
    assert len(ev) <= copied <= len(ev) + PENDING_DEFAULT  # rows in + one move per doubling

    first = ref.buffer[0]["U"]
    s = snap(first - 1, ts=n_msgs, bids=[(MID - 5000, 7)], asks=[(MID + 5000, 9)])
    want = ref.snapshot(s)
    out = np.zeros(book.pending_messages, BBO_DTYPE)
    res = book.apply_batch(events([s]), out)
    assert res["diffs_applied"] == len(want) == n_msgs - dropped and res["gaps"] == 0
    assert out["u"].tolist() == list(range(first, n_msgs + 1))  # in order, none lost
    assert [tuple(r) for r in out.tolist()] == want
    assert res["diffs_buffer_rows_copied"] <= 3  # at most the one message that wraps
    assert_same(book, ref)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=1, max_size=120),
       pending_rows=st.integers(1, 24), cut=st.integers(0, 120))
def test_ring_small_buffers_match_reference(sizes, pending_rows, cut):
    """Messages of 1-6 rows through rings of 1-24 rows (so messages wrap round the end,
    and some are larger than the whole ring), arriving in two batches: drops, drain order
    and the book equal the reference."""
    ev, starts, sizes_ = spot_stream(sizes)
    ref = RefSeq("spot", pending_rows)
    msgs = []
    for s, k in zip(starts.tolist(), sizes_.tolist()):
        part = ev[s: s + k]
        lv = list(zip(part["side"].tolist(), part["price"].tolist(), part["qty"].tolist()))
        msgs.append(diff(int(part["seq_first"][0]), int(part["seq_last"][0]), -1,
                         int(part["ts_local"][0]), lv))
    for m in msgs:
        ref.diff(m)
    book = Book(pending_rows=pending_rows)
    k = int(starts[cut]) if cut < len(starts) else len(ev)
    for part in (ev[:k], ev[k:]):
        book.apply_batch(np.ascontiguousarray(part))
    assert book.stats()["diffs_buffer_dropped"] == ref.stats["diffs_buffer_dropped"]
    L = ref.buffer[0]["U"] - 1 if ref.buffer else 0
    s = snap(L, ts=len(sizes))
    want = ref.snapshot(s)
    res, rows = feed(book, [s])
    assert rows == want
    assert res["diffs_buffer_rows_copied"] <= max(sizes)
    assert_same(book, ref)


# ----------------------------------------------------------------------------- recorded data


@pytest.mark.parametrize("name,market", [("spot", SPOT), ("usdm", FUT)])
def test_recorded_data_same_with_explicit_market(request, name, market):
    """The recordings replay with 0 gaps under "auto" and under their market named
    explicitly, with identical results (every diff of the usdm file carries pu)."""
    ev, _ = request.getfixturevalue(f"{name}_events")
    diffs = (ev["kind"] == E.EV_UPDATE) & ((ev["flags"] & E.EVF_BEGIN) != 0)
    assert ((ev["seq_prev"][diffs] != -1).all() if market == FUT
            else (ev["seq_prev"][diffs] == -1).all())
    results = []
    for mode in ("auto", market):
        book = Book(sequencing=mode)
        out = np.zeros(int(diffs.sum()), BBO_DTYPE)
        res = book.apply_batch(ev, out)
        assert res["gaps"] == 0 and res["crossed"] == 0 and res["snapshots"] == 1
        results.append((res, out[: res["bbo_written"]].tobytes(), book.top(50)[0].tolist()))
    assert results[0] == results[1]
