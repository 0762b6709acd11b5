"""A trader's first hour with a store: `bot4 sim|backtest --store` prints the run id before
the run starts; `bot4 runs list|show` lists the runs (a crashed one as not ended) and shows
one's stored configuration and figures; `--resume RUN_ID` alone takes every option from
the run's stored configuration, and a flag that contradicts it is refused naming both
values; every store command takes `--store DSN` (`--dsn` still works). On SQLite and
PostgreSQL."""

import json
import time

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.store.records import Balance, Run

SIM = ["sim", "--events", "6000", "--seed", "11", "--interval", "100ms"]
BACKTEST = ["backtest", "--events", "6000", "--seed", "4", "--regime", "bull",
            "--param", "half_spread_ticks=2", "--latency-sigma", "0.2"]


@pytest.fixture
def target(target):
    """The shared store target (tests/fixtures.py), migrated, with the DSN the CLI is given
    (for PostgreSQL libpq's options parameter selects the test's schema)."""
    target.open().close()
    target.cli_dsn = (f"{target.dsn}?options=-csearch_path%3D{target.schema}" if target.schema is not None
                      else target.dsn)
    return target


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _ok(r):
    assert r.exit_code == 0, r.output
    return r


def _crash_copy(store, src_run, dst_run, k):
    """A run holding the first k journal records of src_run and no end: what a crash leaves."""
    src = next(r for r in store.runs() if r.run_id == src_run)
    assert store.begin_run(Run(dst_run, time.time_ns(), src.mode, src.config_json))
    for b in store.balances(src_run):
        store.put_balance(Balance(dst_run, b.asset, b.amount, b.ts_ns))
    recs = sorted([r for r in store.order_events(src_run) + store.fills(src_run) if r.event_id <= k],
                  key=lambda r: r.event_id)
    store.write_journal(dst_run, recs)


def test_run_id_is_printed_before_the_run(tmp_path):
    dsn = f"sqlite:///{tmp_path / 'a.db'}"
    r = _ok(_run(*SIM, "--store", dsn, "--json"))
    out = json.loads(r.stdout)  # stdout stays pure JSON
    run_id = out["store"]["run_id"]
    assert run_id.startswith("sim-11-")
    assert r.stderr == f"run {run_id} (store {dsn})\n"
    assert r.output.startswith(f"run {run_id} (store {dsn})\n")  # before anything the run prints
    r = _ok(_run(*BACKTEST, "--store", dsn, "--run-id", "bt1"))
    assert r.output.startswith(f"run bt1 (store {dsn})\nbot4 backtest: ")
    r = _ok(_run(*SIM, "--store", dsn, "--resume", run_id, "--json"))
    assert r.stderr == f"run {run_id} (store {dsn}; resuming)\n"
    # without a store nothing is printed to stderr
    assert _ok(_run(*SIM, "--json")).stderr == ""


def test_runs_list_show_and_resume_with_the_stored_config(target):
    dsn = target.cli_dsn
    sim = json.loads(_ok(_run(*SIM, "--store", dsn, "--run-id", "s1", "--json")).stdout)
    bt = json.loads(_ok(_run(*BACKTEST, "--store", dsn, "--run-id", "b1", "--json")).stdout)
    with target.open() as st:
        _crash_copy(st, "s1", "s1-crash", sim["store"]["records"] // 2)
        _crash_copy(st, "b1", "b1-crash", bt["store"]["records"] // 3)

    rows = json.loads(_ok(_run("runs", "list", "--store", dsn, "--json")).stdout)
    assert [x["run_id"] for x in rows] == ["b1-crash", "s1-crash", "b1", "s1"]  # newest first
    by_id = {x["run_id"]: x for x in rows}
    assert by_id["s1"]["kind"] == "sim" and by_id["b1"]["kind"] == "backtest"
    assert by_id["s1"]["ended"] is not None and by_id["s1-crash"]["ended"] is None
    assert by_id["s1"]["fills"] == sim["fills"] > 0
    assert by_id["b1"]["fills"] == bt["fills"] > 0 and by_id["b1"]["orders"] > 0
    text = _ok(_run("runs", "list", "--store", dsn)).stdout.splitlines()
    assert text[0].split() == ["RUN", "KIND", "STARTED", "(UTC)", "ENDED", "(UTC)", "ORDERS", "FILLS"]
    assert "not ended" in next(x for x in text if x.startswith("s1-crash "))
    assert "not ended" not in next(x for x in text if x.startswith("s1 "))

    d = json.loads(_ok(_run("runs", "show", "b1", "--store", dsn, "--json")).stdout)
    assert d["config"]["seed"] == 4 and d["config"]["regime"] == "bull" and d["config"]["events"] == 6000
    assert d["config"]["strategy"] == "market_maker" and d["config"]["params"] == {"half_spread_ticks": 2}
    assert d["config"]["latency_sigma"] == 0.2 and d["config"]["interval_ns"] == 250_000_000
    assert d["fills"] == bt["fills"] and d["ended"] is not None
    (pos,) = d["positions"]
    assert pos["instrument"] == "synthetic:SYNTH-USD"
    assert pos["net_qty"] == bt["position"]
    shown = _ok(_run("runs", "show", "s1-crash", "--store", dsn)).stdout
    assert "ended not ended" in shown and "seed: 11" in shown and "interval_ns: 100000000" in shown
    assert f"resume: bot4 sim --store {dsn} --resume s1-crash" in shown

    # --resume with no other option replays the run as it was configured and completes it
    for crashed, whole, cmd in (("s1-crash", "s1", "sim"), ("b1-crash", "b1", "backtest")):
        r = _ok(_run(cmd, "--store", dsn, "--resume", crashed, "--json"))
        info = json.loads(r.stdout)["store"]
        assert info["resumed_from_event"] > 0 and info["recovered_equals_oms"] and info["check_ok"], info
        with target.open() as st:
            assert st.order_events(crashed) == st.order_events(whole)
            assert st.fills(crashed) == st.fills(whole)
    assert "no violations" in _ok(_run("store", "check", "--store", dsn)).stdout
    rows = json.loads(_ok(_run("runs", "list", "--store", dsn, "--json")).stdout)
    assert all(x["ended"] is not None for x in rows)


def test_resume_refuses_contradicting_flags(target):
    dsn = target.cli_dsn
    _ok(_run(*BACKTEST, "--store", dsn, "--run-id", "b1"))
    _ok(_run(*SIM, "--store", dsn, "--run-id", "s1"))
    for args, msg in (
            (["sim", "--seed", "7"], "--seed 7 contradicts the run's stored seed 11"),
            (["sim", "--interval", "50ms"], "--interval 50ms contradicts the run's stored interval 100ms"),
            (["sim", "--events", "9000"], "--events 9000 contradicts the run's stored events 6000"),
            (["sim", "--regime", "bear"], "--regime bear contradicts the run's stored regime sideways"),
            (["sim", "--qty", "0.005"], "--qty 0.005 contradicts the run's stored qty (none)"),
            (["backtest", "--strategy", "market_maker", "--latency-sigma", "0"],
             "--latency-sigma 0.0 contradicts the run's stored latency-sigma 0.2"),
            (["backtest", "--param", "half_spread_ticks=3"],
             "--param half_spread_ticks=3 contradicts the run's stored params {\"half_spread_ticks\": 2}"),
            (["backtest"], "run s1 was started by `bot4 sim`")):
        run = "b1" if args[0] == "backtest" and "started by" not in msg else "s1"
        r = _run(*args, "--store", dsn, "--resume", run)
        assert r.exit_code == 2 and msg in r.stderr, (args, r.output)
    # a flag that agrees with the stored value is accepted
    r = _ok(_run("sim", "--seed", "11", "--interval", "0.1s", "--store", dsn, "--resume", "s1", "--json"))
    assert json.loads(r.stdout)["store"]["check_ok"]
    with target.open() as st:
        assert {x.run_id for x in st.runs()} == {"b1", "s1"}


def test_unknown_run_and_missing_store_are_refused(target, tmp_path):
    dsn = target.cli_dsn
    _ok(_run(*SIM, "--store", dsn, "--run-id", "s1"))
    for args in (["runs", "show", "nope"], ["sim", "--resume", "nope"]):
        r = _run(*args, "--store", dsn)
        assert r.exit_code != 0 and r.stdout == ""
        (line,) = r.stderr.splitlines()
        assert "run_id 'nope' does not exist in the store; latest runs: s1" in line, line
    missing = f"sqlite:///{tmp_path}/typo/bot4.db"
    for args in (["runs", "list"], ["runs", "show", "s1"], ["sim", "--resume", "s1"]):
        r = _run(*args, "--store", missing)
        assert r.exit_code != 0 and f"SQLite database {tmp_path}/typo/bot4.db does not exist" in r.stderr
    assert not (tmp_path / "typo").exists()


def test_empty_store_lists_no_runs(tmp_path):
    dsn = f"sqlite:///{tmp_path / 'e.db'}"
    _ok(_run("store", "migrate", "--store", dsn))
    assert _ok(_run("runs", "list", "--store", dsn)).stdout.startswith("no runs in ")
    assert json.loads(_ok(_run("runs", "list", "--store", dsn, "--json")).stdout) == []


def test_store_commands_take_store_and_still_dsn(tmp_path):
    dsn = f"sqlite:///{tmp_path / 'c.db'}"
    _ok(_run(*SIM, "--store", dsn, "--run-id", "s1"))
    for flag in ("--store", "--dsn"):
        assert "ok: 1 run(s) checked" in _ok(_run("store", "check", flag, dsn)).stdout
        assert "nothing to apply" in _ok(_run("store", "migrate", flag, dsn)).stdout
        _ok(_run("store", "export", flag, dsn, "--run", "s1", "--out", str(tmp_path / flag[2:])))
        assert (tmp_path / flag[2:] / "fills.parquet").is_file()
        assert _ok(_run("runs", "list", flag, dsn)).stdout.splitlines()[1].startswith("s1 ")
    help_text = _ok(_run("store", "check", "--help")).stdout
    assert "--store DSN" in help_text and "--dsn" not in help_text
