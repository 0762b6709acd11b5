"""PostgreSQL schema steps. Decimal money is NUMERIC, market data tables are declaratively
partitioned by RANGE (ts_ns) with one partition per UTC month (created on load by
PostgresStore), the audit log is append-only by trigger (UPDATE, DELETE and TRUNCATE)."""
# Generated once from one template for both dialects; edit both files together.
from bot.store.migrations import Migration, check_ordered

MIGRATIONS = check_ordered([
    Migration(1, 'runs, instruments, journal (order events, fills), orders, positions, balances', (
        """CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, started_ns BIGINT NOT NULL, mode TEXT NOT NULL,
    config_json TEXT NOT NULL, ended_ns BIGINT)""",
        """CREATE TABLE instruments (
    instrument TEXT PRIMARY KEY, venue TEXT NOT NULL, symbol TEXT NOT NULL, base TEXT NOT NULL,
    quote TEXT NOT NULL, tick_size NUMERIC NOT NULL, lot_size NUMERIC NOT NULL, min_notional NUMERIC NOT NULL)""",
        """CREATE TABLE order_events (
    run_id TEXT NOT NULL, event_id BIGINT NOT NULL, client_order_id TEXT NOT NULL,
    order_id TEXT NOT NULL, instrument TEXT NOT NULL, side SMALLINT NOT NULL, state SMALLINT NOT NULL,
    order_type SMALLINT NOT NULL, price_ticks BIGINT NOT NULL, qty_lots BIGINT NOT NULL,
    filled_lots BIGINT NOT NULL, ts_ns BIGINT NOT NULL,
    PRIMARY KEY (run_id, event_id))""",
        """CREATE TABLE fills (
    run_id TEXT NOT NULL, event_id BIGINT NOT NULL, client_order_id TEXT NOT NULL,
    order_id TEXT NOT NULL, trade_id TEXT NOT NULL, instrument TEXT NOT NULL, side SMALLINT NOT NULL,
    price_ticks BIGINT NOT NULL, qty_lots BIGINT NOT NULL, fee_units BIGINT NOT NULL,
    liquidity SMALLINT NOT NULL, order_filled_lots BIGINT NOT NULL, order_state SMALLINT NOT NULL,
    ts_ns BIGINT NOT NULL,
    PRIMARY KEY (run_id, event_id))""",
        """CREATE TABLE orders (
    run_id TEXT NOT NULL, client_order_id TEXT NOT NULL, order_id TEXT NOT NULL,
    instrument TEXT NOT NULL, side SMALLINT NOT NULL, state SMALLINT NOT NULL,
    order_type SMALLINT NOT NULL, price_ticks BIGINT NOT NULL, qty_lots BIGINT NOT NULL,
    filled_lots BIGINT NOT NULL, created_ns BIGINT NOT NULL, updated_ns BIGINT NOT NULL,
    last_event_id BIGINT NOT NULL,
    PRIMARY KEY (run_id, client_order_id))""",
        'CREATE INDEX orders_by_state ON orders (run_id, state)',
        """CREATE TABLE positions (
    run_id TEXT NOT NULL, instrument TEXT NOT NULL, net_lots BIGINT NOT NULL,
    cost_tick_lots BIGINT NOT NULL, fee_units BIGINT NOT NULL, last_event_id BIGINT NOT NULL,
    PRIMARY KEY (run_id, instrument))""",
        """CREATE TABLE balances (
    run_id TEXT NOT NULL, asset TEXT NOT NULL, amount NUMERIC NOT NULL, ts_ns BIGINT NOT NULL,
    PRIMARY KEY (run_id, asset))""",
    )),
    Migration(2, 'adaptive parameters, Q table, performance feedback, model registry, audit log', (
        """CREATE TABLE adaptive_params (
    name TEXT PRIMARY KEY, value NUMERIC NOT NULL, min_value NUMERIC NOT NULL, max_value NUMERIC NOT NULL,
    regime TEXT NOT NULL, changed_ns BIGINT NOT NULL)""",
        """CREATE TABLE q_table (
    state_hash BIGINT NOT NULL, action INTEGER NOT NULL, value DOUBLE PRECISION NOT NULL,
    visits BIGINT NOT NULL, avg_reward DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (state_hash, action))""",
        """CREATE TABLE perf_feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts_ns BIGINT NOT NULL, regime TEXT NOT NULL, action INTEGER NOT NULL,
    pnl NUMERIC NOT NULL, reward DOUBLE PRECISION NOT NULL)""",
        'CREATE INDEX perf_feedback_by_ts ON perf_feedback (ts_ns)',
        """CREATE TABLE model_registry (
    model_id TEXT PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL, path TEXT NOT NULL,
    sha256 TEXT NOT NULL, stage TEXT NOT NULL, metrics_json TEXT NOT NULL, created_ns BIGINT NOT NULL,
    UNIQUE (name, version))""",
        """CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts_ns BIGINT NOT NULL, actor TEXT NOT NULL, subject TEXT NOT NULL,
    key TEXT NOT NULL, old_value TEXT NOT NULL, new_value TEXT NOT NULL)""",
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
        'CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()',
        'CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()',
    )),
    Migration(3, 'market data: bars and trades', (
        """CREATE TABLE bars (
    instrument TEXT NOT NULL, interval_s INTEGER NOT NULL, ts_ns BIGINT NOT NULL,
    open_ticks BIGINT NOT NULL, high_ticks BIGINT NOT NULL, low_ticks BIGINT NOT NULL,
    close_ticks BIGINT NOT NULL, volume_lots BIGINT NOT NULL, trades BIGINT NOT NULL,
    PRIMARY KEY (instrument, interval_s, ts_ns)) PARTITION BY RANGE (ts_ns)""",
        """CREATE TABLE trades (
    instrument TEXT NOT NULL, ts_ns BIGINT NOT NULL, trade_id BIGINT NOT NULL,
    price_ticks BIGINT NOT NULL, qty_lots BIGINT NOT NULL, side SMALLINT NOT NULL,
    PRIMARY KEY (instrument, ts_ns, trade_id)) PARTITION BY RANGE (ts_ns)""",
    )),
])
