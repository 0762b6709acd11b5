"""Store backends (SQLite file, PostgreSQL schema): round trips of every table, migrations,
input validation, corrupt files, lost connections and secrets. Every test runs on both."""

import os
import sqlite3
import threading
from decimal import Decimal

import numpy as np
import psycopg
import pytest

from bot.store import (
    SchemaError, StoreConfigError, StoreConnectionError, StoreCorruptError, StoreError, open_store,
)
from bot.store.dsn import parse_dsn, read_password
from bot.store.records import (
    BAR_DTYPE, BUY, SELL, TRADE_DTYPE, AdaptiveParam, AuditEntry, Balance, FillRecord, InstrumentRecord,
    ModelRecord, OrderEvent, StateCode, PerfFeedback, QEntry, Run, decode, encode, encode_many,
)
from bot.store.recovery import check
from store_target import StoreTarget

LATEST = 3


@pytest.fixture
def store(target):
    s = target.open()
    yield s
    s.close()


INST = InstrumentRecord("binance:BTCUSDT", "binance", "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"),
                        Decimal("5"))


def _journal(run="r1"):
    return [
        OrderEvent(1, "c1", INST.instrument, BUY, StateCode.PENDING_NEW, 6_000_000, 300, 0, 10),
        OrderEvent(2, "c1", INST.instrument, BUY, StateCode.OPEN, 6_000_000, 300, 0, 11, "v1", 2),
        FillRecord(3, "c1", INST.instrument, BUY, 5_999_990, 100, 100, StateCode.PARTIALLY_FILLED, 12, "t1", "v1", 1500, 1),
        OrderEvent(4, "c2", INST.instrument, SELL, StateCode.PENDING_NEW, 6_100_000, 50, 0, 13),
        FillRecord(5, "c1", INST.instrument, BUY, 6_000_000, 200, 300, StateCode.FILLED, 14, "t2", "v1", 2500, 2),
        FillRecord(6, "c2", INST.instrument, SELL, 6_100_000, 20, 20, StateCode.PARTIALLY_FILLED, 15, "t3", "", 7, 1),
        OrderEvent(7, "c2", INST.instrument, SELL, StateCode.CANCELED, 6_100_000, 50, 20, 16, "v2"),
    ]


# -- round trips -----------------------------------------------------------------------------
def test_run_and_instrument_round_trip(store):
    assert store.schema_version() == LATEST
    run = Run("r1", 123, "sim", '{"a": 1}')
    assert store.begin_run(run) is True
    assert store.begin_run(Run("r1", 999, "live")) is False  # existing run unchanged
    store.end_run("r1", 456)
    assert store.runs() == [Run("r1", 123, "sim", '{"a": 1}', 456)]
    with pytest.raises(StoreError, match="run_id 'nope' does not exist"):
        store.end_run("nope", 1)
    store.put_instrument(INST)
    got = store.instruments()
    assert got == {INST.instrument: INST}
    assert isinstance(got[INST.instrument].tick_size, Decimal)


def test_journal_round_trip_orders_fills_positions(store):
    store.begin_run(Run("r1", 1, "sim"))
    recs = _journal()
    assert store.write_journal("r1", recs) == len(recs)
    assert store.order_events("r1") == [r for r in recs if isinstance(r, OrderEvent)]
    assert store.fills("r1") == [r for r in recs if isinstance(r, FillRecord)]
    orders = {o.client_order_id: o for o in store.orders("r1")}
    c1, c2 = orders["c1"], orders["c2"]
    assert (c1.state, c1.filled_lots, c1.order_id, c1.order_type, c1.created_ns, c1.updated_ns, c1.last_event_id) == (
        StateCode.FILLED, 300, "v1", 2, 10, 14, 5)
    assert (c2.state, c2.filled_lots, c2.order_id, c2.last_event_id) == (StateCode.CANCELED, 20, "v2", 7)
    [p] = store.positions("r1")
    assert (p.net_lots, p.cost_tick_lots, p.fee_units, p.last_event_id) == (
        300 - 20, 5_999_990 * 100 + 6_000_000 * 200 - 6_100_000 * 20, 1500 + 2500 + 7, 6)
    assert store.last_event_id("r1") == 7
    assert check(store, "r1") == []
    # replaying everything, in other batch splits, changes nothing
    before = (store.order_events("r1"), store.fills("r1"), store.orders("r1"), store.positions("r1"))
    assert store.write_journal("r1", recs[2:5]) == 0
    assert store.write_journal("r1", recs) == 0
    assert (store.order_events("r1"), store.fills("r1"), store.orders("r1"), store.positions("r1")) == before


def test_journal_batch_is_atomic_and_validated(store):
    with pytest.raises(StoreError, match="run_id 'ghost' does not exist"):
        store.write_journal("ghost", _journal())
    store.begin_run(Run("r1", 1, "sim"))
    arr = encode_many(_journal())
    arr["kind"][4] = 9
    with pytest.raises(StoreError, match="kind must be 1 or 2, got 9"):
        store.write_journal_batch("r1", arr)
    assert store.fills("r1") == [] and store.order_events("r1") == []
    with pytest.raises(StoreError, match="JOURNAL_DTYPE"):
        store.write_journal_batch("r1", np.zeros(3, dtype=np.int64))


def test_encode_decode_and_field_errors():
    from bot.store.records import _encode_checked
    from session_drill import session_events

    for r in [*_journal(), *session_events(6, 500)]:
        assert encode(r) == _encode_checked(r)  # the fast path packs exactly what the checked one does
        assert decode(np.frombuffer(encode(r), dtype=encode_many([r]).dtype)[0]) == r
    with pytest.raises(StoreError, match="instrument must be at most 32 bytes without NUL"):
        encode(OrderEvent(1, "c", "a\x00b", BUY, 1, 1, 1, 0, 1))
    with pytest.raises(StoreError, match="ts_ns out of range"):
        encode(FillRecord(1, "c", "i", BUY, 1, 1, 1, 3, 2**63))
    with pytest.raises(StoreError, match="client_order_id must be at most 40 bytes"):
        encode(OrderEvent(1, "x" * 41, "i", BUY, 1, 1, 1, 0, 1))
    with pytest.raises(StoreError, match="side out of range"):
        encode(OrderEvent(1, "c", "i", 5, 1, 1, 1, 0, 1))
    with pytest.raises(StoreError, match="event_id out of range"):
        encode(OrderEvent(0, "c", "i", BUY, 1, 1, 1, 0, 1))
    with pytest.raises(StoreError, match="fill qty_lots must be positive"):
        encode(FillRecord(1, "c", "i", BUY, 1, 0, 0, 3, 1))
    with pytest.raises(StoreError, match="price_ticks must be an int"):
        encode(OrderEvent(1, "c", "i", BUY, 1, 1.5, 1, 0, 1))


def test_balances_round_trip_exact(store):
    store.begin_run(Run("r1", 1, "sim"))
    store.put_balance(Balance("r1", "USDT", Decimal("1000.123456789012345678"), 5))
    store.put_balance(Balance("r1", "BTC", Decimal("0.00000001"), 5))
    store.put_balance(Balance("r1", "BTC", Decimal("1.5"), 6))
    assert store.balances("r1") == [Balance("r1", "BTC", Decimal("1.5"), 6),
                                    Balance("r1", "USDT", Decimal("1000.123456789012345678"), 5)]
    with pytest.raises(StoreError, match="balance.amount must be a finite Decimal, got 1.5"):
        store.put_balance(Balance("r1", "BTC", 1.5, 6))


def test_learning_tables_round_trip(store):
    p = AdaptiveParam("spread_bps", Decimal("2.5"), Decimal("0.5"), Decimal("10"), "trend", 7)
    store.put_param(p)
    store.put_param(AdaptiveParam("k", Decimal("-1"), Decimal("-2"), Decimal("0"), "any", 8))
    assert store.params() == [AdaptiveParam("k", Decimal("-1"), Decimal("-2"), Decimal("0"), "any", 8), p]
    with pytest.raises(StoreError, match=r"value 11 outside \[min_value 0.5, max_value 10\]"):
        store.put_param(AdaptiveParam("spread_bps", Decimal("11"), Decimal("0.5"), Decimal("10"), "trend", 9))
    assert store.params()[1] == p  # unchanged

    q = [QEntry(-(2**63), 0, 0.25, 3, -0.5), QEntry(2**63 - 1, 2, 1e-300, 0, 0.0), QEntry(5, 1, -1.0, 10, 0.125)]
    store.put_q(q)
    store.put_q([QEntry(5, 1, 2.0, 11, 0.25)])
    assert store.q_table() == sorted([q[0], q[1], QEntry(5, 1, 2.0, 11, 0.25)], key=lambda e: (e.state_hash, e.action))
    with pytest.raises(StoreError, match="state_hash must fit int64"):
        store.put_q([QEntry(2**63, 0, 0.0, 0, 0.0)])

    i1 = store.add_feedback(PerfFeedback(100, "trend", 1, Decimal("-12.3456"), -0.5))
    i2 = store.add_feedback(PerfFeedback(200, "range", 2, Decimal("7"), 0.75))
    assert i2 > i1
    assert store.feedback() == [PerfFeedback(100, "trend", 1, Decimal("-12.3456"), -0.5, i1),
                                PerfFeedback(200, "range", 2, Decimal("7"), 0.75, i2)]
    assert [f.id for f in store.feedback(since_ns=150)] == [i2]

    m = ModelRecord("m-1", "direction", 1, "/models/m1.onnx", "ab" * 32, "candidate", '{"auc": 0.61}', 5)
    store.put_model(m)
    store.put_model(ModelRecord("m-1", "direction", 1, "/models/m1.onnx", "ab" * 32, "production", '{"auc": 0.62}', 5))
    assert store.models() == [ModelRecord("m-1", "direction", 1, "/models/m1.onnx", "ab" * 32, "production",
                                          '{"auc": 0.62}', 5)]


def test_audit_log_is_append_only(store):
    a = store.audit(AuditEntry(1, "operator", "mode", "trading_mode", "paper", "live"))
    b = store.audit(AuditEntry(2, "risk", "limit", "max_position", "1", "0.5"))
    assert b > a
    assert store.audit_log() == [AuditEntry(1, "operator", "mode", "trading_mode", "paper", "live", a),
                                 AuditEntry(2, "risk", "limit", "max_position", "1", "0.5", b)]
    for stmt in ("UPDATE audit_log SET new_value = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(StoreError, match="append-only"):
            with store._tx() as cur:
                cur.run(stmt)
    assert len(store.audit_log()) == 2


def _bars(n, t0):
    b = np.zeros(n, dtype=BAR_DTYPE)
    b["ts_ns"] = t0 + np.arange(n, dtype=np.int64) * 3600 * 10**9
    b["open"] = 100 + np.arange(n)
    b["high"] = b["open"] + 5
    b["low"] = b["open"] - 5
    b["close"] = b["open"] + 1
    b["volume_lots"] = 7
    b["trades"] = 3
    return b


def test_market_data_round_trip_and_idempotent_load(store):
    t0 = 1_706_745_600 * 10**9  # 2024-02-01T00:00Z; 1500 hourly bars span Feb..Apr
    bars = _bars(1500, t0)
    assert store.load_bars("binance:BTCUSDT", 3600, bars) == 1500
    store.load_bars("binance:BTCUSDT", 3600, bars[100:200])  # reload: no duplicates
    got = store.bars("binance:BTCUSDT", 3600, 0, 2**62)
    np.testing.assert_array_equal(got, bars)
    np.testing.assert_array_equal(store.bars("binance:BTCUSDT", 3600, int(bars["ts_ns"][10]), int(bars["ts_ns"][20])),
                                  bars[10:20])
    assert len(store.bars("binance:BTCUSDT", 60, 0, 2**62)) == 0
    bad = bars[:3].copy()
    bad["low"][1] = 10**9
    with pytest.raises(StoreError, match="bars row 1: low"):
        store.load_bars("binance:BTCUSDT", 3600, bad)

    tr = np.zeros(5000, dtype=TRADE_DTYPE)
    tr["ts_ns"] = t0 + np.arange(5000, dtype=np.int64) * 10**9 * 1000
    tr["trade_id"] = np.arange(5000) + 10**12
    tr["price_ticks"] = 6_000_000 + np.arange(5000) % 17
    tr["qty_lots"] = 1 + np.arange(5000) % 5
    tr["side"] = np.arange(5000) % 2
    store.load_trades("binance:BTCUSDT", tr)
    store.load_trades("binance:BTCUSDT", tr[:10])
    np.testing.assert_array_equal(store.trades("binance:BTCUSDT", 0, 2**62), tr)
    if store.backend == "postgresql":
        # declarative partitions, one per UTC month touched
        assert store.partitions("bars") == ["bars_y2024m02", "bars_y2024m03", "bars_y2024m04"]
        assert store.partitions("trades")[0] == "trades_y2024m02"


# -- migrations ----------------------------------------------------------------------------
@pytest.mark.parametrize("start", list(range(0, LATEST)))
def test_migrate_from_each_earlier_version(target, start):
    s = target.open(migrate=False)
    try:
        assert s.schema_version() == 0
        assert s.migrate(start) == list(range(1, start + 1))
        assert s.schema_version() == start
        if start >= 1:  # data written at the old version survives the upgrade
            s.begin_run(Run("old", 1, "sim"))
            s.write_journal("old", _journal())
        with pytest.raises(SchemaError, match="run `bot4 store migrate`"):
            s.require_schema()
        assert s.migrate() == list(range(start + 1, LATEST + 1))
        assert s.schema_version() == LATEST
        assert s.migrate() == []
        if start >= 1:
            assert len(s.fills("old")) == 3 and check(s) == []
        s.put_param(AdaptiveParam("x", Decimal(1), Decimal(0), Decimal(2), "r", 1))  # v2 table exists
        s.load_bars("i", 60, _bars(2, 1_706_745_600 * 10**9))  # v3 table exists
    finally:
        s.close()
    with pytest.raises(SchemaError, match=r"target must be an integer in \[0, 3\]"):
        with target.open() as s2:
            s2.migrate(9)


def test_schema_newer_than_code_is_refused(target):
    with target.open() as s, s._tx() as cur:
        cur.run("INSERT INTO schema_version (version, description, applied_ns) VALUES (99, 'future', 0)")
    with pytest.raises(SchemaError, match="version 99 is newer than this code"):
        target.open()


def test_concurrent_migrators(target):
    errors = []

    def go():
        try:
            with target.open() as s:
                assert s.schema_version() == LATEST
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with target.open() as s:
        assert [r[0] for r in s.query("SELECT version FROM schema_version ORDER BY version")] == [1, 2, 3]


# -- concurrency ---------------------------------------------------------------------------
def test_concurrent_writers_same_and_different_runs(target):
    """Four threads, each with its own store: two replay overlapping slices of one run's
    journal, two write their own runs. Every record lands exactly once."""
    from session_drill import session_events

    events = list(session_events(3, 1200))
    arr = encode_many(events)
    with target.open() as s:
        for r in ("shared", "a", "b"):
            s.begin_run(Run(r, 1, "sim"))
    errors = []

    def writer(run, lo, hi, step):
        try:
            with target.open() as s:
                for i in range(lo, hi, step):
                    s.write_journal_batch(run, arr[i:min(i + step, hi)])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=a) for a in
               (("shared", 0, 900, 37), ("shared", 300, 1200, 53), ("a", 0, 1200, 100), ("b", 0, 1200, 64))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with target.open() as s:
        ref = s  # all three runs hold the same journal
        for run in ("shared", "a", "b"):
            got = sorted([*ref.order_events(run), *ref.fills(run)], key=lambda r: r.event_id)
            assert got == events, run
        assert ref.positions("shared") == [p.__class__("shared", *[getattr(p, f) for f in
                                           ("instrument", "net_lots", "cost_tick_lots", "fee_units", "last_event_id")])
                                           for p in ref.positions("a")]
        assert check(ref) == []


# -- failures ------------------------------------------------------------------------------
def _populated_sqlite(path):
    s = StoreTarget.sqlite(path.parent, path.name).open()
    s.begin_run(Run("r1", 1, "sim"))
    s.load_bars("i", 60, _bars(3000, 1_706_745_600 * 10**9))
    s.write_journal("r1", _journal())
    s.close()


def test_truncated_sqlite_file_is_a_clear_error(tmp_path):
    path = tmp_path / "t.db"
    _populated_sqlite(path)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(StoreCorruptError, match=f"SQLite file {path} is corrupt or truncated"):
        open_store(f"sqlite:///{path}")


def test_corrupt_sqlite_file_is_a_clear_error(tmp_path):
    path = tmp_path / "t.db"
    _populated_sqlite(path)
    data = bytearray(path.read_bytes())
    page = 4096
    for off in range(2 * page, len(data), page):  # scribble over every page but the first two
        data[off + 8: off + 200] = os.urandom(192)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match="corrupt or truncated"):
        open_store(f"sqlite:///{path}")
    path.write_bytes(b"this is not a database at all, just some text" * 100)
    with pytest.raises(StoreCorruptError, match="is not a SQLite database"):
        open_store(f"sqlite:///{path}")


def test_sqlite_missing_directory(tmp_path):
    with pytest.raises(StoreError, match="directory .* does not exist"):
        open_store(f"sqlite:///{tmp_path}/nope/x.db")


def test_pg_connection_lost_mid_batch_rolls_back_whole_batch(pg_dsn):
    """Block the writer inside its transaction (after the fills are inserted, on a row lock
    held by another session), terminate its backend, and check: a clear error, nothing of
    the batch visible, and a retry applies it exactly once."""
    t = StoreTarget.postgres(pg_dsn)
    app = f"bot4-lost-{t.schema}"  # find our backend only, whatever else uses the server
    try:
        s = t.open(application_name=app)
        s.begin_run(Run("r1", 1, "sim"))
        recs = _journal()
        s.write_journal("r1", recs[:2])  # order c1 exists
        blocker = psycopg.connect(pg_dsn)
        blocker.execute(f"SET search_path TO {t.schema}")
        blocker.execute("SELECT 1 FROM orders WHERE client_order_id = 'c1' FOR UPDATE")  # holds the lock
        result = {}

        def write():
            try:
                s.write_journal("r1", recs[2:])
            except Exception as e:  # noqa: BLE001
                result["error"] = e

        th = threading.Thread(target=write)
        th.start()
        killer = psycopg.connect(pg_dsn, autocommit=True)
        pid = None
        for _ in range(200):
            row = killer.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                 "AND application_name = %s", (app,)).fetchone()
            if row:
                pid = row[0]
                break
            threading.Event().wait(0.05)
        assert pid is not None, "writer never blocked on the row lock"
        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        th.join(30)
        blocker.rollback()
        blocker.close()
        killer.close()
        err = result.get("error")
        assert isinstance(err, StoreConnectionError), err
        assert "connection failed or lost while writing" in str(err)
        assert "rolled back" in str(err)
        assert s.fills("r1") == []  # nothing of the batch
        assert len(s.order_events("r1")) == 2
        assert s.positions("r1") == []
        # the pool hands out a healthy connection; the retried batch applies once
        assert s.write_journal("r1", recs[2:]) == 5
        assert s.write_journal("r1", recs) == 0
        assert len(s.fills("r1")) == 3 and check(s, "r1") == []
        s.close()
    finally:
        t.cleanup()


# -- secrets -------------------------------------------------------------------------------
SECRET = "Sup3r-Secret-pw-4242"


def test_password_never_in_errors_logs_or_reprs(caplog, monkeypatch):
    import logging
    import traceback

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("BOT4_TEST_PW", SECRET)
    # Nothing listens on port 1: the connection fails; the error must not carry the password.
    with pytest.raises(StoreConnectionError) as ei:
        open_store("postgresql://bot4@127.0.0.1:1/bot4", password_env="BOT4_TEST_PW")
    text = str(ei.value) + repr(ei.value) + "".join(traceback.format_exception(ei.value))
    assert "127.0.0.1" in text and SECRET not in text
    assert SECRET not in caplog.text
    # A password in the DSN is refused without echoing it.
    with pytest.raises(StoreConfigError) as ei2:
        parse_dsn(f"postgresql://bot4:{SECRET}@db/bot4")
    assert SECRET not in str(ei2.value) and "carries a password" in str(ei2.value)
    with pytest.raises(StoreConfigError, match="password="):
        parse_dsn(f"postgresql://bot4@db/bot4?password={SECRET}")
    assert SECRET not in repr(parse_dsn("postgresql://bot4@db/bot4", password=SECRET))


def test_password_error_from_server_is_redacted(pg_dsn, monkeypatch):
    """A server error message that quotes the password back is redacted."""
    from bot.store.postgres import PostgresStore

    monkeypatch.setenv("BOT4_TEST_PW", SECRET)
    t = StoreTarget.postgres(pg_dsn)
    try:
        s = open_store(pg_dsn, password_env="BOT4_TEST_PW", schema=t.schema)
        assert SECRET not in repr(s)
        assert isinstance(s, PostgresStore)
        with pytest.raises(StoreError) as ei:
            s.query(f"SELECT '{SECRET}'::int")  # the server echoes the bad literal
        assert SECRET not in str(ei.value) and "***" in str(ei.value)
        s.close()
    finally:
        t.cleanup()


def test_password_file_must_be_outside_repo(tmp_path):
    inside = os.path.join(os.path.dirname(__file__), "pw.txt")
    with pytest.raises(StoreConfigError, match="inside the repository"):
        read_password("", inside, env={})
    f = tmp_path / "pw"
    f.write_text(SECRET + "\n")
    assert read_password("UNSET_VAR", str(f), env={}) == SECRET
    assert read_password("PW", str(f), env={"PW": "fromenv"}) == "fromenv"
    with pytest.raises(StoreConfigError, match="cannot be read"):
        read_password("", str(tmp_path / "missing"), env={})


def test_dsn_errors():
    with pytest.raises(StoreConfigError, match="scheme 'mysql' is not supported"):
        parse_dsn("mysql://x")
    with pytest.raises(StoreConfigError, match="needs a file"):
        parse_dsn("sqlite://:memory:")
    with pytest.raises(StoreConfigError, match="sqlite:///relative"):
        parse_dsn("sqlite://x.db")
    assert parse_dsn("sqlite:///./a.db").path == "./a.db"


def test_sqlite_is_wal_and_synchronous_full(tmp_path):
    with StoreTarget.sqlite(tmp_path).open() as s:
        assert s.query("PRAGMA journal_mode")[0][0] == "wal"
        assert s.query("PRAGMA synchronous")[0][0] == 2  # FULL
    con = sqlite3.connect(tmp_path / "bot4-test.db")
    assert con.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == LATEST
    con.close()


def test_oms_name_mappings_and_exact_fees():
    from fractions import Fraction

    from bot.store.records import SIDE_BY_NAME, STATE_BY_NAME, fee_to_units

    oms_names = {"new": StateCode.PENDING_NEW, "acknowledged": StateCode.OPEN,
                 "partially_filled": StateCode.PARTIALLY_FILLED, "filled": StateCode.FILLED,
                 "cancelled": StateCode.CANCELED, "rejected": StateCode.REJECTED, "expired": StateCode.EXPIRED}
    assert {k: STATE_BY_NAME[k] for k in oms_names} == oms_names
    assert SIDE_BY_NAME == {"buy": BUY, "sell": SELL}
    assert fee_to_units(Decimal("0.000000123")) == 123
    assert fee_to_units(Fraction(3, 4)) == 750_000_000
    assert fee_to_units(2) == 2_000_000_000
    with pytest.raises(StoreError, match="not a whole number"):
        fee_to_units(Fraction(1, 3))
    with pytest.raises(StoreError, match="must be an int, Decimal or Fraction"):
        fee_to_units(0.1)

