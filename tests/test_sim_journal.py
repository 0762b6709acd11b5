"""A session journaled to the store (the driver with a bot.store.session.SessionStore), on
SQLite and PostgreSQL: every fill the OMS booked is stored exactly once, orders' filled
quantities equal their fills, positions and balances recovered from the store equal the
OMS's exactly, `check` is clean, the strategy is never told of a record before it is in
the database, the same seed gives the same journal, resume after a partial journal (and
after SIGKILL) checks the recovered state against the replayed OMS and completes the run."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.store.session import SessionJournalError, SessionStore, fee_for_store, instrument_record
from bot.strategy import MicropriceMM
from bot.strategy.driver import Driver
from bot.venues.base import Report
from bot.venues.sim import SimVenue, VenueConfig
from bot.store.records import BUY, FEE_SCALE, SIDE_BY_NAME, STATE_BY_NAME, Balance, FillRecord, Run
from bot.store.recovery import check, recover

ROOT = Path(__file__).resolve().parent.parent
N_EVENTS = 30_000
INTERVAL_NS = 250_000_000
CONFIG = {"seed": 3, "events": N_EVENTS, "regime": "sideways"}


@pytest.fixture(scope="module")
def market():
    from bot.data.synthetic import synthetic_market

    return synthetic_market(N_EVENTS, seed=3, regime="sideways")


def run(market, store=None, run_id="r1", on_told=None, **kw):
    ev, inst = market
    session = None if store is None else SessionStore(store, run_id, config=dict(CONFIG), **kw)
    return run_market_maker(ev, inst, session, on_told)


def run_market_maker(ev, inst, session=None, on_told=None):
    return Driver(SimVenue(ev, inst, VenueConfig(seed=3)), MicropriceMM(), interval_ns=INTERVAL_NS,
                  session=session, on_told=on_told).run()


def comparable(res):
    s = res.summary()
    s.pop("replay_seconds")
    s.pop("store", None)
    return s


class ToldLog:
    """Records every notification with the watermark at that moment, and asks the database
    (its own connection) whether the record is there yet."""

    def __init__(self, reader, run_id):
        self.reader, self.run_id = reader, run_id
        self.told: list[tuple[int, int]] = []
        self.not_in_db: list[int] = []

    def __call__(self, rec, mark):
        self.told.append((rec.event_id, mark))
        table = "fills" if type(rec) is FillRecord else "order_events"
        if not self.reader.query(f"SELECT 1 FROM {table} WHERE run_id = ? AND event_id = ?",
                                 (self.run_id, rec.event_id)):
            self.not_in_db.append(rec.event_id)


def assert_store_equals_oms(store, run_id, res):
    oms, inst = res.oms, res.instrument
    fills = store.fills(run_id)
    # every fill the OMS booked is stored exactly once (venue fills carry the charged fee)
    want = Counter((f.client_id, SIDE_BY_NAME[f.side], f.price, f.qty, f.ts,
                    int(Fraction(f.fee) / Fraction(FEE_SCALE))) for f in res.fills)
    have = Counter((f.client_order_id, f.side, f.price_ticks, f.qty_lots, f.ts_ns, f.fee_units) for f in fills)
    assert have == want and len(fills) == len(res.fills) > 0
    assert len({f.event_id for f in fills}) == len(fills)
    # orders: filled quantity equals the sum of their fills, and equals the OMS's order
    by_order = Counter()
    for f in fills:
        by_order[f.client_order_id] += f.qty_lots
    orders = {o.client_order_id: o for o in store.orders(run_id)}
    assert set(orders) == set(oms.orders)
    for cid, o in orders.items():
        om = oms.orders[cid]
        assert o.filled_lots == by_order[cid] == om.filled
        assert (o.state, o.qty_lots, o.price_ticks, o.side) == (
            STATE_BY_NAME[om.state.value], om.qty, om.price, SIDE_BY_NAME[om.side])
    # positions and balances, exact
    p = oms.portfolio
    (pos,) = store.positions(run_id)
    assert pos.net_lots == res.position_lots == p.position(inst.symbol).qty
    assert pos.cost_tick_lots == sum((f.qty_lots if f.side == BUY else -f.qty_lots) * f.price_ticks for f in fills)
    assert Fraction(pos.cost_tick_lots) == -(p.cash + p.fees_paid)
    assert FEE_SCALE * pos.fee_units == res.fees_quote
    rec = recover(store, run_id)
    spec = instrument_record(inst)
    assert rec.balances[spec.base] == inst.lot_size * res.position_lots
    assert Fraction(rec.balances[spec.quote]) == p.cash * Fraction(inst.tick_size * inst.lot_size)
    assert rec.fill_count == len(res.fills)
    assert check(store, run_id) == []


def journal_contents(store, run_id):
    return store.order_events(run_id), store.fills(run_id)


def test_journaled_session(target, market):
    plain = run(market)
    st = target.open()
    reader = target.open()
    try:
        told = ToldLog(reader, "r1")
        res = run(market, st, "r1", on_told=told)
        info = res.store
        assert info["recovered_equals_oms"] and info["check_ok"], info
        assert info["backpressure_waits"] == 0 and info["records"] == info["durable_event_id"]
        assert_store_equals_oms(st, "r1", res)
        # the strategy was told every record, in order, never before it was durable
        ids = [e for e, _ in told.told]
        assert ids == list(range(1, info["records"] + 1))
        assert all(e <= mark for e, mark in told.told)
        assert told.not_in_db == []
        # journaling changes nothing the strategy does (view "wait")
        assert comparable(res) == comparable(plain)
        # the same seed gives the same journal
        res2 = run(market, st, "r2")
        assert res2.store["check_ok"] and res2.store["recovered_equals_oms"]
        assert journal_contents(st, "r1") == journal_contents(st, "r2")
        assert {r.run_id for r in st.runs() if r.ended_ns is not None} == {"r1", "r2"}
    finally:
        reader.close()
        st.close()


def test_lag_view_tells_only_durable_records(target, market):
    st = target.open()
    reader = target.open()
    try:
        told = ToldLog(reader, "lag")
        res = run(market, st, "lag", view="lag", on_told=told)
        assert res.store["recovered_equals_oms"] and res.store["check_ok"], res.store
        assert_store_equals_oms(st, "lag", res)
        assert [e for e, _ in told.told] == list(range(1, res.store["records"] + 1))
        assert all(e <= mark for e, mark in told.told)
        assert told.not_in_db == []
    finally:
        reader.close()
        st.close()


def _copy_prefix(store, src_run, dst_run, k, drop_event=None):
    """A run whose journal is the first k records of src_run: what a crash leaves behind."""
    src = next(r for r in store.runs() if r.run_id == src_run)
    assert store.begin_run(Run(dst_run, src.started_ns, "sim", src.config_json))
    for b in store.balances(src_run):
        store.put_balance(Balance(dst_run, b.asset, b.amount, b.ts_ns))
    events, fills = journal_contents(store, src_run)
    recs = sorted([r for r in events + fills if r.event_id <= k and r.event_id != drop_event],
                  key=lambda r: r.event_id)
    store.write_journal(dst_run, recs)
    return recs


def test_resume_from_a_partial_journal(target, market):
    st = target.open()
    try:
        full = run(market, st, "full")
        n = full.store["records"]
        rng = random.Random(5)
        for i, k in enumerate([rng.randrange(1, n), n]):
            _copy_prefix(st, "full", f"crash{i}", k)
            res = run(market, st, f"crash{i}", resume=True)
            assert res.store["resumed_from_event"] == k
            assert res.store["recovered_equals_oms"] and res.store["check_ok"], res.store
            assert journal_contents(st, f"crash{i}") == journal_contents(st, "full")
            assert_store_equals_oms(st, f"crash{i}", res)
        # a journal that lost a fill does not match the replayed OMS: resume refuses
        fill_id = next(f.event_id for f in st.fills("full") if f.event_id < n // 2)
        _copy_prefix(st, "full", "lossy", n // 2, drop_event=fill_id)
        with pytest.raises(SessionJournalError, match="differs from the OMS"):
            run(market, st, "lossy", resume=True)
        # a different configuration is not the same session
        with pytest.raises(SessionJournalError, match="configuration differs in seed"):
            ev, inst = market
            run_market_maker(ev, inst, SessionStore(st, "crash0", resume=True, config={**CONFIG, "seed": 4}))
        with pytest.raises(SessionJournalError, match="already exists"):
            run(market, st, "full")
    finally:
        st.close()


def test_cli_store_then_check_then_resume(tmp_path):
    from bot.cli import main

    dsn = f"sqlite:///{tmp_path / 'sim.db'}"
    args = ["sim", "--events", "8000", "--seed", "5", "--store", dsn, "--json"]
    res = CliRunner().invoke(main, [*args, "--run-id", "cli1", "--durability", "event"])
    assert res.exit_code == 0, res.output
    assert res.stderr.startswith("run cli1 (store ")
    out = json.loads(res.stdout)
    assert out["store"]["durability"] == "event" and out["store"]["batches"] == out["store"]["records"]
    assert out["store"]["run_id"] == "cli1" and out["store"]["check_ok"] and out["store"]["recovered_equals_oms"]
    assert out["store"]["fills"] == out["fills"] > 0
    chk = CliRunner().invoke(main, ["store", "check", "--store", dsn])
    assert chk.exit_code == 0 and "no violations" in chk.output, chk.output
    again = CliRunner().invoke(main, [*args, "--resume", "cli1"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["store"]["resumed_from_event"] == out["store"]["records"]
    for bad, msg in ((["sim", "--durability", "event"], "needs --store"),
                     ([*args, "--resume", "cli1", "--strategy-view", "lag"], "reproducible only"),
                     ([*args, "--resume", "nope"], "run_id 'nope' does not exist"),
                     (["sim", "--events", "8000", "--seed", "6", "--store", dsn, "--resume", "cli1"],
                      "--seed 6 contradicts the run's stored seed 5")):
        r = CliRunner().invoke(main, bad)
        assert r.exit_code != 0 and msg in r.output, (bad, r.output)


def test_sigkill_then_resume(tmp_path):
    """A `bot4 sim --store` process killed with SIGKILL mid-session; `--resume` replays it,
    finds the recovered state equal to the OMS's where the journal stopped, and completes it
    to the same journal an uninterrupted run makes."""
    dsn = f"sqlite:///{tmp_path / 'kill.db'}"
    common = ["-m", "bot.cli", "sim", "--events", "80000", "--seed", "9", "--store", dsn, "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, *common, "--run-id", "k"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    from bot.store import open_store

    db = tmp_path / "kill.db"
    deadline = time.monotonic() + 60
    killed = False
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if db.exists():
            try:
                with open_store(dsn) as s:
                    if any(r.run_id == "k" for r in s.runs()) and s.last_event_id("k") > 200:
                        time.sleep(random.Random(1).uniform(0.0, 0.3))
                        proc.send_signal(signal.SIGKILL)
                        killed = True
                        break
            except Exception:  # noqa: BLE001 - the schema may be mid-migration
                continue
    proc.wait(30)
    assert killed, "the session ended before it could be killed"
    with open_store(dsn) as s:
        stored = s.last_event_id("k")
        assert s.runs()[0].ended_ns is None  # it never finished
    resumed = subprocess.run([sys.executable, *common, "--resume", "k"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads(resumed.stdout)["store"]
    assert info["resumed_from_event"] == stored and info["recovered_equals_oms"] and info["check_ok"]
    whole = subprocess.run([sys.executable, *common, "--run-id", "w"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert whole.returncode == 0, whole.stderr
    with open_store(dsn) as s:
        assert journal_contents(s, "k") == journal_contents(s, "w")
        assert check(s) == []


def test_fee_rounding_and_instrument_specs():
    r = Report("fill", "b1", 1, 1, "buy", 100, 3, 0, "maker", Decimal("0.0000000101"))
    assert fee_for_store(r).fee == Decimal("0.000000011")
    r2 = Report("fill", "b1", 1, 1, "buy", 100, 3, 0, "maker", Decimal("-0.0000000101"))
    assert fee_for_store(r2).fee == Decimal("-0.000000010")
    exact = Report("fill", "b1", 1, 1, "buy", 100, 3, 0, "maker", Decimal("0.03"))
    assert fee_for_store(exact) is exact
    from bot.model import Instrument

    spec = instrument_record(Instrument("binance", "BTCUSDT", Decimal("0.01"), Decimal("0.00001")))
    assert (spec.instrument, spec.base, spec.quote) == ("binance:BTCUSDT", "BTC", "USDT")
    assert instrument_record(Instrument("s", "SYNTH-USD", Decimal("0.01"), Decimal("1"))).base == "SYNTH"
    with pytest.raises(SessionJournalError, match="base and quote"):
        instrument_record(Instrument("s", "WEIRD", Decimal("0.01"), Decimal("1")))
    with pytest.raises(SessionJournalError, match="view"):
        SessionStore(None, "x", view="later")
