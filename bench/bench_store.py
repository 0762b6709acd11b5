"""Journal throughput and engine-loop stall, SQLite and PostgreSQL, with the default
durability policy ("batch": one fsync'd commit per batch of up to store.batch_size records).

Workload: a stream of orders, each one order event (new) followed by four fills, appended
one record at a time from the calling thread (the "engine loop") as fast as the journal
accepts them; back-pressure is waited out, never dropped. fills/s = fills / (first append
to last fill durable). Reference in the same run: the naive way, one INSERT and one
commit (fsync) per fill on the same database with the same durability settings.

The same again with records encoded before the timed loop and queued with `Journal.push`
(what a compiled producer does): fills/s without Python encoding on the producer side.

And the database side alone: `write_journal_batch` of the same records in batch_size
transactions from one thread (no ring, no writer thread, no GIL shared with a producer).

Stall: the time one `Journal.append` call (encode + ring push) takes on the engine thread
while the writer thread is busy, p50/p99/max in ns, and the same for a bare ring push of a
pre-encoded record (`Journal.push`).

PostgreSQL parts read BOT4_TEST_PG_DSN (make bench sets it with scripts/pg_test_server.sh)
and skip without it, except under CI=true where they fail.
"""

import sqlite3
import time
import uuid

import numpy as np
import psycopg

from bot.config import StoreConfig
from bot.store.journal import Journal
from bot.store.records import BUY, FillRecord, OrderEvent, StateCode, Run, encode

FILLS_PER_ORDER = 4
N_ORDERS = 10_000  # 40,000 fills + 10,000 order events per run
N_NAIVE = {"sqlite": 300, "postgres": 1000}


def stream(n_orders: int):
    recs = []
    eid = 0
    for k in range(n_orders):
        eid += 1
        coid = f"o{k}"
        recs.append(OrderEvent(eid, coid, "bench:BTCUSDT", k % 2, StateCode.OPEN, 6_000_000 + k % 100,
                               FILLS_PER_ORDER * 10, 0, eid, f"v{k}"))
        for j in range(FILLS_PER_ORDER):
            eid += 1
            state = StateCode.FILLED if j == FILLS_PER_ORDER - 1 else StateCode.PARTIALLY_FILLED
            recs.append(FillRecord(eid, coid, "bench:BTCUSDT", k % 2, 6_000_000 + k % 100 + j, 10, 10 * (j + 1), state,
                             eid, f"t{eid}", f"v{k}", 1234, 2))
    return recs


def journal_run(store, recs, raw: bool):
    """Append every record; return (seconds until all durable, per-call ns, journal stats)."""
    cfg = StoreConfig()
    run = f"bench-{uuid.uuid4().hex[:8]}"
    store.begin_run(Run(run, 1, "bench"))
    payload = [(encode(r), r.event_id) for r in recs] if raw else None
    lat = np.empty(len(recs), dtype=np.int64)
    clock = time.perf_counter_ns
    j = Journal.from_config(store, run, cfg).start()
    t0 = time.perf_counter()
    if raw:
        push = j.push
        for i, (b, eid) in enumerate(payload):
            a = clock()
            ok = push(b, eid)
            lat[i] = clock() - a
            while not ok:
                time.sleep(0.0002)
                ok = push(b, eid)
    else:
        append = j.append
        for i, r in enumerate(recs):
            a = clock()
            ok = append(r)
            lat[i] = clock() - a
            while not ok:
                time.sleep(0.0002)
                ok = append(r)
    assert j.flush(timeout=300)
    elapsed = time.perf_counter() - t0
    j.close()
    n_fills = sum(1 for r in recs if isinstance(r, FillRecord))
    assert len(store.fills(run)) == n_fills
    return elapsed, lat, j.stats()


def naive_fills_per_s(target, n: int) -> float:
    """One INSERT + COMMIT per fill, same database, same durability (fsync on commit)."""
    rows = [("naive", i, f"o{i}", "v", f"t{i}", "bench:BTCUSDT", BUY, 6_000_000, 10, 1234, 2, 10, 5, i)
            for i in range(1, n + 1)]
    sql = ("INSERT INTO fills (run_id, event_id, client_order_id, order_id, trade_id, instrument, side, price_ticks, "
           "qty_lots, fee_units, liquidity, order_filled_lots, order_state, ts_ns) VALUES ({})")
    if target.backend == "sqlite":
        con = sqlite3.connect(target.path, isolation_level=None)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = FULL")
        q = sql.format(", ".join("?" * 14))
        t0 = time.perf_counter()
        for r in rows:
            con.execute("BEGIN")
            con.execute(q, r)
            con.execute("COMMIT")
        el = time.perf_counter() - t0
        con.close()
    else:
        con = psycopg.connect(target.dsn, autocommit=False)
        con.execute(f"SET search_path TO {target.schema}")
        con.commit()
        q = sql.format(", ".join(["%s"] * 14))
        t0 = time.perf_counter()
        for r in rows:
            con.execute(q, r)
            con.commit()
        el = time.perf_counter() - t0
        con.close()
    return n / el


def test_journal_throughput_and_stall(target, figure):
    recs = stream(N_ORDERS)
    n_fills = N_ORDERS * FILLS_PER_ORDER
    name = target.backend
    with target.open() as store:
        elapsed, lat_append, stats = journal_run(store, recs, raw=False)
        elapsed_raw, lat_push, _ = journal_run(store, recs, raw=True)
        # The database side alone: the same records in batch_size transactions from this
        # thread, no ring and no writer thread (no GIL shared with a producer).
        from bot.store.records import encode_many
        arr = encode_many(recs)
        store.begin_run(Run("direct", 1, "bench"))
        step = StoreConfig().batch_size
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(arr), step):
            store.write_journal_batch("direct", arr[i:i + step])
        direct = n_fills / (time.perf_counter() - t0)
        direct_cpu = n_fills / (time.process_time() - c0)
    naive = naive_fills_per_s(target, N_NAIVE[name])
    figure(f"store.write_batch.{name}.fills_per_s", direct, "1/s")
    if name == "sqlite":
        # Per second of this process's CPU (SQLite runs in-process; fsync waits and time
        # the shared machine gives to others are left out). Not for PostgreSQL, whose work
        # is mostly in the server process.
        figure("store.write_batch.sqlite.fills_per_cpu_s", direct_cpu, "1/s")
    rate = n_fills / elapsed
    figure(f"store.journal.{name}.fills_per_s", rate, "1/s")
    figure(f"store.journal.{name}.records_per_s", len(recs) / elapsed, "1/s")
    # Records encoded before the loop (as a C/Cython producer would): the writer's capacity
    # without the Python encode competing for the GIL on the producer side.
    figure(f"store.journal.{name}.preencoded_fills_per_s", n_fills / elapsed_raw, "1/s")
    figure(f"store.journal.{name}.mean_batch_records", stats["written"] / stats["batches"], "records")
    figure(f"store.journal.{name}.naive_commit_per_fill_per_s", naive, "1/s")
    figure(f"store.journal.{name}.speedup_vs_naive", rate / naive, "x")
    figure(f"store.journal.{name}.append_p50_ns", float(np.percentile(lat_append, 50)), "ns")
    figure(f"store.journal.{name}.append_p99_ns", float(np.percentile(lat_append, 99)), "ns")
    figure(f"store.journal.{name}.append_max_ns", float(lat_append.max()), "ns")
    figure(f"store.journal.{name}.push_p50_ns", float(np.percentile(lat_push, 50)), "ns")
    figure(f"store.journal.{name}.push_p99_ns", float(np.percentile(lat_push, 99)), "ns")
