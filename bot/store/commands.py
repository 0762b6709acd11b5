"""`bot4 store ...` (migrate, check and export the store) and `bot4 runs ...` (list the
runs a store holds, show one).

The store is named by `--store DSN` on every command (`--dsn` is accepted as its old name),
else by the config ([store] dsn, or BOT4_STORE_DSN); the PostgreSQL password only ever
from the environment or the password file. Only `migrate` creates a store; every other
command refuses one that does not exist and creates nothing.
Exit codes: 0 ok, 1 invariant violations found, 2 usage, 3 store error (an unknown run id
included).
"""

from __future__ import annotations

import json
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


def _fail(e: Exception, prog: str = "bot4 store"):
    from bot.store.errors import StoreMissingError

    hint = " (check the DSN; `bot4 store migrate` creates a store)" if isinstance(e, StoreMissingError) else ""
    click.echo(f"{prog}: {e}{hint}", err=True)
    sys.exit(3)


class _StoreOption(click.Option):
    """`--store` with `--dsn` as a second name: both work, help shows only `--store`."""

    def get_help_record(self, ctx):
        opts = self.opts
        self.opts = opts[:1]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts


_config = click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
                       help="TOML config file (default: built-in defaults + BOT4_* environment).")
_dsn = click.option("--store", "--dsn", "dsn", cls=_StoreOption, metavar="DSN",
                    help="The store (sqlite:///path or postgresql://...), overriding the config's [store] dsn.")


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


@click.group("runs")
def runs():
    """The runs a store holds: list them, show one."""


@runs.command("list")
@_config
@_dsn
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
def runs_list_cmd(config_path, dsn, as_json):
    """List the runs, newest first: id, kind, started, ended ("not ended": the run crashed or
    is still running), orders and fills. Times are UTC, wall clock."""
    from bot.store.errors import StoreError
    from bot.store.runs import run_summaries

    try:
        st = _open(config_path, dsn, migrate=False, create=False)
        try:
            st.require_schema()
            rows = run_summaries(st)
            where = repr(st)
        finally:
            st.close()
    except StoreError as e:
        _fail(e, "bot4 runs")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no runs in {where}")
        return
    width = max(len("RUN"), *(len(r["run_id"]) for r in rows))
    click.echo(f"{'RUN':<{width}}  {'KIND':<8}  {'STARTED (UTC)':<19}  {'ENDED (UTC)':<19}  {'ORDERS':>7}  {'FILLS':>7}")
    for r in rows:
        click.echo(f"{r['run_id']:<{width}}  {r['kind']:<8}  {r['started']:<19}  {r['ended'] or 'not ended':<19}  "
                   f"{r['orders']:>7}  {r['fills']:>7}")


@runs.command("show")
@_config
@_dsn
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def runs_show_cmd(config_path, dsn, run_id, as_json):
    """Show one run: its stored configuration (what `--resume` reuses) and its figures
    recovered from the store (events, orders, fills, position per instrument, balances)."""
    from bot.store.errors import StoreError
    from bot.store.runs import run_details

    try:
        st = _open(config_path, dsn, migrate=False, create=False)
        try:
            st.require_schema()
            d = run_details(st, run_id)
        finally:
            st.close()
    except StoreError as e:
        _fail(e, "bot4 runs")
    if as_json:
        click.echo(json.dumps(d, indent=2, default=str))
        return
    click.echo(f"run {d['run_id']} ({d['kind']})")
    ended = d["ended"] + " UTC" if d["ended"] else "not ended (it crashed or is still running)"
    click.echo(f"  started {d['started']} UTC, ended {ended}")
    click.echo(f"  journal: {d['last_event_id']} events; {d['orders']} orders ({d['open_orders']} open), "
               f"{d['fills']} fills")
    for p in d["positions"]:
        qty = f" ({p['net_qty']})" if p["net_qty"] is not None else ""
        click.echo(f"  position {p['instrument']}: {p['net_lots']} lots{qty}, fees {p['fees_quote']}")
    if d["balances"]:
        click.echo("  balances: " + ", ".join(f"{a} {v}" for a, v in d["balances"].items()))
    click.echo("  config:" + ("" if d["config"] else " (none stored)"))
    for k, v in sorted(d["config"].items()):
        click.echo(f"    {k}: {json.dumps(v, default=str)}")
    if d["ended"] is None and d["kind"] in ("sim", "backtest"):
        store_arg = f" --store {dsn}" if dsn else ""
        click.echo(f"  resume: bot4 {d['kind']}{store_arg} --resume {d['run_id']}")
