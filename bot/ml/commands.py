"""`bot4 train` and `bot4 models ...`: training and the model registry from the command line.

`bot4 train`: purged walk-forward CV, calibration and a model file from recorded or
synthetic data; registers the ONNX model.

`bot4 models list|show|promote|rollback|verify`: the registry root is --root, else [ml]
registry_dir of the config (BOT4_ML_REGISTRY_DIR); records and the audit log are in [ml]
registry_dsn (--dsn), by default sqlite:///<root>/registry.db. These commands work on an
existing registry and create nothing; only `bot4 train` (registering) creates one. Models
are named by SHA-256 or a unique prefix (>= 8 digits). Errors print one line naming the
problem and exit with status 1 (2 for usage errors).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.data.commands import spec_options
from bot.ml.models import BLENDS, MODEL_KINDS

# --- bot4 train ---------------------------------------------------------------------------


def _is_feature_file(path) -> bool:
    if Path(path).suffix.lower() not in (".parquet", ".pq"):
        return False
    import pyarrow.parquet as pq

    md = pq.read_schema(str(path)).metadata or {}
    return md.get(b"bot4.format") == b"features/1"


def _interval(text: str, option: str) -> int:
    from bot.features.compute import parse_interval

    try:
        return parse_interval(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=option) from None


def load_dataset(paths, seed, events, regimes, interval_ns, label_kw, every=0, spec=None):
    """The labelled Dataset of the command's data arguments (see `train --help`); ``spec``:
    the loaders' instrument options (bot.data.commands.spec_kwargs)."""
    from bot.ml.dataset import build_dataset, events_series, synthetic_dataset

    if not paths:
        names = tuple(r.strip() for r in regimes.split(",") if r.strip())
        return synthetic_dataset(seed=seed, events=events, regimes=names, interval_ns=interval_ns, every=every,
                                 **label_kw)
    if len(paths) == 1 and _is_feature_file(paths[0]):
        import numpy as np

        from bot.features.compute import read_feature_series
        from engine.feature_layout import NAMES

        cols, meta = read_feature_series(paths[0])
        values = np.column_stack([cols[n] for n in NAMES])
        return build_dataset(cols["ts_local"], values, meta={"source": str(paths[0]), "features_file": meta},
                             **label_kw)
    from bot.data.commands import load_input

    fmt, ev, inst, how = load_input(list(paths), **(spec or {}))
    if fmt == "ohlcv":
        raise click.ClickException("training needs book events (or a features file), not OHLCV bars")
    click.echo(f"spec: {how.describe()}")
    s = events_series(ev, interval_ns=interval_ns, every=every)
    return build_dataset(s["ts"], s["values"], meta={"source": ",".join(map(str, paths)), "format": fmt,
                                                     "symbol": inst.symbol, "interval_ns": 0 if every else interval_ns,
                                                     "every": every}, **label_kw)


def _register_model(registry_dir, out: Path, report: dict) -> str:
    """Register the ONNX model (trees + calibrator: what bot.ml.inference serves) through
    bot.ml.registry; returns a line for the user."""
    from bot.ml.registry import Registry, RegistryError
    from bot.store import StoreError

    if "onnx" not in report["files"]:
        return (f"not registered: the registry serves ONNX and only --model lgbm exports to ONNX "
                f"(this is {report['config']['kind']}); the bundle is {out / 'model.json'}")
    meta = {k: report[k] for k in ("layout_version", "feature_names", "data_sha256", "metrics", "config",
                                   "bundle_sha256", "onnx_parity")}
    meta.update(name=f"bot4-{report['config']['kind']}", library_versions=report["libraries"], format="onnx")
    try:
        with Registry(registry_dir) as reg:
            rec = reg.register(out / "model.onnx", meta)
    except (RegistryError, StoreError) as e:
        raise click.ClickException(f"not registered: {e}") from None
    return f"registered {rec.sha256} as {rec.name} v{rec.version} in {registry_dir} (state {rec.state})"


def _check_registry(registry_dir) -> None:
    """Fail before training if the registry to register in exists but cannot be opened
    (a corrupt registry.db, say); one that does not exist yet is created when registering."""
    from bot.ml.registry import Registry, RegistryError

    if not (Path(registry_dir).expanduser() / "registry.db").exists():
        return
    try:
        Registry(registry_dir, create=False).close()
    except RegistryError as e:
        raise click.ClickException(str(e)) from None


@click.command("train")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for model.json, model.txt, model.onnx and report.json.")
@click.option("--seed", type=int, default=7, show_default=True, help="Synthetic data seed (no PATHS) and model seed.")
@click.option("--events", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="Synthetic events per regime (no PATHS).")
@click.option("--regimes", default="bull,bear,sideways", show_default=True,
              help="Synthetic regimes, one stream each, placed one after another in time.")
@click.option("--interval", default="100ms", show_default=True, help="Feature sampling interval (events data).")
@click.option("--every", type=click.IntRange(min=1),
              help="Sample features every N event rows instead of --interval (then --horizon-samples "
                   "counts samples of N rows: a horizon in events).")
@click.option("--label", type=click.Choice(["sign", "triple-barrier"]), default="sign", show_default=True)
@click.option("--horizon", default="100ms", show_default=True,
              help="Label horizon in time (sign: forward return; triple-barrier: vertical barrier).")
@click.option("--horizon-samples", type=click.IntRange(min=1), help="Sign label horizon in samples instead.")
@click.option("--pt", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Triple barrier: profit-take width in rolling sigmas.")
@click.option("--sl", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Triple barrier: stop-loss width in rolling sigmas.")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Walk-forward test folds.")
@click.option("--embargo", default="1s", show_default=True,
              help="Embargo after each test window (time). Walk-forward training rows all precede the test "
                   "window, so it drops rows in the stacking ensemble's inner k-fold.")
@click.option("--purge/--no-purge", default=True, show_default=True,
              help="Purge training rows whose label window overlaps the test window.")
@click.option("--model", "kind", type=click.Choice(sorted(MODEL_KINDS)), default="lgbm", show_default=True)
@click.option("--blend", type=click.Choice(BLENDS), default="stacking", show_default=True,
              help="Ensemble blend (--model stack).")
@click.option("--rounds", type=click.IntRange(min=1), default=100, show_default=True, help="LightGBM boosting rounds.")
@click.option("--sentinel/--no-sentinel", default=False, show_default=True,
              help="Also run the leakage sentinel (the same CV on shuffled labels).")
@click.option("--registry", "registry_dir", type=click.Path(file_okay=False),
              help="Registry directory to register the model bundle in (default: [ml] registry_dir).")
@click.option("--register/--no-register", default=True, show_default=True,
              help="Register the ONNX model (--model lgbm) in the model registry.")
@spec_options
def train_cmd(paths, out_dir, seed, events, regimes, interval, every, label, horizon, horizon_samples, pt, sl, folds,
              embargo, purge, kind, blend, rounds, sentinel, registry_dir, register, **spec):
    """Train a classifier of the forward mid move with purged walk-forward CV.

    PATHS: recorded files (Binance, Tardis), a Bot4 event Parquet, or a features Parquet
    (`bot4 data features`); none: synthetic data (engine.synth) from --seed and --events.
    Prints each fold's AUC, log loss, Brier score and accuracy, and writes the model bundle
    (model + isotonic calibrators + metadata), for LightGBM the text model and the ONNX model
    (trees + calibrators), and a JSON report into --out; registers the ONNX model.
    """
    from bot.data.commands import spec_kwargs
    from bot.ml.dataset import label_problem
    from bot.ml.train import TrainConfig, train

    spec_kw = spec_kwargs(**spec)
    interval_ns = _interval(interval, "--interval")
    horizon_ns = _interval(horizon, "--horizon")
    embargo_ns = 0 if embargo.strip() in ("0", "") else _interval(embargo, "--embargo")
    if label == "triple-barrier" and horizon_samples:
        raise click.UsageError("--horizon-samples applies to --label sign only")
    label_kw = {"label": label.replace("-", "_"), "horizon_ns": horizon_ns,
                "horizon_samples": horizon_samples or 0, "pt": pt, "sl": sl}
    if register:
        if not registry_dir:
            from bot import config as config_mod

            registry_dir = config_mod.load().ml.registry_dir
        _check_registry(registry_dir)
    try:
        ds = load_dataset(paths, seed, events, regimes, interval_ns, label_kw, every=every or 0, spec=spec_kw)
        cfg = TrainConfig(n_splits=folds, embargo_ns=embargo_ns, purge=purge, kind=kind, blend=blend,
                          rounds=rounds, seed=seed)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    problem = label_problem(ds)
    if problem:
        raise click.ClickException(problem)
    click.echo(f"dataset: {len(ds)} rows, {ds.meta.get('dropped', 0)} samples without a label, "
               f"positive rate {ds.y.mean():.3f}, sha256 {ds.sha256()[:16]}")
    with click.progressbar(length=folds + 1, label=f"train {kind}") as bar:
        try:
            report = train(ds, cfg, out_dir, progress=lambda k: bar.update(1), sentinel=sentinel)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
    click.echo(f"{'fold':>4} {'train':>7} {'test':>6} {'purged':>6} {'embargo':>7} {'auc':>6} {'logloss':>7} "
               f"{'brier':>6} {'acc':>6}")
    for f in report["folds"]:
        auc = f"{f['auc']:.4f}" if f["auc"] is not None else "  -   "
        click.echo(f"{f['fold']:>4} {f['train_rows']:>7} {f['rows']:>6} {f['purged']:>6} {f['embargoed']:>7} "
                   f"{auc:>6} {f['log_loss']:>7.4f} {f['brier']:>6.4f} {f['accuracy']:>6.4f}")
    cv = report["metrics"]["cv"]
    click.echo(f" all {'':>7} {cv['rows']:>6} {'':>6} {'':>7} {cv['auc']:.4f} {cv['log_loss']:>7.4f} "
               f"{cv['brier']:>6.4f} {cv['accuracy']:>6.4f}")
    cal = report["calibration"]
    if cal.get("rows"):
        click.echo(f"calibration (walk-forward, {cal['rows']} rows): Brier {cal['brier_raw']:.4f} -> "
                   f"{cal['brier_calibrated']:.4f}, ECE {cal['ece_raw']:.4f} -> {cal['ece_calibrated']:.4f}")
    st = report["metrics"]["strategy"]
    click.echo(f"strategy sign(p - 0.5): Sharpe per row {st['sharpe_per_row']:.4f} (t = {st['t_stat']:.2f})")
    if sentinel:
        s = report["sentinel"]
        click.echo(f"leakage sentinel (shuffled labels): AUC {s['auc']:.4f} (0.5 +- {s['auc_tolerance']}), "
                   f"Sharpe {s['sharpe_per_row']:.4f} (+- {s['sharpe_tolerance']:.4f}): "
                   f"{'passed' if s['passed'] else 'FAILED'}")
    out = Path(out_dir)
    if "onnx_parity" in report:
        op = report["onnx_parity"]
        click.echo(f"ONNX vs native on {op['rows']} rows: raw max |diff| {op['raw_max_abs_diff']:.2e}, "
                   f"calibrated {op['calibrated_max_abs_diff']:.2e}")
    click.echo(f"wrote {', '.join(report['files'].values())}, {out / 'report.json'}")
    if register:
        click.echo(_register_model(registry_dir, out, report))
    else:
        click.echo("not registered (--no-register)")
    if sentinel and not report["sentinel"]["passed"]:
        raise click.ClickException("the leakage sentinel failed: the pipeline finds signal in shuffled labels")


# --- bot4 models ----------------------------------------------------------------------------

_config = click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
                       help="TOML config file (default: built-in defaults + BOT4_* environment).")
_root = click.option("--root", help="Registry directory, overriding [ml] registry_dir.")
_dsn = click.option("--dsn", help="Store DSN for records and audit, overriding [ml] registry_dsn.")


def _open(config_path, root, dsn):
    """The existing registry the options name (created by registering: see `bot4 train`)."""
    from bot.config import ConfigError, load
    from bot.ml.registry import Registry, RegistryError
    from bot.store import StoreError, open_store

    try:
        cfg = load(config_path)
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    root = root or cfg.ml.registry_dir
    dsn = dsn if dsn is not None else cfg.ml.registry_dsn
    store = None
    try:
        if dsn:
            store = open_store(dsn, password_env=cfg.store.password_env, password_file=cfg.store.password_file,
                               create=False)
        return Registry(root, store=store, actor="cli", create=False)
    except (StoreError, RegistryError) as e:
        if store is not None:
            store.close()
        _fail(e)
    except OSError as e:
        if store is not None:
            store.close()
        _fail(f"cannot open the registry at {root}: {e.strerror or e}")


def _fail(e):
    click.echo(f"bot4 models: {e}", err=True)
    raise SystemExit(1)


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group("models")
def models():
    """Model registry: list, show, promote, rollback, verify."""


@models.command("list")
@_config
@_root
@_dsn
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_cmd(config_path, root, dsn, as_json):
    """List registered models: sha256 prefix, name, version, state, created, metrics."""
    with _open(config_path, root, dsn) as reg:
        entries = reg.list()
    if as_json:
        for e in entries:
            click.echo(json.dumps(e.to_dict(), sort_keys=True))
        return
    if not entries:
        click.echo("no models registered")
        return
    click.echo(f"{'sha256':16}  {'name':20} {'ver':>4}  {'state':10} {'created (UTC)':19}  metrics")
    for e in entries:
        metrics = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(e.metrics.items())
                           if isinstance(v, (int, float, str)))
        click.echo(f"{e.sha256[:16]}  {e.name[:20]:20} {e.version:>4}  {e.state:10} {_when(e.created_ns)}  {metrics}")


@models.command("show")
@click.argument("sha")
@_config
@_root
@_dsn
def show_cmd(sha, config_path, root, dsn):
    """Everything recorded about one model, its checksum status and its audit trail (JSON)."""
    from bot.ml.registry import RegistryError

    with _open(config_path, root, dsn) as reg:
        try:
            e = reg.get(sha)
        except RegistryError as err:
            _fail(err)
        out = e.to_dict()
        out["checksum_ok"] = reg.verify(e.sha256)
        out["audit"] = [{"ts": _when(a.ts_ns), "actor": a.actor, "from": a.old_value, **json.loads(a.new_value)}
                        for a in reg.audit_log(e.sha256)]
    click.echo(json.dumps(out, indent=2, sort_keys=True))


@models.command("promote")
@click.argument("sha")
@click.argument("state", type=click.Choice(["shadow", "canary", "active", "fallback", "retired"]))
@click.option("--reason", default="", help="Why (goes to the audit log).")
@_config
@_root
@_dsn
def promote_cmd(sha, state, reason, config_path, root, dsn):
    """Move a model to STATE (checked against the allowed transitions; verifies bytes first
    for canary, active and fallback)."""
    from bot.ml.registry import RegistryError

    with _open(config_path, root, dsn) as reg:
        try:
            before = reg.get(sha)
            e = reg.promote(sha, state, reason=reason or f"bot4 models promote {state}")
        except RegistryError as err:
            _fail(err)
    click.echo(f"{e.sha256[:16]} {e.name} v{e.version}: {before.state} -> {e.state}")


@models.command("rollback")
@click.option("--reason", required=True, help="Why (goes to the audit log).")
@click.option("--sha", default=None, help="The model to roll back (default: the canary, else the active model).")
@_config
@_root
@_dsn
def rollback_cmd(reason, sha, config_path, root, dsn):
    """Retire the canary, or replace the active model by the fallback."""
    from bot.ml.registry import RegistryError

    with _open(config_path, root, dsn) as reg:
        try:
            now = reg.rollback(reason, sha)
        except RegistryError as err:
            _fail(err)
    click.echo(f"rolled back; serving: {now.sha256[:16]} {now.name} v{now.version}" if now else "rolled back; no active model")


@models.command("verify")
@click.argument("sha", required=False)
@_config
@_root
@_dsn
def verify_cmd(sha, config_path, root, dsn):
    """Re-hash one model's bytes (or every non-retired model's) against the recorded SHA-256;
    exit 1 if any does not match."""
    from bot.ml.registry import ChecksumError, RegistryError

    bad = 0
    with _open(config_path, root, dsn) as reg:
        try:
            entries = [reg.get(sha)] if sha else [e for e in reg.list() if e.state != "retired"]
        except RegistryError as err:
            _fail(err)
        for e in entries:
            try:
                reg.load_bytes(e.sha256)
                click.echo(f"ok       {e.sha256[:16]} {e.name} v{e.version} ({e.state})")
            except ChecksumError as err:
                bad += 1
                click.echo(f"REFUSED  {e.sha256[:16]} {e.name} v{e.version} ({e.state}): {err}")
    if bad:
        _fail(f"{bad} model(s) failed verification")
