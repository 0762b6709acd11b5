"""What a store holds about its runs, for `bot4 runs list|show`.

`run_summaries(store)` lists every run, newest first: id, kind (the run's mode), started
and ended (wall clock, ns; ended is None for a run that never finished: it crashed or is
still running) and its numbers of orders and fills (two grouped counts, not a recovery).
`run_details(store, run_id)` is one run's stored configuration and its figures from
recovery (`bot.store.recovery.recover`): journaled events, orders, open orders, fills,
the position per instrument and the balances. An unknown run id is a StoreError naming a
few known ones (`bot.store.recovery.require_run`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.store.records import FEE_SCALE, Run
from bot.store.recovery import recover, require_run


def format_ns(ns: int | None) -> str | None:
    """A wall-clock time in ns as 'YYYY-MM-DD HH:MM:SS' (UTC); None stays None."""
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _dec(x) -> str:
    """An exact Decimal as plain text without trailing zeros (no exponent)."""
    return format(x.normalize(), "f")


def stored_config(run: Run) -> dict:
    """The configuration stored with the run (an empty dict if none or unreadable)."""
    try:
        cfg = json.loads(run.config_json or "{}")
    except ValueError:
        return {}
    return cfg if isinstance(cfg, dict) else {}


def _counts(store, table: str) -> dict[str, int]:
    return {r: int(n) for r, n in store.query(f"SELECT run_id, COUNT(*) FROM {table} GROUP BY run_id")}


def run_summaries(store) -> list[dict]:
    """One dict per run, newest first (module docstring)."""
    orders, fills = _counts(store, "orders"), _counts(store, "fills")
    out = []
    for r in sorted(store.runs(), key=lambda r: (r.started_ns, r.run_id), reverse=True):
        out.append({"run_id": r.run_id, "kind": r.mode, "started_ns": r.started_ns,
                    "started": format_ns(r.started_ns), "ended_ns": r.ended_ns, "ended": format_ns(r.ended_ns),
                    "orders": orders.get(r.run_id, 0), "fills": fills.get(r.run_id, 0)})
    return out


def run_details(store, run_id: str) -> dict:
    """One run's stored configuration and recovered figures (module docstring)."""
    run = require_run(store, run_id)
    rec = recover(store, run_id)
    specs = store.instruments()
    positions = []
    for key, p in sorted(rec.positions.items()):
        spec = specs.get(key)
        positions.append({
            "instrument": key, "net_lots": p.net_lots,
            "net_qty": _dec(spec.lot_size * p.net_lots) if spec is not None else None,
            "fees_quote": _dec(FEE_SCALE * p.fee_units),
            "last_event_id": p.last_event_id})
    return {
        "run_id": run.run_id, "kind": run.mode, "started_ns": run.started_ns, "started": format_ns(run.started_ns),
        "ended_ns": run.ended_ns, "ended": format_ns(run.ended_ns), "config": stored_config(run),
        "last_event_id": rec.last_event_id, "orders": len(rec.orders), "open_orders": len(rec.open_orders),
        "fills": rec.fill_count, "positions": positions,
        "balances": {asset: _dec(amount) for asset, amount in sorted(rec.balances.items())},
    }
