"""`bot4 store ...`: migrate, check and export the store the configuration names.

The DSN comes from the config ([store] dsn, or BOT4_STORE_DSN) unless --dsn overrides it;
the PostgreSQL password only ever from the environment or the password file. Only `migrate`
creates a store; `check` and `export` refuse one that does not exist and create nothing.
Exit codes: 0 ok, 1 invariant violations found, 2 usage, 3 store error.
"""

from __future__ import annotations

import sys

import click


def _open(config_path, dsn, *, migrate: bool, create: bool):
    from bot.config import ConfigError, load
    from bot.store import open_store

    try:
        cfg = load(config_path)
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    s = cfg.store
    return open_store(dsn or s.dsn, password_env=s.password_env, password_file=s.password_file, migrate=migrate,
                      create=create)


def _fail(e: Exception):
    from bot.store.errors import StoreMissingError

    hint = " (check the DSN; `bot4 store migrate` creates a store)" if isinstance(e, StoreMissingError) else ""
    click.echo(f"bot4 store: {e}{hint}", err=True)
    sys.exit(3)


_config = click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
                       help="TOML config file (default: built-in defaults + BOT4_* environment).")
_dsn = click.option("--dsn", help="Store DSN, overriding the config (sqlite:///path or postgresql://...).")


@click.group("store")
def store():
    """Persistence: migrate, check, export."""


@store.command("migrate")
@_config
@_dsn
@click.option("--to", "target", type=click.IntRange(min=0), help="Migrate up to this version (default: latest).")
def migrate_cmd(config_path, dsn, target):
    """Apply pending schema migrations."""
    from bot.store.errors import StoreError

    try:
        st = _open(config_path, dsn, migrate=False, create=True)
        try:
            before = st.schema_version()
            applied = st.migrate(target)
            after = st.schema_version()
        finally:
            st.close()
    except StoreError as e:
        _fail(e)
    if applied:
        click.echo(f"migrated {st!r} from version {before} to {after} (applied {', '.join(map(str, applied))})")
    else:
        click.echo(f"{st!r} is at version {after}; nothing to apply")


@store.command("check")
@_config
@_dsn
@click.option("--run", "run_id", help="Check one run (default: all).")
def check_cmd(config_path, dsn, run_id):
    """Verify invariants: fills sum to order fills, positions equal fills, no orphan fills.
    Exits 1 and lists every violation if any."""
    from bot.store.errors import StoreError
    from bot.store.recovery import check

    try:
        st = _open(config_path, dsn, migrate=False, create=False)
        try:
            st.require_schema()
            violations = check(st, run_id)
            nruns = len(st.runs()) if run_id is None else 1
        finally:
            st.close()
    except StoreError as e:
        _fail(e)
    for v in violations:
        click.echo(str(v))
    if violations:
        click.echo(f"{len(violations)} violation(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {nruns} run(s) checked, no violations")


@store.command("export")
@_config
@_dsn
@click.option("--run", "run_id", required=True, help="Run to export.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
def export_cmd(config_path, dsn, run_id, out_dir):
    """Dump a run (orders, order events, fills, positions, balances) to Parquet files."""
    from bot.store.errors import StoreError
    from bot.store.recovery import export_run

    try:
        st = _open(config_path, dsn, migrate=False, create=False)
        try:
            st.require_schema()
            paths = export_run(st, run_id, out_dir)
        finally:
            st.close()
    except StoreError as e:
        _fail(e)
    except OSError as e:
        _fail(f"cannot write the export to {e.filename or out_dir}: {e.strerror or e}")
    for name, p in paths.items():
        click.echo(f"{name}: {p}")
