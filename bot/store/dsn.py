"""DSN parsing and the database password.

`sqlite:///relative/path.db` or `sqlite:////abs/path.db` choose SQLite;
`postgresql://user@host:port/db` (or `postgres://`) chooses PostgreSQL. The password never
lives in the DSN (which sits in the repo's config): it comes from the environment variable
named by `store.password_env` or from the file `store.password_file`, which must lie outside
the repository. A DSN that carries a password is refused without echoing it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bot.store.errors import StoreConfigError


@dataclass(frozen=True)
class ParsedDsn:
    backend: str  # "sqlite" | "postgresql"
    path: str = ""  # sqlite file path
    conninfo: str = ""  # postgresql DSN without password
    # The secret is kept out of repr() so it cannot reach a log line by accident.
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never shows the password
        target = self.path if self.backend == "sqlite" else self.conninfo
        return f"ParsedDsn({self.backend}:{target})"


def _repo_root(start: Path) -> Path | None:
    for p in (start, *start.parents):
        if (p / ".git").exists():
            return p
    try:
        out = subprocess.run(["git", "-C", str(start), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def read_password(password_env: str = "BOT4_DB_PASSWORD", password_file: str = "",
                  env=None) -> str | None:
    """The database password from the environment variable `password_env`, else from
    `password_file` (outside the repository), else None."""
    env = os.environ if env is None else env
    if password_env and env.get(password_env):
        return env[password_env]
    if password_file:
        p = Path(password_file).expanduser().resolve()
        for root in {r for r in (_repo_root(Path.cwd().resolve()),
                                 _repo_root(Path(__file__).resolve().parent)) if r is not None}:
            if p == root or root in p.parents:
                raise StoreConfigError(
                    f"store.password_file {p} is inside the repository {root}; keep secrets outside it")
        try:
            text = p.read_text()
        except OSError as e:
            raise StoreConfigError(f"store.password_file {p} cannot be read: {e.strerror}") from None
        return text.rstrip("\r\n")
    return None


def parse_dsn(dsn: str, password: str | None = None) -> ParsedDsn:
    if not isinstance(dsn, str) or not dsn:
        raise StoreConfigError(f"store.dsn must be a non-empty string, got {dsn!r}")
    if dsn.startswith("sqlite:"):
        rest = dsn[len("sqlite:"):]
        if ":memory:" in rest:
            raise StoreConfigError(f"store.dsn {dsn!r}: the SQLite store needs a file (a journal in memory is not durable)")
        if not rest.startswith("///") or len(rest) == 3:
            raise StoreConfigError(
                f"store.dsn {dsn!r}: a SQLite DSN is sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return ParsedDsn("sqlite", path=rest[3:])
    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        if parts.password is not None:
            safe = dsn.replace(":" + parts.password + "@", ":***@")
            raise StoreConfigError(
                f"store.dsn {safe} carries a password; put it in the environment variable named by "
                "store.password_env or in store.password_file (outside the repository)")
        if "password=" in (parts.query or ""):
            raise StoreConfigError("store.dsn carries a password= parameter; use store.password_env or store.password_file")
        return ParsedDsn("postgresql", conninfo=dsn, password=password)
    scheme = dsn.split(":", 1)[0]
    raise StoreConfigError(f"store.dsn scheme {scheme!r} is not supported; use sqlite:/// or postgresql://")
