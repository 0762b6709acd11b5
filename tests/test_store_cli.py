"""`bot4 store migrate|check|export` on SQLite and PostgreSQL: exit codes, messages, the
violations `check` finds, and the Parquet files `export` writes (read back with pyarrow)."""

from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.store.records import FillRecord, StateCode
from session_drill import prepare, session_events


@pytest.fixture
def target(target):
    """The shared store target (tests/fixtures.py); a PostgreSQL one also gets the DSN the
    CLI is given: the CLI takes no schema option, libpq's own options parameter selects it."""
    if target.schema is not None:
        target.cli_dsn = f"{target.dsn}?options=-csearch_path%3D{target.schema}"
    return target


def _dsn(t):
    return getattr(t, "cli_dsn", t.dsn)


def _run(*args):
    return CliRunner().invoke(main, ["store", *args], catch_exceptions=False)


def test_migrate_then_check_clean_then_violations(target):
    if target.backend == "postgres":
        target.open(migrate=False).close()  # creates the empty schema
    r = _run("migrate", "--store", _dsn(target), "--to", "1")
    assert r.exit_code == 0, r.output
    assert "from version 0 to 1" in r.output
    r = _run("check", "--store", _dsn(target))
    assert r.exit_code == 3 and "schema is at version 1" in r.output
    r = _run("migrate", "--store", _dsn(target))
    assert r.exit_code == 0 and "from version 1 to 3 (applied 2, 3)" in r.output
    assert "nothing to apply" in _run("migrate", "--store", _dsn(target)).output

    events = list(session_events(8, 800))
    with target.open() as s:
        prepare(s, "r1")
        s.write_journal("r1", events)
    r = _run("check", "--store", _dsn(target))
    assert r.exit_code == 0 and "ok: 1 run(s) checked, no violations" in r.output

    # Break each invariant behind the store's back; check must name every one.
    with target.open() as s, s._tx() as cur:
        coid = cur.one("SELECT client_order_id FROM fills WHERE run_id = 'r1' ORDER BY event_id LIMIT 1")[0]
        cur.run("UPDATE orders SET filled_lots = filled_lots + 1 WHERE run_id = 'r1' AND client_order_id = ?", (coid,))
        cur.run("UPDATE positions SET net_lots = net_lots + 5 WHERE run_id = 'r1' AND instrument = 'sim:BTCUSDT'")
    with target.open() as s:
        s.write_journal("r1", [FillRecord(5000, "ghost-order", "sim:ETHUSDT", 0, 300000, 3, 3, StateCode.FILLED, 9)])
    r = _run("check", "--store", _dsn(target), "--run", "r1")
    assert r.exit_code == 1, r.output
    assert f"fills_vs_order: run r1 {coid}: fills sum to" in r.output
    assert "position_vs_fills: run r1 sim:BTCUSDT" in r.output
    assert "orphan_fill: run r1 ghost-order: fill event 5000 has no order" in r.output
    lines = [x for x in r.output.splitlines() if ": run " in x]
    # the +1 may also push that order past its quantity: then overfill is reported too
    assert {x.split(":")[0] for x in lines} <= {"fills_vs_order", "overfill", "position_vs_fills", "orphan_fill"}
    assert f"{len(lines)} violation(s)" in r.output and len(lines) in (3, 4)


def test_export_writes_parquet_equal_to_the_store(target, tmp_path):
    events = list(session_events(9, 500))
    with target.open() as s:
        prepare(s, "r9")
        s.write_journal("r9", events)
        fills, orders, positions, balances = s.fills("r9"), s.orders("r9"), s.positions("r9"), s.balances("r9")
    out = tmp_path / "export"
    r = _run("export", "--store", _dsn(target), "--run", "r9", "--out", str(out))
    assert r.exit_code == 0, r.output
    t = pq.read_table(out / "fills.parquet").to_pylist()
    assert [FillRecord(**row) for row in t] == fills
    assert pq.read_table(out / "fills.parquet").schema.field("price_ticks").type == "int64"
    assert len(pq.read_table(out / "orders.parquet")) == len(orders)
    assert pq.read_table(out / "positions.parquet").column("net_lots").to_pylist() == [p.net_lots for p in positions]
    assert [Decimal(a) for a in pq.read_table(out / "balances.parquet").column("amount").to_pylist()] == [
        b.amount for b in balances]
    assert pq.read_table(out / "run.parquet").column("run_id").to_pylist() == ["r9"]
    r = _run("export", "--store", _dsn(target), "--run", "nope", "--out", str(out))
    assert r.exit_code == 3 and "run_id 'nope' does not exist" in r.output


def test_cli_store_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    r = _run("check", "--dsn", f"sqlite:///{bad}")
    assert r.exit_code == 3 and "is not a SQLite database" in r.output
    r = _run("migrate", "--dsn", "postgresql://u:pw123@127.0.0.1:1/x")
    assert r.exit_code == 3 and "carries a password" in r.output and "pw123" not in r.output
    r = _run("migrate", "--dsn", "postgresql://u@127.0.0.1:1/x")
    assert r.exit_code == 3 and "connection failed" in r.output


def test_check_and_export_of_an_unknown_run(target, tmp_path):
    with target.open() as s:
        prepare(s, "r1")
    r = _run("check", "--store", _dsn(target), "--run", "nope")
    assert r.exit_code == 3 and r.stdout == ""
    assert r.stderr == "bot4 store: run_id 'nope' does not exist in the store; latest runs: r1\n"
    r = _run("export", "--store", _dsn(target), "--run", "nope", "--out", str(tmp_path / "x"))
    assert r.exit_code == 3 and "latest runs: r1" in r.stderr and not (tmp_path / "x").exists()
    with target.open() as s:
        assert [x.run_id for x in s.runs()] == ["r1"]


def test_check_and_export_refuse_a_missing_store(tmp_path):
    for args in (["check"], ["export", "--run", "r1", "--out", str(tmp_path / "x")]):
        r = _run(*args, "--store", f"sqlite:///{tmp_path}/typo/bot4.db")
        assert r.exit_code == 3 and f"SQLite database {tmp_path}/typo/bot4.db does not exist" in r.stderr
    assert list(tmp_path.iterdir()) == []
