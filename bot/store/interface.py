"""The store interface: what the engine, OMS, learners and CLI may ask of persistence.

Two implementations, chosen by DSN (`bot.store.open_store`): `SqliteStore` and
`PostgresStore`. Both share their SQL in `bot.store.sql.SqlStore`; they differ in
connections, column types, migrations, partitioning and bulk loading.

Contracts every backend keeps:
- `write_journal_batch` applies a whole batch of journal records in one transaction or
  nothing; applying a record twice changes nothing (idempotent by (run_id, event_id)).
- Reads return the record types of `bot.store.records`; money comes back exact.
- Errors are `StoreError` subclasses with messages that never contain the password.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

import numpy as np

from bot.store.records import (
    AdaptiveParam, AuditEntry, Balance, FillRecord, InstrumentRecord, ModelRecord, OrderRecord, OrderEvent,
    PerfFeedback, PositionRecord, QEntry, Run,
)


class Store(abc.ABC):
    backend: str  # "sqlite" | "postgresql"

    # -- lifecycle and schema ------------------------------------------------------------
    @abc.abstractmethod
    def migrate(self, target: int | None = None) -> list[int]:
        """Apply pending migrations up to `target` (default: latest); return the versions applied."""

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The highest applied migration (0 for an empty database)."""

    @abc.abstractmethod
    def require_schema(self) -> None:
        """Raise SchemaError unless the database is at the latest schema version."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- runs, instruments ---------------------------------------------------------------
    @abc.abstractmethod
    def begin_run(self, run: Run) -> bool:
        """Record a run; False if it already exists (unchanged)."""

    @abc.abstractmethod
    def end_run(self, run_id: str, ended_ns: int) -> None: ...

    @abc.abstractmethod
    def runs(self) -> list[Run]: ...

    @abc.abstractmethod
    def put_instrument(self, inst: InstrumentRecord) -> None: ...

    @abc.abstractmethod
    def instruments(self) -> dict[str, InstrumentRecord]: ...

    # -- the journal ---------------------------------------------------------------------
    @abc.abstractmethod
    def write_journal_batch(self, run_id: str, batch: np.ndarray) -> int:
        """Apply a JOURNAL_DTYPE array atomically (order events, fills, order state,
        positions); records already stored are skipped. Returns how many were new."""

    def write_journal(self, run_id: str, records: Iterable[OrderEvent | FillRecord]) -> int:
        from bot.store.records import encode_many
        return self.write_journal_batch(run_id, encode_many(list(records)))

    @abc.abstractmethod
    def order_events(self, run_id: str) -> list[OrderEvent]: ...

    @abc.abstractmethod
    def fills(self, run_id: str) -> list[FillRecord]: ...

    @abc.abstractmethod
    def orders(self, run_id: str) -> list[OrderRecord]: ...

    @abc.abstractmethod
    def positions(self, run_id: str) -> list[PositionRecord]: ...

    @abc.abstractmethod
    def last_event_id(self, run_id: str) -> int:
        """The highest journaled event id of the run (0 if none)."""

    @abc.abstractmethod
    def put_balance(self, bal: Balance) -> None: ...

    @abc.abstractmethod
    def balances(self, run_id: str) -> list[Balance]: ...

    # -- learning and audit --------------------------------------------------------------
    @abc.abstractmethod
    def put_param(self, p: AdaptiveParam) -> None: ...

    @abc.abstractmethod
    def params(self) -> list[AdaptiveParam]: ...

    @abc.abstractmethod
    def put_q(self, entries: Iterable[QEntry]) -> None: ...

    @abc.abstractmethod
    def q_table(self) -> list[QEntry]: ...

    @abc.abstractmethod
    def add_feedback(self, fb: PerfFeedback) -> int: ...

    @abc.abstractmethod
    def feedback(self, since_ns: int = 0) -> list[PerfFeedback]: ...

    @abc.abstractmethod
    def put_model(self, m: ModelRecord) -> None: ...

    @abc.abstractmethod
    def models(self) -> list[ModelRecord]: ...

    @abc.abstractmethod
    def audit(self, entry: AuditEntry) -> int: ...

    @abc.abstractmethod
    def audit_log(self) -> list[AuditEntry]: ...

    # -- market data ---------------------------------------------------------------------
    @abc.abstractmethod
    def load_bars(self, instrument: str, interval_s: int, bars: np.ndarray) -> int:
        """Bulk-load a BAR_DTYPE array (rows already stored are skipped); returns rows given."""

    @abc.abstractmethod
    def bars(self, instrument: str, interval_s: int, start_ns: int, end_ns: int) -> np.ndarray: ...

    @abc.abstractmethod
    def load_trades(self, instrument: str, trades: np.ndarray) -> int: ...

    @abc.abstractmethod
    def trades(self, instrument: str, start_ns: int, end_ns: int) -> np.ndarray: ...

    # -- maintenance ---------------------------------------------------------------------
    @abc.abstractmethod
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run a read-only SQL statement (with ? placeholders); for checks and tools."""
