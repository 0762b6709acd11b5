"""SQL shared by both backends. Statements are written with `?` placeholders; the cursor
wrapper rewrites them for the driver. Backends supply connections and transactions
(`_tx`, `_read`), decimal conversion, migrations, bulk paths and market-data loading.

The journal write (`write_journal_batch`) in one transaction:
  1. lock the run (SQLite: the database write lock of BEGIN IMMEDIATE; PostgreSQL:
     SELECT ... FOR UPDATE on the run row), so concurrent writers of one run serialize;
  2. find which event ids of the batch are already stored (one range scan per table) and
     drop them (and repeats inside the batch);
  3. insert the new order events and fills (SQLite: INSERT ... ON CONFLICT DO NOTHING;
     PostgreSQL: COPY), upsert one row per touched order (column by column the record
     with the higher event id wins, so arrival order does not matter), add the new
     fills' deltas to positions; if older order events arrive after newer fills of the
     same order, re-apply the newest stored fill to that order.
Step 2 under the lock of step 1 is what makes replay idempotent: a record is applied at
most once, and its side effects (order state, positions) with it; the primary key
(run_id, event_id) refuses a duplicate in any case (the whole batch then rolls back).
Cost per batch: two index range scans, one insert per record, one upsert per touched
order and instrument.
"""

from __future__ import annotations

from abc import abstractmethod
from decimal import Decimal

import numpy as np

from bot.store.errors import SchemaError, StoreError
from bot.store.interface import Store
from bot.store.records import (
    BAR_DTYPE, BUY, KIND_FILL, KIND_ORDER_EVENT, TRADE_DTYPE, AdaptiveParam, AuditEntry, Balance,
    JOURNAL_DTYPE, FillRecord, InstrumentRecord, ModelRecord, OrderRecord, OrderEvent, PerfFeedback, PositionRecord, QEntry,
    Run, decode_batch,
)

_ORDER_COLS = ("run_id", "client_order_id", "order_id", "instrument", "side", "state", "order_type",
               "price_ticks", "qty_lots", "filled_lots", "created_ns", "updated_ns", "last_event_id")
_FILL_COLS = ("run_id", "event_id", "client_order_id", "order_id", "trade_id", "instrument", "side",
              "price_ticks", "qty_lots", "fee_units", "liquidity", "order_filled_lots", "order_state", "ts_ns")
_EVENT_COLS = ("run_id", "event_id", "client_order_id", "order_id", "instrument", "side", "state",
               "order_type", "price_ticks", "qty_lots", "filled_lots", "ts_ns")
_POSITION_COLS = ("run_id", "instrument", "net_lots", "cost_tick_lots", "fee_units", "last_event_id")
# SQL type of every journal column, for backends that bind whole columns as arrays.
COLUMN_TYPES = {
    "run_id": "text", "client_order_id": "text", "order_id": "text", "trade_id": "text", "instrument": "text",
    "side": "int2", "state": "int2", "order_type": "int2", "liquidity": "int2", "order_state": "int2",
    "event_id": "int8", "price_ticks": "int8", "qty_lots": "int8", "filled_lots": "int8", "fee_units": "int8",
    "order_filled_lots": "int8", "ts_ns": "int8", "created_ns": "int8", "updated_ns": "int8",
    "last_event_id": "int8", "net_lots": "int8", "cost_tick_lots": "int8",
}
# Column by column: the newer event (by event id) wins the order's state, the venue order id
# is kept once known (it never changes), created_ns is the earliest event's time. So the
# row is the same whatever order the events arrive in.
_NEWER = "excluded.last_event_id > orders.last_event_id"
_ORDER_UPSERT = (
    "ON CONFLICT (run_id, client_order_id) DO UPDATE SET "
    "order_id = CASE WHEN orders.order_id = '' THEN excluded.order_id ELSE orders.order_id END, "
    + ", ".join(f"{c} = CASE WHEN {_NEWER} THEN excluded.{c} ELSE orders.{c} END"
                for c in ("state", "price_ticks", "qty_lots", "filled_lots", "updated_ns", "order_type"))
    + ", created_ns = CASE WHEN excluded.created_ns < orders.created_ns THEN excluded.created_ns "
    "ELSE orders.created_ns END, "
    f"last_event_id = CASE WHEN {_NEWER} THEN excluded.last_event_id ELSE orders.last_event_id END")
_POSITION_UPSERT = (
    "ON CONFLICT (run_id, instrument) DO UPDATE SET net_lots = positions.net_lots + excluded.net_lots, "
    "cost_tick_lots = positions.cost_tick_lots + excluded.cost_tick_lots, "
    "fee_units = positions.fee_units + excluded.fee_units, "
    "last_event_id = CASE WHEN excluded.last_event_id > positions.last_event_id "
    "THEN excluded.last_event_id ELSE positions.last_event_id END")

def _check_text(name: str, value, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value):
        raise StoreError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _check_decimal(name: str, value) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise StoreError(f"{name} must be a finite Decimal, got {value!r}")
    return value


class SqlStore(Store):
    backend = "sql"
    MIGRATIONS: list = []

    # -- backend hooks ---------------------------------------------------------------------
    @abstractmethod
    def _tx(self):
        """Context manager -> cursor wrapper, one write transaction."""

    @abstractmethod
    def _read(self):
        """Context manager -> cursor wrapper for reads."""

    def _dec_in(self, d: Decimal):
        return d

    @staticmethod
    def _dec_out(v) -> Decimal:
        return v if isinstance(v, Decimal) else Decimal(v)

    _FOR_UPDATE = ""

    # -- schema ----------------------------------------------------------------------------
    @property
    def latest_version(self) -> int:
        return len(self.MIGRATIONS)

    def schema_version(self) -> int:
        with self._read() as cur:
            if not self._has_table(cur, "schema_version"):
                return 0
            row = cur.one("SELECT MAX(version) FROM schema_version")
            return int(row[0] or 0)

    @abstractmethod
    def _has_table(self, cur, name: str) -> bool:
        """Whether the backend's current schema has table `name`."""

    def _migration_lock(self, cur) -> None:
        """Serialize concurrent migrators (inside the migration transaction)."""

    def migrate(self, target: int | None = None) -> list[int]:
        import time

        latest = self.latest_version
        target = latest if target is None else target
        if not isinstance(target, int) or not 0 <= target <= latest:
            raise SchemaError(f"migration target must be an integer in [0, {latest}], got {target!r}")
        applied = []
        while True:
            with self._tx() as cur:
                self._migration_lock(cur)
                cur.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                        "description TEXT NOT NULL, applied_ns BIGINT NOT NULL)")
                current = int(cur.one("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0])
                if current > latest:
                    raise SchemaError(f"database schema version {current} is newer than this code "
                                      f"(knows up to {latest}); upgrade bot4")
                if current >= target:
                    return applied
                step = self.MIGRATIONS[current]
                try:
                    for stmt in step.statements:
                        cur.run(stmt)
                except StoreError:
                    raise
                except Exception as e:
                    raise SchemaError(f"migration {step.version} ({step.description}) failed and was "
                                      f"rolled back: {self._describe(e)}") from None
                cur.run("INSERT INTO schema_version (version, description, applied_ns) VALUES (?, ?, ?)",
                        (step.version, step.description, time.time_ns()))
                applied.append(step.version)

    def _describe(self, e: Exception) -> str:
        return f"{type(e).__name__}: {e}"

    def require_schema(self) -> None:
        v = self.schema_version()
        if v != self.latest_version:
            raise SchemaError(f"database schema is at version {v}, this code needs {self.latest_version}; "
                              "run `bot4 store migrate`")

    # -- runs, instruments -----------------------------------------------------------------
    def begin_run(self, run: Run) -> bool:
        _check_text("run.run_id", run.run_id)
        _check_text("run.mode", run.mode)
        with self._tx() as cur:
            n = cur.run("INSERT INTO runs (run_id, started_ns, mode, config_json, ended_ns) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (run_id) DO NOTHING",
                        (run.run_id, run.started_ns, run.mode, run.config_json, run.ended_ns))
        return n == 1

    def end_run(self, run_id: str, ended_ns: int) -> None:
        with self._tx() as cur:
            if cur.run("UPDATE runs SET ended_ns = ? WHERE run_id = ?", (ended_ns, run_id)) != 1:
                raise StoreError(f"run_id {run_id!r} does not exist")

    def runs(self) -> list[Run]:
        with self._read() as cur:
            return [Run(*r) for r in cur.all(
                "SELECT run_id, started_ns, mode, config_json, ended_ns FROM runs ORDER BY started_ns, run_id")]

    def put_instrument(self, inst: InstrumentRecord) -> None:
        for name in ("instrument", "venue", "symbol", "base", "quote"):
            _check_text(f"instrument.{name}", getattr(inst, name))
        for name in ("tick_size", "lot_size", "min_notional"):
            v = _check_decimal(f"instrument.{name}", getattr(inst, name))
            if v < 0 or (v == 0 and name != "min_notional"):
                raise StoreError(f"instrument.{name} must be positive, got {v}")
        d = self._dec_in
        with self._tx() as cur:
            cur.run("INSERT INTO instruments (instrument, venue, symbol, base, quote, tick_size, lot_size, min_notional) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (instrument) DO UPDATE SET venue = excluded.venue, "
                    "symbol = excluded.symbol, base = excluded.base, quote = excluded.quote, "
                    "tick_size = excluded.tick_size, lot_size = excluded.lot_size, min_notional = excluded.min_notional",
                    (inst.instrument, inst.venue, inst.symbol, inst.base, inst.quote, d(inst.tick_size),
                     d(inst.lot_size), d(inst.min_notional)))

    def instruments(self) -> dict[str, InstrumentRecord]:
        o = self._dec_out
        with self._read() as cur:
            rows = cur.all("SELECT instrument, venue, symbol, base, quote, tick_size, lot_size, min_notional FROM instruments")
        return {r[0]: InstrumentRecord(*r[:5], o(r[5]), o(r[6]), o(r[7])) for r in rows}

    # -- journal -----------------------------------------------------------------------------
    def write_journal_batch(self, run_id: str, batch: np.ndarray) -> int:
        if not isinstance(batch, np.ndarray) or batch.dtype != JOURNAL_DTYPE or batch.ndim != 1:
            raise StoreError(f"journal batch must be a 1-D JOURNAL_DTYPE array, got {getattr(batch, 'dtype', type(batch))}")
        if len(batch) == 0:
            return 0
        kinds = batch["kind"]
        bad = np.flatnonzero((kinds != KIND_ORDER_EVENT) & (kinds != KIND_FILL))
        if len(bad):
            raise StoreError(f"journal record {int(bad[0])}: kind must be 1 or 2, got {int(kinds[bad[0]])}")
        eids = batch["event_id"]
        if int(eids.min()) < 1:
            raise StoreError(f"journal event_id must be >= 1, got {int(eids.min())}")
        if len(eids) > 1 and not bool(np.all(eids[1:] > eids[:-1])):
            # Apply in event-id order, each id once (the first occurrence wins).
            _, first = np.unique(eids, return_index=True)
            batch = batch[first]
            eids = batch["event_id"]
        lo, hi = int(eids[0]), int(eids[-1])
        with self._tx() as cur:
            if cur.one("SELECT 1 FROM runs WHERE run_id = ?" + self._FOR_UPDATE, (run_id,)) is None:
                raise StoreError(f"run_id {run_id!r} does not exist; begin_run first")
            seen = [r[0] for r in cur.all(
                "SELECT event_id FROM order_events WHERE run_id = ? AND event_id BETWEEN ? AND ?", (run_id, lo, hi))]
            seen += [r[0] for r in cur.all(
                "SELECT event_id FROM fills WHERE run_id = ? AND event_id BETWEEN ? AND ?", (run_id, lo, hi))]
            new = batch if not seen else batch[~np.isin(eids, np.array(seen, dtype=np.int64))]
            if len(new) == 0:
                return 0
            is_fill = new["kind"] == KIND_FILL
            ev, fl = new[~is_fill], new[is_fill]
            # Out-of-order arrival (a replay of older records after newer ones): a stored
            # fill may be newer than an order event of this batch; re-applied below.
            late_from = None
            if len(ev):
                newest_fill = cur.one("SELECT MAX(event_id) FROM fills WHERE run_id = ?", (run_id,))[0]
                if newest_fill is not None and newest_fill > int(ev["event_id"][0]):
                    late_from = int(ev["event_id"][0])
            order_rows: dict[str, list] = {}
            if len(ev):
                c = decode_batch(ev)
                n = len(ev)
                rows = list(zip([run_id] * n, c["event_id"], c["client_order_id"], c["order_id"], c["instrument"],
                                c["side"], c["state"], c["order_type"], c["price_ticks"], c["qty_lots"],
                                c["filled_lots"], c["ts_ns"]))
                self._bulk_insert(cur, "order_events", _EVENT_COLS, rows, "ON CONFLICT (run_id, event_id) DO NOTHING")
                # One row per order: its latest event (ids ascend, so the last wins); a new
                # order's created_ns is its first event's time.
                created: dict[str, int] = {}
                for k, t in zip(c["client_order_id"], c["ts_ns"]):
                    created.setdefault(k, t)
                order_rows = {r[2]: [run_id, r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], created[r[2]],
                                     r[11], r[1]] for r in rows}
            fill_updates = []
            if len(fl):
                c = decode_batch(fl)
                n = len(fl)
                rows = list(zip([run_id] * n, c["event_id"], c["client_order_id"], c["order_id"], c["trade_id"],
                                c["instrument"], c["side"], c["price_ticks"], c["qty_lots"], c["fee_units"],
                                c["liquidity"], c["filled_lots"], c["state"], c["ts_ns"]))
                self._bulk_insert(cur, "fills", _FILL_COLS, rows, "ON CONFLICT (run_id, event_id) DO NOTHING")
                for k, r in {r[2]: r for r in rows}.items():
                    o = order_rows.get(k)
                    if o is None:  # order row from an earlier batch: update it in place
                        fill_updates.append((r[11], r[12], r[13], r[1], run_id, k, r[1]))
                    elif r[1] > o[12]:  # the fill is the order's latest record: fold it in
                        o[5], o[9], o[11], o[12] = r[12], r[11], r[13], r[1]
                pos: dict[str, list] = {}
                for inst, side, price, qty, fee, eid in zip(c["instrument"], c["side"], c["price_ticks"],
                                                            c["qty_lots"], c["fee_units"], c["event_id"]):
                    p = pos.get(inst)
                    if p is None:
                        p = pos[inst] = [0, 0, 0, 0]
                    q = qty if side == BUY else -qty
                    p[0] += q
                    p[1] += q * price
                    p[2] += fee
                    p[3] = eid
                self._bulk_insert(cur, "positions", _POSITION_COLS,
                                  [(run_id, k, v[0], v[1], v[2], v[3]) for k, v in pos.items()], _POSITION_UPSERT)
            if order_rows:
                self._bulk_insert(cur, "orders", _ORDER_COLS, [tuple(o) for o in order_rows.values()], _ORDER_UPSERT)
            if fill_updates:
                self._update_orders_from_fills(cur, fill_updates)
            if late_from is not None:
                touched = set(decode_batch(ev)["client_order_id"])
                latest_fill: dict[str, tuple] = {}
                for coid, eid, filled, state, ts in cur.all(
                        "SELECT client_order_id, event_id, order_filled_lots, order_state, ts_ns FROM fills "
                        "WHERE run_id = ? AND event_id > ? ORDER BY event_id", (run_id, late_from)):
                    if coid in touched:
                        latest_fill[coid] = (filled, state, ts, eid, run_id, coid, eid)
                if latest_fill:
                    self._update_orders_from_fills(cur, list(latest_fill.values()))
        return len(new)

    def _bulk_insert(self, cur, table: str, cols: tuple[str, ...], rows: list[tuple], conflict: str) -> None:
        """INSERT rows (tuples in `cols` order) with the given ON CONFLICT clause."""
        marks = ", ".join("?" * len(cols))
        cur.many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) {conflict}", rows)

    def _update_orders_from_fills(self, cur, rows: list[tuple]) -> None:
        """rows: (filled_lots, state, updated_ns, last_event_id, run_id, client_order_id, event_id)."""
        cur.many("UPDATE orders SET filled_lots = ?, state = ?, updated_ns = ?, last_event_id = ? "
                 "WHERE run_id = ? AND client_order_id = ? AND last_event_id < ?", rows)

    def order_events(self, run_id: str) -> list[OrderEvent]:
        with self._read() as cur:
            rows = cur.all("SELECT event_id, client_order_id, instrument, side, state, price_ticks, qty_lots, "
                           "filled_lots, ts_ns, order_id, order_type FROM order_events WHERE run_id = ? "
                           "ORDER BY event_id", (run_id,))
        return [OrderEvent(*r) for r in rows]

    def fills(self, run_id: str) -> list[FillRecord]:
        with self._read() as cur:
            rows = cur.all("SELECT event_id, client_order_id, instrument, side, price_ticks, qty_lots, "
                           "order_filled_lots, order_state, ts_ns, trade_id, order_id, fee_units, liquidity "
                           "FROM fills WHERE run_id = ? ORDER BY event_id", (run_id,))
        return [FillRecord(*r) for r in rows]

    def orders(self, run_id: str) -> list[OrderRecord]:
        with self._read() as cur:
            rows = cur.all("SELECT run_id, client_order_id, instrument, side, state, price_ticks, qty_lots, "
                           "filled_lots, order_id, order_type, created_ns, updated_ns, last_event_id "
                           "FROM orders WHERE run_id = ? ORDER BY client_order_id", (run_id,))
        return [OrderRecord(*r) for r in rows]

    def positions(self, run_id: str) -> list[PositionRecord]:
        with self._read() as cur:
            rows = cur.all("SELECT run_id, instrument, net_lots, cost_tick_lots, fee_units, last_event_id "
                           "FROM positions WHERE run_id = ? ORDER BY instrument", (run_id,))
        return [PositionRecord(*r) for r in rows]

    def last_event_id(self, run_id: str) -> int:
        with self._read() as cur:
            a = cur.one("SELECT MAX(event_id) FROM order_events WHERE run_id = ?", (run_id,))[0]
            b = cur.one("SELECT MAX(event_id) FROM fills WHERE run_id = ?", (run_id,))[0]
        return int(max(a or 0, b or 0))

    def put_balance(self, bal: Balance) -> None:
        _check_text("balance.asset", bal.asset)
        _check_decimal("balance.amount", bal.amount)
        with self._tx() as cur:
            cur.run("INSERT INTO balances (run_id, asset, amount, ts_ns) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (run_id, asset) DO UPDATE SET amount = excluded.amount, ts_ns = excluded.ts_ns",
                    (bal.run_id, bal.asset, self._dec_in(bal.amount), bal.ts_ns))

    def balances(self, run_id: str) -> list[Balance]:
        with self._read() as cur:
            rows = cur.all("SELECT run_id, asset, amount, ts_ns FROM balances WHERE run_id = ? ORDER BY asset", (run_id,))
        return [Balance(r[0], r[1], self._dec_out(r[2]), r[3]) for r in rows]

    # -- learning and audit ----------------------------------------------------------------
    def put_param(self, p: AdaptiveParam) -> None:
        _check_text("param.name", p.name)
        for f in ("value", "min_value", "max_value"):
            _check_decimal(f"param.{f}", getattr(p, f))
        if not p.min_value <= p.value <= p.max_value:
            raise StoreError(f"param {p.name}: value {p.value} outside [min_value {p.min_value}, max_value {p.max_value}]")
        d = self._dec_in
        with self._tx() as cur:
            cur.run("INSERT INTO adaptive_params (name, value, min_value, max_value, regime, changed_ns) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                    "min_value = excluded.min_value, max_value = excluded.max_value, regime = excluded.regime, "
                    "changed_ns = excluded.changed_ns",
                    (p.name, d(p.value), d(p.min_value), d(p.max_value), p.regime, p.changed_ns))

    def params(self) -> list[AdaptiveParam]:
        o = self._dec_out
        with self._read() as cur:
            rows = cur.all("SELECT name, value, min_value, max_value, regime, changed_ns FROM adaptive_params ORDER BY name")
        return [AdaptiveParam(r[0], o(r[1]), o(r[2]), o(r[3]), r[4], r[5]) for r in rows]

    def put_q(self, entries) -> None:
        rows = []
        for e in entries:
            if not -(2**63) <= e.state_hash < 2**63:
                raise StoreError(f"q entry state_hash must fit int64, got {e.state_hash!r}")
            if e.visits < 0:
                raise StoreError(f"q entry visits must be >= 0, got {e.visits!r}")
            rows.append((e.state_hash, e.action, float(e.value), e.visits, float(e.avg_reward)))
        if not rows:
            return
        with self._tx() as cur:
            cur.many("INSERT INTO q_table (state_hash, action, value, visits, avg_reward) VALUES (?, ?, ?, ?, ?) "
                     "ON CONFLICT (state_hash, action) DO UPDATE SET value = excluded.value, "
                     "visits = excluded.visits, avg_reward = excluded.avg_reward", rows)

    def q_table(self) -> list[QEntry]:
        with self._read() as cur:
            return [QEntry(*r) for r in cur.all(
                "SELECT state_hash, action, value, visits, avg_reward FROM q_table ORDER BY state_hash, action")]

    def add_feedback(self, fb: PerfFeedback) -> int:
        _check_decimal("feedback.pnl", fb.pnl)
        with self._tx() as cur:
            return self._insert_returning_id(
                cur, "INSERT INTO perf_feedback (ts_ns, regime, action, pnl, reward) VALUES (?, ?, ?, ?, ?)",
                (fb.ts_ns, fb.regime, fb.action, self._dec_in(fb.pnl), float(fb.reward)))

    def feedback(self, since_ns: int = 0) -> list[PerfFeedback]:
        with self._read() as cur:
            rows = cur.all("SELECT ts_ns, regime, action, pnl, reward, id FROM perf_feedback WHERE ts_ns >= ? "
                           "ORDER BY ts_ns, id", (since_ns,))
        return [PerfFeedback(r[0], r[1], r[2], self._dec_out(r[3]), r[4], r[5]) for r in rows]

    def put_model(self, m: ModelRecord) -> None:
        for f in ("model_id", "name", "path", "sha256", "stage"):
            _check_text(f"model.{f}", getattr(m, f))
        with self._tx() as cur:
            cur.run("INSERT INTO model_registry (model_id, name, version, path, sha256, stage, metrics_json, created_ns) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model_id) DO UPDATE SET stage = excluded.stage, "
                    "metrics_json = excluded.metrics_json",
                    (m.model_id, m.name, m.version, m.path, m.sha256, m.stage, m.metrics_json, m.created_ns))

    def models(self) -> list[ModelRecord]:
        with self._read() as cur:
            return [ModelRecord(*r) for r in cur.all(
                "SELECT model_id, name, version, path, sha256, stage, metrics_json, created_ns FROM model_registry "
                "ORDER BY name, version")]

    def audit(self, entry: AuditEntry) -> int:
        for f in ("actor", "subject", "key"):
            _check_text(f"audit.{f}", getattr(entry, f))
        with self._tx() as cur:
            return self._insert_returning_id(
                cur, "INSERT INTO audit_log (ts_ns, actor, subject, key, old_value, new_value) VALUES (?, ?, ?, ?, ?, ?)",
                (entry.ts_ns, entry.actor, entry.subject, entry.key, entry.old_value, entry.new_value))

    def audit_log(self) -> list[AuditEntry]:
        with self._read() as cur:
            return [AuditEntry(*r) for r in cur.all(
                "SELECT ts_ns, actor, subject, key, old_value, new_value, id FROM audit_log ORDER BY id")]

    def _insert_returning_id(self, cur, sql: str, params: tuple) -> int:
        return int(cur.one(sql + " RETURNING id", params)[0])

    # -- market data -----------------------------------------------------------------------
    @staticmethod
    def _check_md(name: str, arr: np.ndarray, dtype: np.dtype) -> None:
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != 1:
            raise StoreError(f"{name} must be a 1-D array of dtype {dtype}, got {getattr(arr, 'dtype', type(arr))}")

    def bars(self, instrument: str, interval_s: int, start_ns: int, end_ns: int) -> np.ndarray:
        with self._read() as cur:
            rows = cur.all("SELECT ts_ns, open_ticks, high_ticks, low_ticks, close_ticks, volume_lots, trades FROM bars "
                           "WHERE instrument = ? AND interval_s = ? AND ts_ns >= ? AND ts_ns < ? ORDER BY ts_ns",
                           (instrument, interval_s, start_ns, end_ns))
        return np.array([tuple(r) for r in rows], dtype=BAR_DTYPE)

    def trades(self, instrument: str, start_ns: int, end_ns: int) -> np.ndarray:
        with self._read() as cur:
            rows = cur.all("SELECT ts_ns, trade_id, price_ticks, qty_lots, side FROM trades "
                           "WHERE instrument = ? AND ts_ns >= ? AND ts_ns < ? ORDER BY ts_ns, trade_id",
                           (instrument, start_ns, end_ns))
        return np.array([tuple(r) for r in rows], dtype=TRADE_DTYPE)

    @staticmethod
    def _bar_rows(instrument: str, interval_s: int, bars: np.ndarray) -> list[tuple]:
        cols = [bars[n].tolist() for n in BAR_DTYPE.names]
        return [(instrument, interval_s, *r) for r in zip(*cols, strict=True)]

    @staticmethod
    def _trade_rows(instrument: str, trades: np.ndarray) -> list[tuple]:
        cols = [trades[n].tolist() for n in TRADE_DTYPE.names]
        return [(instrument, *r) for r in zip(*cols, strict=True)]

    def _validate_bars(self, instrument, interval_s, bars):
        _check_text("instrument", instrument)
        if not isinstance(interval_s, int) or interval_s <= 0:
            raise StoreError(f"interval_s must be a positive int, got {interval_s!r}")
        self._check_md("bars", bars, BAR_DTYPE)
        bad = np.flatnonzero((bars["low"] > bars["high"]) | (bars["volume_lots"] < 0))
        if len(bad):
            raise StoreError(f"bars row {int(bad[0])}: low {int(bars['low'][bad[0]])} > high "
                             f"{int(bars['high'][bad[0]])} or negative volume")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._read() as cur:
            return [tuple(r) for r in cur.all(sql, params)]


class CursorWrapper:
    """`run` returns rowcount; `one`/`all` fetch; `many` is executemany. `conv` maps `?` SQL
    to the driver's placeholder style."""

    __slots__ = ("_cur", "_conv")

    def __init__(self, cur, conv):
        self._cur = cur
        self._conv = conv

    def run(self, sql: str, params: tuple = ()) -> int:
        self._cur.execute(self._conv(sql), params)
        return self._cur.rowcount

    def one(self, sql: str, params: tuple = ()):
        self._cur.execute(self._conv(sql), params)
        return self._cur.fetchone()

    def all(self, sql: str, params: tuple = ()) -> list:
        self._cur.execute(self._conv(sql), params)
        return self._cur.fetchall()

    def many(self, sql: str, rows: list) -> None:
        self._cur.executemany(self._conv(sql), rows)

    @property
    def raw(self):
        return self._cur

