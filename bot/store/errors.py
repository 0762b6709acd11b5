"""Store errors. Every message names what failed (path, table, field, value) and never
carries a database password: backends pass driver messages through `redact` first."""


class StoreError(RuntimeError):
    """Base class for persistence errors."""


class StoreConfigError(StoreError, ValueError):
    """Bad DSN, bad option value, or a secret in the wrong place."""


class StoreConnectionError(StoreError):
    """The database could not be reached, or the connection was lost; nothing was committed."""


class StoreMissingError(StoreError):
    """The store does not exist (no SQLite file, no PostgreSQL schema) and the caller asked
    not to create it."""


class StoreCorruptError(StoreError):
    """The database file is corrupt, truncated, or not a database at all."""


class SchemaError(StoreError):
    """The schema is newer than this code knows, or a migration failed (and was rolled back)."""


class JournalError(StoreError):
    """The journal cannot accept records (writer stopped on an error, or misuse such as
    non-increasing event ids)."""


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by ***."""
    if secret:
        text = text.replace(secret, "***")
    return text
