"""`bot4 train`: purged walk-forward CV, calibration and a model file from recorded or synthetic data."""

from __future__ import annotations

from pathlib import Path

import click

from bot.ml.models import BLENDS, MODEL_KINDS


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


def load_dataset(paths, seed, events, regimes, interval_ns, label_kw, every=0):
    """The labelled Dataset of the command's data arguments (see `train --help`)."""
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

    fmt, ev, inst = load_input(list(paths))
    if fmt == "ohlcv":
        raise click.ClickException("training needs book events (or a features file), not OHLCV bars")
    s = events_series(ev, interval_ns=interval_ns, every=every)
    return build_dataset(s["ts"], s["values"], meta={"source": ",".join(map(str, paths)), "format": fmt,
                                                     "symbol": inst.symbol, "interval_ns": 0 if every else interval_ns,
                                                     "every": every}, **label_kw)


def _register(registry_dir, out: Path, report: dict) -> str:
    """Register the ONNX model (trees + calibrator: what bot.ml.inference serves) through
    bot.ml.registry; returns a line for the user."""
    try:
        from bot.ml.registry import Registry
    except ImportError:
        return "not registered: bot.ml.registry is not available in this build"
    if "onnx" not in report["files"]:
        return (f"not registered: the registry serves ONNX and only --model lgbm exports to ONNX "
                f"(this is {report['config']['kind']}); the bundle is {out / 'model.json'}")
    meta = {k: report[k] for k in ("layout_version", "feature_names", "data_sha256", "metrics", "config",
                                   "bundle_sha256", "onnx_parity")}
    meta.update(name=f"bot4-{report['config']['kind']}", library_versions=report["libraries"], format="onnx")
    with Registry(registry_dir) as reg:
        rec = reg.register(out / "model.onnx", meta)
    return f"registered {rec.sha256} as {rec.name} v{rec.version} in {registry_dir} (state {rec.state})"


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
def train_cmd(paths, out_dir, seed, events, regimes, interval, every, label, horizon, horizon_samples, pt, sl, folds,
              embargo, purge, kind, blend, rounds, sentinel, registry_dir, register):
    """Train a classifier of the forward mid move with purged walk-forward CV.

    PATHS: recorded files (Binance, Tardis), a Bot4 event Parquet, or a features Parquet
    (`bot4 data features`); none: synthetic data (engine.synth) from --seed and --events.
    Prints each fold's AUC, log loss, Brier score and accuracy, and writes the model bundle
    (model + isotonic calibrators + metadata), for LightGBM the text model and the ONNX model
    (trees + calibrators), and a JSON report into --out; registers the ONNX model.
    """
    from bot.ml.train import TrainConfig, train

    interval_ns = _interval(interval, "--interval")
    horizon_ns = _interval(horizon, "--horizon")
    embargo_ns = 0 if embargo.strip() in ("0", "") else _interval(embargo, "--embargo")
    if label == "triple-barrier" and horizon_samples:
        raise click.UsageError("--horizon-samples applies to --label sign only")
    label_kw = {"label": label.replace("-", "_"), "horizon_ns": horizon_ns,
                "horizon_samples": horizon_samples or 0, "pt": pt, "sl": sl}
    try:
        ds = load_dataset(paths, seed, events, regimes, interval_ns, label_kw, every=every or 0)
        cfg = TrainConfig(n_splits=folds, embargo_ns=embargo_ns, purge=purge, kind=kind, blend=blend,
                          rounds=rounds, seed=seed)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
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
        if not registry_dir:
            from bot import config as config_mod

            registry_dir = config_mod.load().ml.registry_dir
        click.echo(_register(registry_dir, out, report))
    else:
        click.echo("not registered (--no-register)")
    if sentinel and not report["sentinel"]["passed"]:
        raise click.ClickException("the leakage sentinel failed: the pipeline finds signal in shuffled labels")
