"""SQLite backend (stdlib sqlite3): the embedded default.

One connection per thread (WAL lets readers run beside the single writer), autocommit
mode with explicit `BEGIN IMMEDIATE` write transactions so the write lock is taken up
front (no lock upgrade deadlocks between writers; others wait up to `busy_timeout_s`).
`synchronous=FULL`: every commit fsyncs the WAL, so a committed journal batch survives a
crash or power loss; the durability policy chooses how many records share a commit.

Opening checks that the file is a SQLite database and runs `PRAGMA quick_check`, so a
corrupt or truncated file is a clear StoreCorruptError naming the path, not a failure
deep inside a later query. With create=False a missing file is a StoreMissingError and
every connection opens the file read-write without creating it (SQLite's `mode=rw`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import urllib.parse

from bot.store.errors import StoreConnectionError, StoreCorruptError, StoreError, StoreMissingError
from bot.store.migrations.sqlite import MIGRATIONS
from bot.store.sql import CursorWrapper, SqlStore

_HEADER = b"SQLite format 3\x00"
_CORRUPT_HINTS = ("malformed", "not a database", "disk image", "file is encrypted", "database corruption",
                  "disk i/o error", "short read")


def _same(sql: str) -> str:
    return sql


class SqliteStore(SqlStore):
    backend = "sqlite"
    MIGRATIONS = MIGRATIONS

    def __init__(self, path: str, *, busy_timeout_s: float = 30.0, check_integrity: bool = True,
                 migrate: bool = True, create: bool = True):
        self.path = os.path.abspath(os.path.expanduser(path))
        self._busy = float(busy_timeout_s)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        self._target = self.path if create else f"file:{urllib.parse.quote(self.path)}?mode=rw"
        if os.path.isdir(self.path):
            raise StoreError(f"SQLite database path {self.path} is a directory, not a database file")
        if not create and not os.path.exists(self.path):
            raise StoreMissingError(f"SQLite database {self.path} does not exist")
        parent = os.path.dirname(self.path)
        if not os.path.isdir(parent):
            raise StoreError(f"SQLite database directory {parent} does not exist")
        if not create and os.path.getsize(self.path) == 0:
            raise StoreCorruptError(f"SQLite file {self.path} is empty (0 bytes), not a database; "
                                    "restore it from a backup or move it away")
        if os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            try:
                with open(self.path, "rb") as f:
                    head = f.read(16)
            except OSError as e:
                raise StoreConnectionError(f"SQLite file {self.path} cannot be read: {e.strerror}") from None
            if head != _HEADER:
                raise StoreCorruptError(f"SQLite file {self.path} is not a SQLite database (bad header {head[:16]!r}); "
                                        "restore it from a backup or move it away")
        try:
            if check_integrity:
                self.integrity_check(quick=True)
            if migrate:
                self.migrate()
        except BaseException:
            self.close()  # a refused file keeps no connection (nor its -wal and -shm files)
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    # -- connections -----------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"SQLite store {self.path} is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self._target, isolation_level=None, check_same_thread=False,
                                       timeout=self._busy, uri=self._target != self.path)
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy * 1000)}")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise StoreError(f"SQLite file {self.path} could not switch to WAL (journal_mode={mode})")
                conn.execute("PRAGMA synchronous = FULL")
                # Bigger page cache and rarer WAL checkpoints (each one fsyncs the main file
                # inside some writer's commit); 16384 pages = 64 MiB of WAL between them.
                conn.execute("PRAGMA cache_size = -65536")
                conn.execute("PRAGMA wal_autocheckpoint = 16384")
            except BaseException as e:
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()
                if isinstance(e, sqlite3.DatabaseError):
                    raise self._map(e) from None
                raise
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def _map(self, e: Exception) -> StoreError:
        msg = str(e)
        if isinstance(e, sqlite3.DatabaseError) and any(h in msg.lower() for h in _CORRUPT_HINTS):
            return StoreCorruptError(f"SQLite file {self.path} is corrupt or truncated ({msg}); "
                                     "restore it from a backup or move it away")
        if isinstance(e, sqlite3.OperationalError) and "locked" in msg.lower():
            return StoreConnectionError(f"SQLite file {self.path} stayed locked for {self._busy:.0f}s: {msg}")
        if isinstance(e, sqlite3.OperationalError) and "unable to open" in msg.lower():
            return StoreConnectionError(f"SQLite file {self.path} cannot be opened: {msg}")
        return StoreError(f"SQLite {self.path}: {type(e).__name__}: {msg}")

    @contextlib.contextmanager
    def _tx(self):
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as e:
            raise self._map(e) from None
        try:
            yield CursorWrapper(conn.cursor(), _same)
            conn.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise self._map(e) from None
            raise

    @contextlib.contextmanager
    def _read(self):
        conn = self._conn()
        try:
            yield CursorWrapper(conn.cursor(), _same)
        except sqlite3.Error as e:
            raise self._map(e) from None

    def _has_table(self, cur, name: str) -> bool:
        return cur.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None

    def _dec_in(self, d):
        return str(d)

    def integrity_check(self, quick: bool = False) -> None:
        """Raise StoreCorruptError if SQLite's own check finds damage."""
        with self._read() as cur:
            rows = cur.all("PRAGMA quick_check" if quick else "PRAGMA integrity_check")
        msgs = [r[0] for r in rows]
        if msgs != ["ok"]:
            raise StoreCorruptError(f"SQLite file {self.path} is corrupt or truncated: {'; '.join(msgs[:5])}")

    def close(self) -> None:
        self._closed = True
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(sqlite3.Error):
                c.close()

    # -- market data -----------------------------------------------------------------------
    def load_bars(self, instrument: str, interval_s: int, bars) -> int:
        self._validate_bars(instrument, interval_s, bars)
        rows = self._bar_rows(instrument, interval_s, bars)
        with self._tx() as cur:
            cur.many("INSERT INTO bars (instrument, interval_s, ts_ns, open_ticks, high_ticks, low_ticks, "
                     "close_ticks, volume_lots, trades) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
        return len(rows)

    def load_trades(self, instrument: str, trades) -> int:
        from bot.store.records import TRADE_DTYPE
        self._check_md("trades", trades, TRADE_DTYPE)
        rows = self._trade_rows(instrument, trades)
        with self._tx() as cur:
            cur.many("INSERT INTO trades (instrument, ts_ns, trade_id, price_ticks, qty_lots, side) "
                     "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
        return len(rows)
