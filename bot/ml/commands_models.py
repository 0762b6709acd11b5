"""`bot4 models list|show|promote|rollback|verify`: the model registry from the command line.

The registry root is --root, else [ml] registry_dir of the config (BOT4_ML_REGISTRY_DIR);
records and the audit log are in [ml] registry_dsn (--dsn), by default
sqlite:///<root>/registry.db. Models are named by SHA-256 or a unique prefix (>= 8 digits).
Errors print one line naming the problem and exit with status 1 (2 for usage errors).
"""

from __future__ import annotations

import json
from datetime import datetime, UTC

import click

_config = click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
                       help="TOML config file (default: built-in defaults + BOT4_* environment).")
_root = click.option("--root", help="Registry directory, overriding [ml] registry_dir.")
_dsn = click.option("--dsn", help="Store DSN for records and audit, overriding [ml] registry_dsn.")


def _open(config_path, root, dsn):
    from bot.config import ConfigError, load
    from bot.ml.registry import Registry

    try:
        cfg = load(config_path)
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    root = root or cfg.ml.registry_dir
    dsn = dsn if dsn is not None else cfg.ml.registry_dsn
    store = None
    if dsn:
        from bot.store import StoreError, open_store

        try:
            store = open_store(dsn, password_env=cfg.store.password_env, password_file=cfg.store.password_file)
        except StoreError as e:
            _fail(e)
    try:
        return Registry(root, store=store, actor="cli")
    except OSError as e:
        _fail(f"cannot open the registry at {root}: {e}")


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
