"""PostgreSQL backend: psycopg 3 with a psycopg_pool connection pool.

Connections are autocommit; every write is one explicit transaction
(`conn.transaction()`), so a batch commits whole or not at all. A connection lost mid-batch
(server restart, pg_terminate_backend, network) raises StoreConnectionError; the server
rolled the open transaction back, the pool discards the broken connection, and the
journal writer retries the batch (safe: batches are idempotent by event id). The
password is passed to libpq as a separate keyword (never in the DSN) and every driver
message is passed through `redact` before it reaches an exception.

Market data (`bars`, `trades`) are partitioned by RANGE (ts_ns), one partition per UTC
month, created on demand before a load; loads go through COPY into a temporary staging
table and then INSERT ... SELECT ... ON CONFLICT DO NOTHING, so a reload is idempotent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import weakref

import psycopg
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from bot.store.errors import StoreConnectionError, StoreError, StoreMissingError, redact
from bot.store.migrations.postgres import MIGRATIONS
from bot.store.records import TRADE_DTYPE
from bot.store.sql import COLUMN_TYPES, CursorWrapper, SqlStore

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@functools.lru_cache(maxsize=512)
def _to_pyformat(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _month_start_ns(year: int, month: int) -> int:
    return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000_000


def month_partitions(ts_min_ns: int, ts_max_ns: int) -> list[tuple[str, int, int]]:
    """(suffix, start_ns, end_ns) of every UTC month touching [ts_min_ns, ts_max_ns]."""
    t = dt.datetime.fromtimestamp(ts_min_ns // 1_000_000_000, tz=dt.UTC)
    y, m = t.year, t.month
    out = []
    while True:
        start = _month_start_ns(y, m)
        if start > ts_max_ns:
            break
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append((f"y{y:04d}m{m:02d}", start, _month_start_ns(ny, nm)))
        y, m = ny, nm
    return out


class PostgresStore(SqlStore):
    backend = "postgresql"
    MIGRATIONS = MIGRATIONS
    _FOR_UPDATE = " FOR UPDATE"
    # Up to this many rows a pipelined executemany beats a COPY into a staging table (a COPY
    # costs two extra round trips and a staging-table truncate at commit). Tests set 0 to
    # drive the staging path with small batches.
    small_rows = 32

    def __init__(self, conninfo: str, password: str | None = None, *, schema: str | None = None,
                 min_size: int = 1, max_size: int = 4, connect_timeout_s: int = 5, migrate: bool = True,
                 application_name: str = "bot4-store", create: bool = True):
        self._password = password
        self._staged: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # conn -> staging tables made
        self.schema = schema
        if schema is not None and not _SCHEMA_RE.match(schema):
            raise StoreError(f"schema must match {_SCHEMA_RE.pattern}, got {schema!r}")
        kwargs = {"autocommit": True, "connect_timeout": connect_timeout_s, "application_name": application_name}
        if password:
            kwargs["password"] = password
        self._conninfo = conninfo
        # Connect once directly: a bad DSN or unreachable server fails here, clearly and fast,
        # instead of as a pool timeout later; with create=False a missing schema is refused, not made.
        try:
            with psycopg.connect(conninfo, **kwargs) as conn:
                if schema is not None and not create:
                    if conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                                    (schema,)).fetchone() is None:
                        raise StoreMissingError(f"PostgreSQL {self._safe_target()}: schema {schema!r} does not exist")
                elif schema is not None:
                    # IF NOT EXISTS alone races between concurrent openers; the lock serializes them.
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("bot4-schema:" + schema,))
                        conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(schema)))
        except psycopg.Error as e:
            raise self._map(e, "connecting") from None
        configure = None
        if schema is not None:
            def configure(conn, _schema=schema):
                conn.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(_schema)))
        self._pool = ConnectionPool(conninfo, kwargs=kwargs, min_size=min_size, max_size=max_size,
                                    configure=configure, check=ConnectionPool.check_connection,
                                    open=False, name="bot4-store", timeout=30.0)
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s + 5)
        except psycopg.Error as e:
            self._pool.close()
            raise self._map(e, "opening the connection pool") from None
        if migrate:
            self.migrate()

    def __repr__(self) -> str:
        return f"PostgresStore({self._safe_target()}, schema={self.schema!r})"

    def _safe_target(self) -> str:
        try:
            info = psycopg.conninfo.conninfo_to_dict(self._conninfo)
        except psycopg.Error:
            return "<dsn>"
        return f"{info.get('user', '')}@{info.get('host', '')}:{info.get('port', '')}/{info.get('dbname', '')}"

    def _map(self, e: Exception, doing: str) -> StoreError:
        msg = redact(str(e).strip(), self._password)
        where = self._safe_target()
        if isinstance(e, psycopg.OperationalError):
            return StoreConnectionError(
                f"PostgreSQL {where}: connection failed or lost while {doing}; the transaction was rolled "
                f"back (or, if lost during COMMIT, its outcome is unknown: retry, writes are idempotent): {msg}")
        return StoreError(f"PostgreSQL {where}: {type(e).__name__} while {doing}: {msg}")

    def _describe(self, e: Exception) -> str:
        return redact(f"{type(e).__name__}: {e}", self._password)

    @contextlib.contextmanager
    def _tx(self):
        conn = None
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield CursorWrapper(cur, _to_pyformat)
        except BaseException as e:
            # A rolled-back transaction also rolled back any staging table it created.
            if conn is not None:
                self._staged.pop(conn, None)
            if isinstance(e, psycopg.Error):
                raise self._map(e, "writing") from None
            raise

    @contextlib.contextmanager
    def _read(self):
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                yield CursorWrapper(cur, _to_pyformat)
        except psycopg.Error as e:
            raise self._map(e, "reading") from None

    # Journal rows go in by binary COPY: per row it is several times cheaper than INSERT.
    # COPY has no ON CONFLICT, which is fine here: write_journal_batch has already removed
    # every stored event id under the run lock, and the primary key still refuses a
    # duplicate (the whole batch then rolls back). Upserts (orders, positions) COPY into a
    # per-connection temporary staging table and apply in one set-based statement.
    def _copy_rows(self, cur, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
        stmt = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            pgsql.Identifier(table), pgsql.SQL(", ").join(map(pgsql.Identifier, cols)))
        with cur.raw.copy(stmt) as cp:
            cp.set_types([COLUMN_TYPES[c] for c in cols])
            for r in rows:
                cp.write_row(r)

    def _stage(self, cur, name: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
        coldefs = pgsql.SQL(", ").join(
            pgsql.SQL("{} {}").format(pgsql.Identifier(c), pgsql.SQL(COLUMN_TYPES[c])) for c in cols)
        made = self._staged.setdefault(cur.raw.connection, set())
        if name not in made:
            cur.raw.execute(pgsql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
                pgsql.Identifier(name), coldefs))
            made.add(name)
        self._copy_rows(cur, name, cols, rows)

    def _bulk_insert(self, cur, table: str, cols: tuple[str, ...], rows: list[tuple], conflict: str) -> None:
        if table in ("order_events", "fills"):
            self._copy_rows(cur, table, cols, rows)
            return
        if len(rows) <= self.small_rows:
            super()._bulk_insert(cur, table, cols, rows, conflict)
            return
        stage = f"_stage_{table}"
        self._stage(cur, stage, cols, rows)
        collist = pgsql.SQL(", ").join(map(pgsql.Identifier, cols))
        cur.raw.execute(pgsql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} {}").format(
            pgsql.Identifier(table), collist, collist, pgsql.Identifier(stage), pgsql.SQL(conflict)))

    def _update_orders_from_fills(self, cur, rows: list[tuple]) -> None:
        if len(rows) <= self.small_rows:
            super()._update_orders_from_fills(cur, rows)
            return
        cols = ("filled_lots", "state", "updated_ns", "last_event_id", "run_id", "client_order_id")
        self._stage(cur, "_stage_fill_orders", cols, [r[:6] for r in rows])
        # The staging table is never analyzed, so the planner would hash-join it against a
        # sequential scan of all orders (cost growing with history). A batch touches few
        # orders: probe the primary key instead.
        cur.raw.execute("SET LOCAL enable_hashjoin = off")
        cur.raw.execute("SET LOCAL enable_mergejoin = off")
        cur.raw.execute(
            "UPDATE orders AS o SET filled_lots = u.filled_lots, state = u.state, updated_ns = u.updated_ns, "
            "last_event_id = u.last_event_id FROM _stage_fill_orders AS u WHERE o.run_id = u.run_id "
            "AND o.client_order_id = u.client_order_id AND o.last_event_id < u.last_event_id")

    def _has_table(self, cur, name: str) -> bool:
        return cur.one("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                       "AND table_name = ?", (name,)) is not None

    def _migration_lock(self, cur) -> None:
        cur.run("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")

    def close(self) -> None:
        self._pool.close()

    def drop_schema(self) -> None:
        """Drop this store's schema and everything in it (tests use one schema per test)."""
        if self.schema is None:
            raise StoreError("drop_schema needs a store opened with schema=...")
        with self._tx() as cur:
            cur.raw.execute(pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(pgsql.Identifier(self.schema)))

    # -- market data -----------------------------------------------------------------------
    def _ensure_partitions(self, cur, table: str, ts_min: int, ts_max: int) -> None:
        for suffix, start, end in month_partitions(ts_min, ts_max):
            cur.raw.execute(pgsql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                pgsql.Identifier(f"{table}_{suffix}"), pgsql.Identifier(table), pgsql.Literal(start), pgsql.Literal(end)))

    def _copy_load(self, table: str, cols: list[str], rows: list[tuple], ts_min: int, ts_max: int) -> None:
        stage = f"_stage_{table}"
        with self._tx() as cur:
            # Partition DDL takes a lock on the parent; concurrent loaders serialize here.
            cur.run("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ?))", (table,))
            self._ensure_partitions(cur, table, ts_min, ts_max)
            cur.raw.execute(pgsql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS").format(
                pgsql.Identifier(stage), pgsql.Identifier(table)))
            collist = pgsql.SQL(", ").join(map(pgsql.Identifier, cols))
            with cur.raw.copy(pgsql.SQL("COPY {} ({}) FROM STDIN").format(pgsql.Identifier(stage), collist)) as cp:
                for r in rows:
                    cp.write_row(r)
            cur.raw.execute(pgsql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
                pgsql.Identifier(table), collist, collist, pgsql.Identifier(stage)))

    def load_bars(self, instrument: str, interval_s: int, bars) -> int:
        self._validate_bars(instrument, interval_s, bars)
        if len(bars) == 0:
            return 0
        rows = self._bar_rows(instrument, interval_s, bars)
        self._copy_load("bars", ["instrument", "interval_s", "ts_ns", "open_ticks", "high_ticks", "low_ticks",
                                 "close_ticks", "volume_lots", "trades"], rows,
                        int(bars["ts_ns"].min()), int(bars["ts_ns"].max()))
        return len(rows)

    def load_trades(self, instrument: str, trades) -> int:
        self._check_md("trades", trades, TRADE_DTYPE)
        if len(trades) == 0:
            return 0
        rows = self._trade_rows(instrument, trades)
        self._copy_load("trades", ["instrument", "ts_ns", "trade_id", "price_ticks", "qty_lots", "side"], rows,
                        int(trades["ts_ns"].min()), int(trades["ts_ns"].max()))
        return len(rows)

    def partitions(self, table: str) -> list[str]:
        """Names of the partitions of a partitioned table (for tests and tools)."""
        with self._read() as cur:
            return [r[0] for r in cur.all(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
                "WHERE p.relname = ? AND n.nspname = current_schema() ORDER BY c.relname", (table,))]
