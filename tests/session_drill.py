"""A simulated trading session that journals orders and fills: the subject of the crash test.

    python tests/session_drill.py --dsn DSN --run RUN --seed 7 --events 100000 \
        [--schema S] [--rate 2000] [--batch-size 32] [--replay-overlap 50]

The session is a deterministic function of the seed (`session_events`), so a test can
compute exactly what any durable prefix must contain. On start the drill recovers the
run from the store, resumes after the last stored event id, and first re-appends the last
`--replay-overlap` events it already journaled (recovery must make that a no-op). It
prints `start <last_event_id>` once, then `durable <event_id>` whenever the journal's
durable watermark advances (each line flushed), and `done` at the end. Kill it with
SIGKILL at any moment: everything it reported durable must be in the store.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from decimal import Decimal

from bot.store.records import (
    BUY, SELL, Balance, FillRecord, InstrumentRecord, OrderEvent, StateCode, Run,
)

INSTRUMENTS = (
    InstrumentRecord("sim:BTCUSDT", "sim", "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001")),
    InstrumentRecord("sim:ETHUSDT", "sim", "ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.0001")),
)
START_BALANCES = {"USDT": Decimal("1000000"), "BTC": Decimal("2"), "ETH": Decimal("30")}
_MID = {"sim:BTCUSDT": 6_000_000, "sim:ETHUSDT": 300_000}  # ticks


def session_events(seed: int, n_events: int):
    """Yield `n_events` order events and fills with event ids 1..n_events, deterministic in
    `seed`: orders are placed, acknowledged, partly or fully filled, and cancelled."""
    rng = random.Random(seed)
    eid = 0
    ts = 1_723_000_000_000_000_000
    open_orders: dict[str, dict] = {}
    n_orders = 0
    while eid < n_events:
        ts += rng.randint(1_000, 5_000_000)
        r = rng.random()
        if not open_orders or (r < 0.3 and len(open_orders) < 30):
            n_orders += 1
            inst = rng.choice(INSTRUMENTS).instrument
            o = {"coid": f"c{seed}-{n_orders}", "inst": inst, "side": rng.choice((BUY, SELL)),
                 "price": _MID[inst] + rng.randint(-500, 500), "qty": rng.randint(1, 400), "filled": 0,
                 "acked": False, "oid": ""}
            open_orders[o["coid"]] = o
            eid += 1
            yield OrderEvent(eid, o["coid"], inst, o["side"], StateCode.PENDING_NEW, o["price"], o["qty"], 0, ts)
            continue
        o = open_orders[rng.choice(sorted(open_orders))]
        if not o["acked"]:
            o["acked"] = True
            o["oid"] = str(900_000_000 + n_orders * 7 + eid)
            eid += 1
            yield OrderEvent(eid, o["coid"], o["inst"], o["side"], StateCode.OPEN, o["price"], o["qty"],
                             o["filled"], ts, o["oid"])
        elif r < 0.85:
            left = o["qty"] - o["filled"]
            q = left if rng.random() < 0.4 else rng.randint(1, left)
            o["filled"] += q
            state = StateCode.FILLED if o["filled"] == o["qty"] else StateCode.PARTIALLY_FILLED
            eid += 1
            yield FillRecord(eid, o["coid"], o["inst"], o["side"], o["price"] + rng.randint(-3, 3), q, o["filled"], state,
                       ts, trade_id=f"t{eid}", order_id=o["oid"], fee_units=rng.randint(0, 10**7),
                       liquidity=rng.choice((1, 2)))
            if state == StateCode.FILLED:
                del open_orders[o["coid"]]
        else:
            eid += 1
            yield OrderEvent(eid, o["coid"], o["inst"], o["side"], StateCode.CANCELED, o["price"], o["qty"],
                             o["filled"], ts, o["oid"])
            del open_orders[o["coid"]]


def prepare(store, run_id: str) -> None:
    """Record the run, its instruments and opening balances (no-op if already there)."""
    if store.begin_run(Run(run_id, 1_723_000_000_000_000_000, "sim", '{"drill": true}')):
        for inst in INSTRUMENTS:
            store.put_instrument(inst)
        for asset, amount in START_BALANCES.items():
            store.put_balance(Balance(run_id, asset, amount, 1_723_000_000_000_000_000))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--schema")
    ap.add_argument("--run", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=0.0, help="events per second (0: as fast as possible)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--durability", default="batch")
    ap.add_argument("--replay-overlap", type=int, default=50)
    a = ap.parse_args(argv)

    from bot.store import open_store
    from bot.store.journal import Journal
    from bot.store.recovery import recover

    store = open_store(a.dsn, schema=a.schema) if a.schema else open_store(a.dsn)
    prepare(store, a.run)
    last = recover(store, a.run).last_event_id
    first = max(1, last - a.replay_overlap + 1)
    out = sys.stdout

    def report(eid: int) -> None:
        out.write(f"durable {eid}\n")
        out.flush()

    out.write(f"start {last}\n")
    out.flush()
    journal = Journal(store, a.run, batch_size=a.batch_size, durability=a.durability, max_in_flight=4096,
                      on_durable=report).start()
    t0 = time.monotonic()
    pushed = 0
    for rec in session_events(a.seed, a.events):
        if rec.event_id < first:
            continue
        while not journal.append(rec):
            time.sleep(0.0005)  # back-pressure: wait for the writer, never drop
        pushed += 1
        if a.rate > 0 and pushed % 16 == 0:
            ahead = pushed / a.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    journal.close()
    store.close()
    out.write("done\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
