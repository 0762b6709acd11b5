"""The journal and recovery, on SQLite and PostgreSQL, against a plain-Python reference model:
watermark and callbacks, back-pressure, durability policies, writer failures and retries,
idempotent out-of-order replay (hypothesis), and a SIGKILL crash test at 25+ random moments."""

import random
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.store import JournalError, StoreConnectionError, StoreError
from bot.store.journal import Journal
from bot.store.records import BUY, FEE_SCALE, OrderEvent, encode_many
from bot.store.recovery import check, recover
from session_drill import INSTRUMENTS, START_BALANCES, prepare, session_events
from store_target import StoreTarget

ROOT = Path(__file__).resolve().parent.parent


# -- the reference model -----------------------------------------------------------------------
def reference(events):
    """Orders, positions and balances implied by a set of journal records (any order, any
    duplicates): what the store must hold after applying them."""
    uniq = {}
    for r in events:
        uniq.setdefault(r.event_id, r)
    orders: dict[str, dict] = {}
    pos: dict[str, list] = {}
    for eid in sorted(uniq):
        r = uniq[eid]
        if isinstance(r, OrderEvent):
            o = orders.get(r.client_order_id)
            orders[r.client_order_id] = {
                "instrument": r.instrument, "side": r.side, "state": r.state, "price_ticks": r.price_ticks,
                "qty_lots": r.qty_lots, "filled_lots": r.filled_lots,
                "order_id": r.order_id or (o["order_id"] if o else ""), "order_type": r.order_type,
                "updated_ns": r.ts_ns, "last_event_id": eid,
                "created_ns": o["created_ns"] if o else r.ts_ns}
        else:
            q = r.qty_lots if r.side == BUY else -r.qty_lots
            p = pos.setdefault(r.instrument, [0, 0, 0, 0])
            p[0] += q
            p[1] += q * r.price_ticks
            p[2] += r.fee_units
            p[3] = eid
            o = orders.get(r.client_order_id)
            if o is not None:
                o.update(filled_lots=r.order_filled_lots, state=r.order_state, updated_ns=r.ts_ns, last_event_id=eid)
    specs = {i.instrument: i for i in INSTRUMENTS}
    bal = dict(START_BALANCES)
    for inst, (n, c, fee, _) in pos.items():
        s = specs[inst]
        bal[s.base] = bal.get(s.base, Decimal(0)) + s.lot_size * n
        bal[s.quote] = bal.get(s.quote, Decimal(0)) - s.tick_size * s.lot_size * c - FEE_SCALE * fee
    return orders, {k: tuple(v) for k, v in pos.items()}, bal, [uniq[k] for k in sorted(uniq)]


def assert_store_matches(store, run_id, events):
    orders, positions, balances, records = reference(events)
    got_records = sorted([*store.order_events(run_id), *store.fills(run_id)], key=lambda r: r.event_id)
    assert got_records == records
    got_orders = {o.client_order_id: {k: getattr(o, k) for k in orders.get(o.client_order_id, {})}
                  for o in store.orders(run_id)}
    assert got_orders == orders
    assert {p.instrument: (p.net_lots, p.cost_tick_lots, p.fee_units, p.last_event_id)
            for p in store.positions(run_id)} == positions
    state = recover(store, run_id)
    assert state.balances == balances
    assert state.last_event_id == (records[-1].event_id if records else 0)
    assert set(state.open_orders) == {k for k, o in orders.items() if o["state"] in (1, 2, 3, 4)}
    assert check(store, run_id) == []


# -- journal behaviour ---------------------------------------------------------------------------
def test_journal_writes_everything_and_reports_watermark_after_commit(target):
    events = list(session_events(11, 3000))
    with target.open() as s, target.open() as reader:
        prepare(s, "j1")
        seen = []

        def on_durable(eid):
            # Called only after the commit: another connection already sees the record.
            assert reader.last_event_id("j1") >= eid
            seen.append(eid)

        with Journal(s, "j1", batch_size=64, on_durable=on_durable) as j:
            for r in events:
                assert j.append(r)
            assert j.flush(timeout=60)
            assert j.durable_event_id == 3000 and j.is_durable(3000)
        assert seen == sorted(seen) and seen[-1] == 3000
        st_ = j.stats()
        assert st_["written"] == st_["pushed"] == 3000 and st_["backpressure"] == 0 and st_["in_flight"] == 0
        assert_store_matches(s, "j1", events)


def test_journal_event_durability_commits_each_record(target):
    events = list(session_events(5, 120))
    with target.open() as s:
        prepare(s, "j2")
        with Journal(s, "j2", durability="event", batch_size=64) as j:
            for r in events:
                j.append(r)
            assert j.flush(timeout=60)
        assert j.stats()["batches"] == 120
        assert_store_matches(s, "j2", events)


class GatedStore:
    """A store whose journal writes wait for a gate (to fill the ring) and can fail on demand."""

    def __init__(self, inner, fail_times=0, exc=StoreConnectionError):
        self.inner = inner
        self.gate = threading.Event()
        self.fail_times = fail_times
        self.exc = exc
        self.calls = 0

    def write_journal_batch(self, run_id, batch):
        self.gate.wait()
        self.calls += 1
        if self.fail_times > 0:
            self.fail_times -= 1
            raise self.exc("injected: connection lost while writing")
        return self.inner.write_journal_batch(run_id, batch)


def test_backpressure_is_reported_never_silent(target):
    events = list(session_events(2, 200))
    with target.open() as s:
        prepare(s, "bp")
        gs = GatedStore(s)
        j = Journal(gs, "bp", max_in_flight=16, batch_size=4).start()
        accepted, refused = [], 0
        for r in events[:60]:
            if j.append(r):
                accepted.append(r)
            else:
                refused += 1
                break  # the caller must wait; the refused record is retried below
        # ring (16) + one batch (4) popped by the writer, at most
        assert 16 <= len(accepted) <= 20 and refused == 1
        assert j.stats()["backpressure"] == 1
        assert j.durable_event_id == 0
        gs.gate.set()
        for r in events[len(accepted):]:
            while not j.append(r):
                time.sleep(0.001)
        j.close()
        assert_store_matches(s, "bp", events)


def test_connection_loss_is_retried_and_applied_once(target):
    events = list(session_events(4, 300))
    with target.open() as s:
        prepare(s, "rt")
        gs = GatedStore(s, fail_times=3)
        gs.gate.set()
        with Journal(gs, "rt", batch_size=50) as j:
            for r in events:
                assert j.append(r)
            assert j.flush(timeout=60)
        assert j.stats()["retries"] == 3
        assert_store_matches(s, "rt", events)


def test_writer_failure_surfaces_to_the_engine(target):
    with target.open() as s:
        j = Journal(s, "no-such-run", batch_size=8).start()
        recs = list(session_events(1, 10))
        j.append(recs[0])
        assert not j.wait_durable(1, timeout=30)
        assert isinstance(j.error, StoreError) and "does not exist" in str(j.error)
        with pytest.raises(JournalError, match="journal writer stopped: .*no-such-run"):
            j.append(recs[1])
        with pytest.raises(JournalError, match="does not exist"):
            j.close()


def test_retry_gives_up_after_deadline(target):
    with target.open() as s:
        prepare(s, "gu")
        gs = GatedStore(s, fail_times=10**6)
        gs.gate.set()
        j = Journal(gs, "gu", retry_for_s=0.2).start()
        j.append(next(iter(session_events(1, 1))))
        assert not j.wait_durable(1, timeout=30)
        assert isinstance(j.error, StoreConnectionError)
        with pytest.raises(JournalError, match="injected"):
            j.close()


def test_journal_argument_errors(tmp_path):
    with StoreTarget.sqlite(tmp_path).open() as s:
        prepare(s, "a")
        with pytest.raises(JournalError, match="durability must be one of"):
            Journal(s, "a", durability="sometimes")
        with pytest.raises(JournalError, match="max_in_flight must be a power of two"):
            Journal(s, "a", max_in_flight=1000)
        with pytest.raises(JournalError, match="batch_size must be a positive int"):
            Journal(s, "a", batch_size=0)
        j = Journal(s, "a")
        recs = list(session_events(1, 3))
        assert j.append(recs[1])
        with pytest.raises(JournalError, match="event_id must increase: got 1 after 2"):
            j.append(recs[0])
        with pytest.raises(JournalError, match="event ids must increase"):
            j.push_batch(encode_many(recs[:2]))
        assert j.push_batch(encode_many(recs[2:])) == 1
        with j:
            assert j.flush(timeout=30)
        assert s.last_event_id("a") == 3


# -- idempotent replay, any order ------------------------------------------------------------------
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), n=st.integers(1, 400),
       cuts=st.lists(st.integers(0, 400), max_size=12),
       replays=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), max_size=6),
       shuffle=st.booleans(), staged=st.booleans())
def test_replay_in_any_batches_and_order_is_idempotent(target, seed, n, cuts, replays, shuffle, staged):
    """The journal split into arbitrary batches, with arbitrary slices replayed (before or
    after their turn, forwards or shuffled), leaves exactly the reference state."""
    events = list(session_events(seed, n))
    bounds = sorted({0, n, *[c for c in cuts if c < n]})
    batches = [events[a:b] for a, b in zip(bounds, bounds[1:])]
    batches += [events[min(a, b):max(a, b)] for a, b in replays if min(a, b) < n]
    rng = random.Random(seed)
    if shuffle:
        rng.shuffle(batches)
    with target.open() as s:
        if staged and s.backend == "postgresql":
            s.small_rows = 0  # every upsert through the COPY staging path
        run = f"h-{uuid.uuid4().hex}"  # a fresh run per example
        prepare(s, run)
        for b in batches:
            if b:
                s.write_journal_batch(run, encode_many(rng.sample(b, len(b)) if shuffle else b))
        assert_store_matches(s, run, events)


# -- SIGKILL crash test ----------------------------------------------------------------------------
KILLS = 25
SEED = 2024


def _run_drill(target, run_id, kill_after_s):
    """Start the drill, kill it with SIGKILL `kill_after_s` after it reports `start`; return
    (highest watermark it reported, whether it finished)."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("session_drill.py")), *target.cli_args(), "--run", run_id, "--seed", str(SEED),
         "--events", "200000", "--rate", "2500", "--batch-size", "16", "--replay-overlap", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    lines: list[str] = []
    started = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("start"):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not started.wait(60):
        proc.kill()
        raise AssertionError(f"drill did not start: {proc.stderr.read()}")
    time.sleep(kill_after_s)
    proc.kill()  # SIGKILL
    proc.wait()
    reader.join(10)
    durable = [int(x.split()[1]) for x in lines if x.startswith("durable ")]
    return max(durable, default=0), "done" in lines


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(target):
    events = list(session_events(SEED, 200000))
    rng = random.Random(99)
    kills = advanced = 0
    previous = 0
    while kills < KILLS:
        reported, finished = _run_drill(target, "crash", rng.uniform(0.0, 0.35))
        assert not finished
        kills += 1
        with target.open() as s:
            last = s.last_event_id("crash")
            # Everything reported durable is there; nothing beyond a contiguous prefix.
            assert last >= reported and last >= previous
            assert_store_matches(s, "crash", events[:last])
        advanced += last > previous
        previous = last
    # the kills landed while the session was journaling, not before it began
    assert advanced >= KILLS // 2, advanced


def test_journal_survives_backends_killed_while_writing(pg_dsn):
    """A killer terminates the journal's PostgreSQL backends again and again while it
    writes; the writer retries each lost batch and the result equals the reference."""
    import psycopg

    t = StoreTarget.postgres(pg_dsn)
    app = f"bot4-kill-{uuid.uuid4().hex[:8]}"
    events = list(session_events(21, 3000))
    stop = threading.Event()
    kills = []

    def killer():
        rng = random.Random(5)
        with psycopg.connect(pg_dsn, autocommit=True) as k:
            while not stop.is_set() and sum(kills) < 8:
                n = k.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE application_name = %s AND state = 'active'", (app,)).fetchone()[0]
                kills.append(n)
                time.sleep(rng.uniform(0.01, 0.08) if n else 0.001)

    try:
        with t.open(application_name=app) as s:
            prepare(s, "k1")
            kt = threading.Thread(target=killer)
            kt.start()
            try:
                with Journal(s, "k1", batch_size=64, retry_for_s=60) as j:
                    for r in events:
                        while not j.append(r):
                            time.sleep(0.001)
                    assert j.flush(timeout=120)
            finally:
                stop.set()
                kt.join()
            assert sum(kills) > 0 and j.stats()["retries"] > 0, (sum(kills), j.stats())
            assert_store_matches(s, "k1", events)
    finally:
        t.cleanup()


def test_durable_gate_tells_the_strategy_only_what_is_durable(tmp_path):
    from bot.store.journal import DurableGate

    events = list(session_events(13, 50))
    with StoreTarget.sqlite(tmp_path).open() as s:
        prepare(s, "g")
        gs = GatedStore(s)
        j = Journal(gs, "g", batch_size=8).start()
        gate = DurableGate(j)
        for r in events:
            assert j.append(r)
            gate.hold(r.event_id, r)
        assert gate.release() == [] and len(gate) == 50  # nothing committed yet
        gs.gate.set()
        told = []
        deadline = time.monotonic() + 30
        while len(told) < 50 and time.monotonic() < deadline:
            batch = gate.release()
            for r in batch:  # whatever is released is already in the store
                assert s.last_event_id("g") >= r.event_id
            told += batch
            time.sleep(0.001)
        assert told == events
        with pytest.raises(JournalError, match="event_id must increase"):
            gate.hold(3, None)
        j.close()
