"""Mistakes a user makes at the command line: each is one line on stderr, a non-zero exit,
no traceback, and nothing created or changed (no file, directory, database or run row)."""

import errno
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.ml.registry import Registry

META = {"features_layout_version": 2, "training_data_hash": "ef" * 32, "name": "m"}


def _run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)


def _one_line_error(r, code: int) -> str:
    """The result's only stderr line, after checking the exit code and that nothing else
    went to stderr (no traceback, no warning)."""
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def _tree(root: Path) -> dict:
    """Every path under root with its bytes (files) or None (directories)."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


# -- 1: store check --run on an unknown run -----------------------------------------------------
def test_store_check_of_an_unknown_run(tmp_path):
    db = tmp_path / "s.db"
    dsn = f"sqlite:///{db}"
    assert _run("store", "migrate", "--dsn", dsn).exit_code == 0
    err = _one_line_error(_run("store", "check", "--dsn", dsn, "--run", "nope"), 3)
    assert err == "bot4 store: run_id 'nope' does not exist: the store has no runs"

    from bot.store import open_store
    from bot.store.records import Run

    with open_store(dsn) as s:
        for k in range(7):
            s.begin_run(Run(f"run{k}", 1000 + k, "sim"))
    err = _one_line_error(_run("store", "check", "--dsn", dsn, "--run", "nope"), 3)
    assert err == ("bot4 store: run_id 'nope' does not exist in the store; latest runs: "
                   "run2, run3, run4, run5, run6 (and 2 older)")
    r = _run("store", "check", "--dsn", dsn, "--run", "run3")
    assert r.exit_code == 0 and "ok: 1 run(s) checked" in r.output
    out = tmp_path / "export"
    _one_line_error(_run("store", "export", "--dsn", dsn, "--run", "nope", "--out", str(out)), 3)
    assert not out.exists()
    with open_store(dsn) as s:
        assert [x.run_id for x in s.runs()] == [f"run{k}" for k in range(7)]


# -- 2: read-only store commands refuse a store that does not exist -----------------------------
@pytest.mark.parametrize("cmd", [["check"], ["check", "--run", "r1"], ["export", "--run", "r1", "--out", "OUT"]])
@pytest.mark.parametrize("where", ["typo/dir/x.db", "x.db"])
def test_read_only_store_commands_refuse_a_missing_sqlite_file(tmp_path, cmd, where):
    work = tmp_path / "w"
    work.mkdir()
    path = work / where
    cmd = [str(work / "out") if a == "OUT" else a for a in cmd]
    err = _one_line_error(_run("store", *cmd, "--dsn", f"sqlite:///{path}"), 3)
    assert err == (f"bot4 store: SQLite database {path} does not exist "
                   "(check the DSN; `bot4 store migrate` creates a store)")
    assert _tree(work) == {}


def test_store_migrate_creates_the_store(tmp_path):
    path = tmp_path / "new.db"
    r = _run("store", "migrate", "--dsn", f"sqlite:///{path}")
    assert r.exit_code == 0 and "from version 0 to" in r.output and path.is_file()
    assert _run("store", "check", "--dsn", f"sqlite:///{path}").exit_code == 0


def test_read_only_store_commands_refuse_an_empty_file_and_a_directory(tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    err = _one_line_error(_run("store", "check", "--dsn", f"sqlite:///{empty}"), 3)
    assert err.startswith(f"bot4 store: SQLite file {empty} is empty (0 bytes), not a database")
    assert empty.read_bytes() == b"" and sorted(os.listdir(tmp_path)) == ["empty.db"]
    err = _one_line_error(_run("store", "check", "--dsn", f"sqlite:///{tmp_path}"), 3)
    assert err == f"bot4 store: SQLite database path {tmp_path} is a directory, not a database file"


def test_open_store_create_false_refuses_a_missing_postgres_schema(pg_dsn):
    import psycopg

    from bot.store import StoreMissingError, open_store

    schema = "t_missing_" + os.urandom(6).hex()
    with pytest.raises(StoreMissingError, match=f"schema '{schema}' does not exist"):
        open_store(pg_dsn, schema=schema, create=False)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                            (schema,)).fetchone() is None


# -- 3: models commands refuse a root that is not a registry (see also test_models_cli) ---------
def test_models_list_does_not_create_the_root(tmp_path):
    err = _one_line_error(_run("models", "list", "--root", "/nonexistent/bot4-models"), 1)
    assert err == "bot4 models: no model registry at /nonexistent/bot4-models: the directory does not exist"
    assert not Path("/nonexistent").exists()
    f = tmp_path / "file"
    f.write_text("x")
    err = _one_line_error(_run("models", "verify", "--root", str(f)), 1)
    assert err == f"bot4 models: no model registry at {f}: the directory is not a directory"


# -- 4: a corrupt registry.db -------------------------------------------------------------------
@pytest.fixture
def registry(tmp_path):
    root = tmp_path / "models"
    with Registry(root) as reg:
        for k in range(3):
            reg.register(bytes([65 + k]) * 1000, META)
    return root


@pytest.mark.parametrize("damage, what", [
    (lambda b: b"garbage" * 1000, "is not a SQLite database (bad header b'garbagegarbagega')"),
    (lambda b: b[: len(b) // 2], "is corrupt or truncated (database disk image is malformed)"),
    (lambda b: b[:100], "is corrupt or truncated (database disk image is malformed)"),
    (lambda b: b"", "is empty (0 bytes), not a database"),
])
@pytest.mark.parametrize("cmd", [["list"], ["show", "0123456789"], ["verify"], ["rollback", "--reason", "x"]])
def test_models_commands_name_a_corrupt_registry_db(registry, damage, what, cmd):
    db = registry / "registry.db"
    db.write_bytes(damage(db.read_bytes()))
    before = _tree(registry)
    err = _one_line_error(_run("models", *cmd, "--root", str(registry)), 1)
    assert err.startswith(f"bot4 models: model registry {registry} cannot be opened: SQLite file {db} {what}"), err
    assert _tree(registry) == before


def test_train_refuses_a_corrupt_registry_before_training(registry, tmp_path):
    db = registry / "registry.db"
    db.write_bytes(b"garbage" * 1000)
    before = _tree(registry)
    out = tmp_path / "out"
    r = _run("train", "--out", str(out), "--events", "5000", "--registry", str(registry))
    err = _one_line_error(r, 1)
    assert err.startswith(f"Error: model registry {registry} cannot be opened: "
                          f"SQLite file {db} is not a SQLite database")
    assert r.stdout == "" and not out.exists()
    assert _tree(registry) == before


# -- 5: labels checked before training ----------------------------------------------------------
def test_train_without_labels_says_why(shared_data, tmp_path):
    rec = shared_data / "binance" / "spot" / "btcusdt_20240808.gz"
    out = tmp_path / "m"
    for label in ("triple-barrier", "sign"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # a numpy warning fails the test
            r = _run("train", str(rec), "--label", label, "--horizon", "10m", "--out", str(out), "--no-register")
        err = _one_line_error(r, 1)
        assert err.startswith("Error: no labelled rows: none of the ")
        assert f"got a {label} label with horizon 10 min" in err
        assert "use a shorter horizon or more data" in err
        assert "nan" not in r.output.replace("binance", "") and not out.exists()


def test_train_refuses_one_class_labels():
    from bot.ml.dataset import build_dataset, label_problem
    from engine.feature_layout import INDEX, N_FEATURES

    ts = np.arange(200, dtype=np.int64) * 100_000_000
    values = np.zeros((200, N_FEATURES))
    values[:, INDEX["mid"]] = 1000.0 + np.arange(200)  # only ever up
    ds = build_dataset(ts, values, horizon_ns=500_000_000)
    assert len(ds) > 0 and label_problem(ds).startswith(f"all {len(ds)} sign labels are 1 (up)")


def test_a_missing_first_mid_does_not_spoil_the_triple_barrier_labels():
    """The first feature sample has no mid (no book yet): the volatility of later windows,
    and so the triple-barrier labels, must not all become NaN."""
    from bot.ml.dataset import build_dataset, label_problem, rolling_vol
    from engine.feature_layout import INDEX, N_FEATURES

    rng = np.random.default_rng(3)
    mid = 1e6 + np.cumsum(rng.integers(-3, 4, 600)).astype(np.float64)
    mid[0] = np.nan
    sig = rolling_vol(mid, 50)
    assert np.isnan(sig[:51]).all() and np.isfinite(sig[51:]).all()
    np.testing.assert_allclose(sig[51:], rolling_vol(mid[1:], 50)[50:], rtol=1e-9, atol=1e-15)
    ts = np.arange(600, dtype=np.int64) * 100_000_000
    values = np.zeros((600, N_FEATURES))
    values[:, INDEX["mid"]] = mid
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ds = build_dataset(ts, values, label="triple_barrier", horizon_ns=2_000_000_000)
    assert len(ds) > 300 and label_problem(ds) is None
    assert ds.meta["dropped_by"]["no_volatility"] == 51


def test_dataset_without_labels_is_refused_before_training(tmp_path):
    from bot.ml.dataset import build_dataset
    from bot.ml.train import TrainConfig, train
    from engine.feature_layout import INDEX, N_FEATURES

    ts = np.arange(100, dtype=np.int64) * 100_000_000
    values = np.zeros((100, N_FEATURES))
    values[:, INDEX["mid"]] = 1000.0
    ds = build_dataset(ts, values, horizon_ns=500_000_000)
    with pytest.raises(ValueError, match=r"the mid did not move \(or was missing\) over the horizon for 95 samples"):
        train(ds, TrainConfig(), tmp_path / "m")
    assert not (tmp_path / "m").exists()


# -- 6: an output path that cannot be written -----------------------------------------------------
@pytest.mark.parametrize("cmd", ["synth", "convert"])
def test_data_writers_refuse_an_unwritable_path(tmp_path, cmd, shared_data):
    args = ["--events", "1000"] if cmd == "synth" else [str(shared_data / "ohlcv" / "binance_btcusdt_1d.csv")]
    out = tmp_path / "missing" / "x.parquet"
    err = _one_line_error(_run("data", cmd, *args, "--out", str(out)), 1)
    assert err == f"Error: cannot write {out}: No such file or directory (the directory {out.parent} does not exist)"
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "x.parquet"
    err = _one_line_error(_run("data", cmd, *args, "--out", str(out)), 1)
    assert err == f"Error: cannot write {out}: Not a directory ({tmp_path / 'file'} is not a directory)"
    assert sorted(os.listdir(tmp_path)) == ["file"]


@pytest.mark.parametrize("cmd", ["synth", "convert"])
def test_a_write_failing_midway_leaves_no_partial_file(tmp_path, cmd, shared_data, monkeypatch):
    import pyarrow.parquet as pq

    def half_then_disk_full(table, where, **kw):
        with open(where, "wb") as f:
            f.write(b"PAR1" + b"\0" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq, "write_table", half_then_disk_full)
    args = ["--events", "1000"] if cmd == "synth" else [str(shared_data / "ohlcv" / "binance_btcusdt_1d.csv")]
    work = tmp_path / "w"
    work.mkdir()
    out = work / "x.parquet"
    err = _one_line_error(_run("data", cmd, *args, "--out", str(out)), 1)
    assert err == f"Error: cannot write {out}: No space left on device"
    assert os.listdir(work) == []
    out.write_bytes(b"the previous file")
    _one_line_error(_run("data", cmd, *args, "--out", str(out)), 1)
    assert os.listdir(work) == ["x.parquet"] and out.read_bytes() == b"the previous file"


# -- 7: a replay that never builds a book ---------------------------------------------------------
def _diff(u: int) -> str:
    data = {"e": "depthUpdate", "E": u, "s": "BTCUSDT", "U": u, "u": u, "b": [["100.00", "1"]], "a": [["101.00", "2"]]}
    return f"{u} " + json.dumps({"stream": "btcusdt@depth@100ms", "data": data}) + "\n"


def test_replay_without_a_snapshot_is_an_error(tmp_path):
    rec = tmp_path / "diffs_only.txt"
    rec.write_text("".join(_diff(u) for u in range(10, 15)))
    before = _tree(tmp_path)
    r = _run("data", "replay", str(rec), "--no-cache")
    err = _one_line_error(r, 1)
    assert err == (f"Error: {rec}: the book was never built: no snapshot in the data, so all 5 diff message(s) "
                   "stayed buffered (replay the session from the file with its snapshot, or pass --allow-empty)")
    assert r.stdout == "" and "result   OK" not in r.output
    r = _run("data", "replay", str(rec), "--no-cache", "--allow-empty")
    assert r.exit_code == 0
    assert r.stderr == ("warning: the book was never built: no snapshot in the data, so all 5 diff message(s) "
                        "stayed buffered\n")
    assert "result   EMPTY (the book was never built" in r.stdout and "result   OK" not in r.stdout
    d = json.loads(_run("data", "replay", str(rec), "--no-cache", "--allow-empty", "--json").stdout)
    assert d["book_built"] is False and d["diffs_buffered"] == 5 and d["diffs_applied"] == 0
    assert _tree(tmp_path) == before


def test_replay_of_no_events_is_an_error(tmp_path):
    from decimal import Decimal

    from bot.data.parquet import write_events
    from bot.model import Instrument
    from engine.events import EVENT_DTYPE

    f = tmp_path / "none.parquet"
    write_events(f, np.zeros(0, EVENT_DTYPE), Instrument("binance-usdm", "BTCUSDT", Decimal("0.1"), Decimal("0.001"),
                                                         Decimal("5")))
    err = _one_line_error(_run("data", "replay", str(f)), 1)
    assert err == (f"Error: {f}: the book was never built: the data holds no events "
                   "(pass --allow-empty to accept an empty replay)")
    r = _run("data", "replay", str(f), "--allow-empty")
    assert r.exit_code == 0 and r.stderr == "warning: the book was never built: the data holds no events\n"
