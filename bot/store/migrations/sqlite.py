"""SQLite schema steps. Decimal money is TEXT (exact), journal tables are WITHOUT ROWID
(clustered on their primary key), the audit log is append-only by trigger."""
# Generated once from one template for both dialects; edit both files together.
from bot.store.migrations import Migration, check_ordered

MIGRATIONS = check_ordered([
    Migration(1, 'runs, instruments, journal (order events, fills), orders, positions, balances', (
        """CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, started_ns BIGINT NOT NULL, mode TEXT NOT NULL,
    config_json TEXT NOT NULL, ended_ns BIGINT)""",
        """CREATE TABLE instruments (
    instrument TEXT PRIMARY KEY, venue TEXT NOT NULL, symbol TEXT NOT NULL, base TEXT NOT NULL,
    quote TEXT NOT NULL, tick_size TEXT NOT NULL, lot_size TEXT NOT NULL, min_notional TEXT NOT NULL)""",
        """CREATE TABLE order_events (
    run_id TEXT NOT NULL, event_id BIGINT NOT NULL, client_order_id TEXT NOT NULL,
    order_id TEXT NOT NULL, instrument TEXT NOT NULL, side SMALLINT NOT NULL, state SMALLINT NOT NULL,
    order_type SMALLINT NOT NULL, price_ticks BIGINT NOT NULL, qty_lots BIGINT NOT NULL,
    filled_lots BIGINT NOT NULL, ts_ns BIGINT NOT NULL,
    PRIMARY KEY (run_id, event_id)) WITHOUT ROWID""",
        """CREATE TABLE fills (
    run_id TEXT NOT NULL, event_id BIGINT NOT NULL, client_order_id TEXT NOT NULL,
    order_id TEXT NOT NULL, trade_id TEXT NOT NULL, instrument TEXT NOT NULL, side SMALLINT NOT NULL,
    price_ticks BIGINT NOT NULL, qty_lots BIGINT NOT NULL, fee_units BIGINT NOT NULL,
    liquidity SMALLINT NOT NULL, order_filled_lots BIGINT NOT NULL, order_state SMALLINT NOT NULL,
    ts_ns BIGINT NOT NULL,
    PRIMARY KEY (run_id, event_id)) WITHOUT ROWID""",
        """CREATE TABLE orders (
    run_id TEXT NOT NULL, client_order_id TEXT NOT NULL, order_id TEXT NOT NULL,
    instrument TEXT NOT NULL, side SMALLINT NOT NULL, state SMALLINT NOT NULL,
    order_type SMALLINT NOT NULL, price_ticks BIGINT NOT NULL, qty_lots BIGINT NOT NULL,
    filled_lots BIGINT NOT NULL, created_ns BIGINT NOT NULL, updated_ns BIGINT NOT NULL,
    last_event_id BIGINT NOT NULL,
    PRIMARY KEY (run_id, client_order_id)) WITHOUT ROWID""",
        'CREATE INDEX orders_by_state ON orders (run_id, state)',
        """CREATE TABLE positions (
    run_id TEXT NOT NULL, instrument TEXT NOT NULL, net_lots BIGINT NOT NULL,
    cost_tick_lots BIGINT NOT NULL, fee_units BIGINT NOT NULL, last_event_id BIGINT NOT NULL,
    PRIMARY KEY (run_id, instrument)) WITHOUT ROWID""",
        """CREATE TABLE balances (
    run_id TEXT NOT NULL, asset TEXT NOT NULL, amount TEXT NOT NULL, ts_ns BIGINT NOT NULL,
    PRIMARY KEY (run_id, asset))""",
    )),
    Migration(2, 'adaptive parameters, Q table, performance feedback, model registry, audit log', (
        """CREATE TABLE adaptive_params (
    name TEXT PRIMARY KEY, value TEXT NOT NULL, min_value TEXT NOT NULL, max_value TEXT NOT NULL,
    regime TEXT NOT NULL, changed_ns BIGINT NOT NULL)""",
        """CREATE TABLE q_table (
    state_hash BIGINT NOT NULL, action INTEGER NOT NULL, value REAL NOT NULL,
    visits BIGINT NOT NULL, avg_reward REAL NOT NULL,
    PRIMARY KEY (state_hash, action))""",
        """CREATE TABLE perf_feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ns BIGINT NOT NULL, regime TEXT NOT NULL, action INTEGER NOT NULL,
    pnl TEXT NOT NULL, reward REAL NOT NULL)""",
        'CREATE INDEX perf_feedback_by_ts ON perf_feedback (ts_ns)',
        """CREATE TABLE model_registry (
    model_id TEXT PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL, path TEXT NOT NULL,
    sha256 TEXT NOT NULL, stage TEXT NOT NULL, metrics_json TEXT NOT NULL, created_ns BIGINT NOT NULL,
    UNIQUE (name, version))""",
        """CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ns BIGINT NOT NULL, actor TEXT NOT NULL, subject TEXT NOT NULL,
    key TEXT NOT NULL, old_value TEXT NOT NULL, new_value TEXT NOT NULL)""",
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    )),
    Migration(3, 'market data: bars and trades', (
        """CREATE TABLE bars (
    instrument TEXT NOT NULL, interval_s INTEGER NOT NULL, ts_ns BIGINT NOT NULL,
    open_ticks BIGINT NOT NULL, high_ticks BIGINT NOT NULL, low_ticks BIGINT NOT NULL,
    close_ticks BIGINT NOT NULL, volume_lots BIGINT NOT NULL, trades BIGINT NOT NULL,
    PRIMARY KEY (instrument, interval_s, ts_ns)) WITHOUT ROWID""",
        """CREATE TABLE trades (
    instrument TEXT NOT NULL, ts_ns BIGINT NOT NULL, trade_id BIGINT NOT NULL,
    price_ticks BIGINT NOT NULL, qty_lots BIGINT NOT NULL, side SMALLINT NOT NULL,
    PRIMARY KEY (instrument, ts_ns, trade_id)) WITHOUT ROWID""",
    )),
])
