"""Recovery, invariant checks and export of a run.

`recover(store, run_id)` rebuilds what a restarted engine needs: every order (and the open
ones), positions, and balances = the run's balance snapshot plus the effect of its fills
(base asset +/- quantity, quote asset -/+ notional and - fees, exact Decimals from the
instrument specs). Replaying the journal again changes nothing (the store skips stored
event ids), so a restarted session may re-append its last records safely.

`require_run(store, run_id)` is the run's record, or a StoreError naming the latest known runs.

`check(store, run_id=None)` lists broken invariants as `Violation`s (a `run_id` must be
recorded, or at least have journal rows):
  fills_vs_order      the fills of an order sum to the order's filled quantity
  overfill            no order is filled beyond its quantity
  position_vs_fills   each position equals the sum of its fills (quantity, notional, fees)
  orphan_fill         every fill belongs to a known order
  event_id_reused     an event id is either an order event or a fill, not both
  unknown_run         journal rows belong to a recorded run
and, on SQLite, the database file's own integrity check.

`export_run(store, run_id, out_dir)` writes the run's tables as Parquet files.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bot.store.errors import StoreError
from bot.store.records import BUY, FEE_SCALE, OPEN_STATES, RecoveredState, Violation


_JOURNAL_TABLES = ("order_events", "fills", "orders", "positions")


def require_run(store, run_id: str, *, shown: int = 5):
    """The recorded run `run_id`; StoreError naming it and a few known run ids if absent."""
    runs = store.runs()
    for r in runs:
        if r.run_id == run_id:
            return r
    if not runs:
        raise StoreError(f"run_id {run_id!r} does not exist: the store has no runs")
    recent = [r.run_id for r in runs[-shown:]]
    more = f" (and {len(runs) - len(recent)} older)" if len(runs) > len(recent) else ""
    raise StoreError(f"run_id {run_id!r} does not exist in the store; latest runs: {', '.join(recent)}{more}")


def recover(store, run_id: str) -> RecoveredState:
    require_run(store, run_id)
    orders = {o.client_order_id: o for o in store.orders(run_id)}
    positions = {p.instrument: p for p in store.positions(run_id)}
    balances: dict[str, Decimal] = {b.asset: b.amount for b in store.balances(run_id)}
    specs = store.instruments()
    for inst, p in positions.items():
        spec = specs.get(inst)
        if spec is None:
            raise StoreError(f"run {run_id}: position in instrument {inst!r} has no instrument spec; "
                             "put_instrument it before recovering balances")
        balances[spec.base] = balances.get(spec.base, Decimal(0)) + spec.lot_size * p.net_lots
        balances[spec.quote] = (balances.get(spec.quote, Decimal(0))
                                - spec.tick_size * spec.lot_size * p.cost_tick_lots - FEE_SCALE * p.fee_units)
    fill_count = int(store.query("SELECT COUNT(*) FROM fills WHERE run_id = ?", (run_id,))[0][0])
    return RecoveredState(
        run_id=run_id,
        last_event_id=store.last_event_id(run_id),
        orders=orders,
        open_orders={k: o for k, o in orders.items() if o.state in OPEN_STATES},
        positions=positions,
        balances=balances,
        fill_count=fill_count,
    )


def _run_filter(run_id: str | None, alias: str) -> tuple[str, tuple]:
    return (f" AND {alias}.run_id = ?", (run_id,)) if run_id is not None else ("", ())


def check(store, run_id: str | None = None) -> list[Violation]:
    """Every broken invariant (module docstring), of all runs or of `run_id`."""
    out: list[Violation] = []
    if hasattr(store, "integrity_check"):
        try:
            store.integrity_check()
        except StoreError as e:
            out.append(Violation("integrity", run_id or "*", "database", str(e)))
            return out
    if run_id is not None and not any(
            store.query(f"SELECT 1 FROM {t} WHERE run_id = ? LIMIT 1", (run_id,)) for t in _JOURNAL_TABLES):
        require_run(store, run_id)  # journal rows without a run row are an unknown_run violation below

    w, p = _run_filter(run_id, "o")
    for r, coid, filled, qty, fsum in store.query(
            "SELECT o.run_id, o.client_order_id, o.filled_lots, o.qty_lots, COALESCE(f.s, 0) FROM orders o "
            "LEFT JOIN (SELECT run_id, client_order_id, SUM(qty_lots) AS s FROM fills GROUP BY run_id, client_order_id) f "
            "ON f.run_id = o.run_id AND f.client_order_id = o.client_order_id WHERE 1 = 1" + w, p):
        if int(filled) != int(fsum):
            out.append(Violation("fills_vs_order", r, coid, f"fills sum to {int(fsum)} lots, order says filled {int(filled)}"))
        if int(filled) > int(qty):
            out.append(Violation("overfill", r, coid, f"filled {int(filled)} lots of an order for {int(qty)}"))

    wf, pf = _run_filter(run_id, "f")
    agg = {}
    for r, inst, n, c, fee in store.query(
            "SELECT f.run_id, f.instrument, SUM(CASE WHEN f.side = ? THEN f.qty_lots ELSE -f.qty_lots END), "
            "SUM(CASE WHEN f.side = ? THEN f.qty_lots * f.price_ticks ELSE -f.qty_lots * f.price_ticks END), "
            "SUM(f.fee_units) FROM fills f WHERE 1 = 1" + wf + " GROUP BY f.run_id, f.instrument", (BUY, BUY, *pf)):
        agg[(r, inst)] = (int(n), int(c), int(fee))
    wp, pp = _run_filter(run_id, "p")
    stored = {(r, inst): (int(n), int(c), int(fee)) for r, inst, n, c, fee in store.query(
        "SELECT p.run_id, p.instrument, p.net_lots, p.cost_tick_lots, p.fee_units FROM positions p WHERE 1 = 1" + wp, pp)}
    for key in sorted(set(agg) | set(stored)):
        want = agg.get(key, (0, 0, 0))
        have = stored.get(key, (0, 0, 0))
        if want != have:
            out.append(Violation("position_vs_fills", key[0], key[1],
                                 f"position (net_lots, cost_tick_lots, fee_units) = {have}, fills sum to {want}"))

    for r, eid, coid in store.query(
            "SELECT f.run_id, f.event_id, f.client_order_id FROM fills f LEFT JOIN orders o "
            "ON o.run_id = f.run_id AND o.client_order_id = f.client_order_id WHERE o.client_order_id IS NULL" + wf
            + " ORDER BY f.run_id, f.event_id", pf):
        out.append(Violation("orphan_fill", r, coid, f"fill event {eid} has no order"))

    we, pe = _run_filter(run_id, "e")
    for r, eid in store.query(
            "SELECT e.run_id, e.event_id FROM order_events e JOIN fills f ON f.run_id = e.run_id "
            "AND f.event_id = e.event_id WHERE 1 = 1" + we + " ORDER BY e.run_id, e.event_id", pe):
        out.append(Violation("event_id_reused", r, str(eid), "event id is both an order event and a fill"))

    for table in _JOURNAL_TABLES:
        wt, pt = _run_filter(run_id, "t")
        for (r,) in store.query(f"SELECT DISTINCT t.run_id FROM {table} t LEFT JOIN runs ON runs.run_id = t.run_id "
                                "WHERE runs.run_id IS NULL" + wt, pt):
            out.append(Violation("unknown_run", r, table, f"{table} rows belong to a run that is not recorded"))
    return out


def export_run(store, run_id: str, out_dir) -> dict[str, Path]:
    """Write the run's orders, order events, fills, positions and balances as Parquet.
    Integers stay int64; Decimals are written as exact strings."""
    import dataclasses

    import pyarrow as pa
    import pyarrow.parquet as pq

    runs = [require_run(store, run_id)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "run": runs,
        "order_events": store.order_events(run_id),
        "orders": store.orders(run_id),
        "fills": store.fills(run_id),
        "positions": store.positions(run_id),
        "balances": store.balances(run_id),
    }
    from bot.store import records as R
    types = {"run": R.Run, "order_events": R.OrderEvent, "orders": R.OrderRecord, "fills": R.FillRecord,
             "positions": R.PositionRecord, "balances": R.Balance}
    paths = {}
    for name, rows in tables.items():
        fields = []
        for f in dataclasses.fields(types[name]):
            t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            if t.startswith("int"):
                fields.append(pa.field(f.name, pa.int64(), nullable="None" in t))
            else:
                fields.append(pa.field(f.name, pa.string(), nullable="None" in t))
        schema = pa.schema(fields)
        cols = {f.name: [] for f in fields}
        for r in rows:
            for f in fields:
                v = getattr(r, f.name)
                cols[f.name].append(str(v) if isinstance(v, Decimal) else v)
        path = out / f"{name}.parquet"
        pq.write_table(pa.table(cols, schema=schema), path)
        paths[name] = path
    return paths
