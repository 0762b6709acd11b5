"""A throwaway store target for tests and benchmarks: a SQLite file in a directory, or a
fresh schema in a PostgreSQL database (dropped by `cleanup`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass
class StoreTarget:
    backend: str  # "sqlite" | "postgres"
    dsn: str
    schema: str | None = None

    @classmethod
    def sqlite(cls, directory: Path, name: str = "bot4-test.db") -> StoreTarget:
        return cls("sqlite", f"sqlite:///{Path(directory).resolve() / name}")

    @classmethod
    def postgres(cls, dsn: str) -> StoreTarget:
        return cls("postgres", dsn, "t_" + uuid.uuid4().hex[:16])

    @property
    def path(self) -> Path:
        if self.backend != "sqlite":
            raise ValueError("only a SQLite target has a file path")
        return Path(self.dsn[len("sqlite:///"):])

    def open(self, **kw):
        from bot.store import open_store
        if self.schema is not None:
            kw.setdefault("schema", self.schema)
        return open_store(self.dsn, **kw)

    def cli_args(self) -> list[str]:
        """--dsn (and --schema) arguments for tests/session_drill.py."""
        return ["--dsn", self.dsn] + (["--schema", self.schema] if self.schema else [])

    def cleanup(self) -> None:
        if self.schema is None:
            return
        import psycopg
        from psycopg import sql
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
