"""Persistence: one store interface (`Store`), SQLite and PostgreSQL backends chosen by DSN,
versioned migrations, a crash-safe journal fed through the engine's ring buffer, recovery,
invariant checks and Parquet export.

    store = open_store("sqlite:///./bot4.db")              # migrates to the latest schema
    store = open_store("postgresql://bot4@db:5432/bot4")    # password from $BOT4_DB_PASSWORD
    store = open_store(dsn, create=False, migrate=False)     # read-only tools: the store must exist
"""

from __future__ import annotations

from bot.store.dsn import parse_dsn, read_password
from bot.store.errors import (
    JournalError, SchemaError, StoreConfigError, StoreConnectionError, StoreCorruptError, StoreError,
    StoreMissingError,
)
from bot.store.interface import Store
from bot.store.journal import DurableGate, Journal
from bot.store.recovery import check, export_run, recover

__all__ = [
    "DurableGate", "Journal", "JournalError", "SchemaError", "Store", "StoreConfigError", "StoreConnectionError",
    "StoreCorruptError", "StoreError", "StoreMissingError", "check", "export_run", "open_store",
    "open_store_from_config", "recover",
]


def open_store(dsn: str, *, password: str | None = None, password_env: str = "BOT4_DB_PASSWORD",
               password_file: str = "", migrate: bool = True, schema: str | None = None, create: bool = True,
               **kwargs) -> Store:
    """Open the store a DSN names, migrating it to the latest schema unless migrate=False.

    create=True makes a store that does not exist yet (the SQLite file, the PostgreSQL
    `schema`); create=False raises StoreMissingError instead and creates nothing, for tools
    that only read a store (a mistyped path must not become a new, empty store).
    For PostgreSQL the password is `password` if given, else read from the environment
    variable `password_env` or the file `password_file` (outside the repository)."""
    parsed = parse_dsn(dsn)
    if parsed.backend == "sqlite":
        from bot.store.sqlite import SqliteStore
        if schema is not None:
            raise StoreConfigError("schema= applies to PostgreSQL only")
        return SqliteStore(parsed.path, migrate=migrate, create=create, **kwargs)
    from bot.store.postgres import PostgresStore
    if password is None:
        password = read_password(password_env, password_file)
    return PostgresStore(parsed.conninfo, password, schema=schema, migrate=migrate, create=create, **kwargs)


def open_store_from_config(cfg, *, migrate: bool = True, create: bool = True) -> Store:
    """open_store with the [store] section of a bot.config.Config."""
    s = cfg.store
    return open_store(s.dsn, password_env=s.password_env, password_file=s.password_file, migrate=migrate,
                      create=create)
