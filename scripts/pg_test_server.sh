#!/usr/bin/env bash
# Print a DSN of a reachable PostgreSQL server for the test suite, starting a throwaway one
# if needed. Used by `make pytest` / `make bench`:
#   BOT4_TEST_PG_DSN="${BOT4_TEST_PG_DSN:-$(bash scripts/pg_test_server.sh)}"
#
# 1. BOT4_TEST_PG_DSN set and reachable -> print it.
# 2. Otherwise a private cluster in $BOT4_PG_DIR (default /tmp/bot4-pg-$UID): initdb on first
#    use (trust auth, listening only on 127.0.0.1), started with pg_ctl on a free port, reused
#    by later runs (idempotent). Binaries from /usr/lib/postgresql/*/bin; if none exist and we
#    are root, `apt-get install -y postgresql-15` once.
# 3. No server at all -> print nothing and exit 0 (tests skip; under CI=true they fail).
# Diagnostics go to stderr only: stdout carries the DSN and nothing else.
set -u

log() { echo "pg_test_server: $*" >&2; }

reachable() {  # $1 = DSN
    [ -n "${PG_BIN:-}" ] || return 1
    "$PG_BIN/psql" "$1" -XAtqc 'select 1' >/dev/null 2>&1
}

find_bin() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then
            echo "$d"; return 0
        fi
    done
    return 1
}

PG_BIN="$(find_bin || true)"
if [ -z "$PG_BIN" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL binaries missing; installing postgresql-15"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 >&2; }
    PG_BIN="$(find_bin || true)"
fi

if [ -n "${BOT4_TEST_PG_DSN:-}" ]; then
    if reachable "$BOT4_TEST_PG_DSN"; then
        echo "$BOT4_TEST_PG_DSN"; exit 0
    fi
    log "BOT4_TEST_PG_DSN is set but not reachable; starting a private server instead"
fi
if [ -z "$PG_BIN" ]; then
    log "no PostgreSQL binaries; PostgreSQL tests will skip"
    exit 0
fi

DIR="${BOT4_PG_DIR:-/tmp/bot4-pg-$(id -u)}"
DATA="$DIR/data"
PORT_FILE="$DIR/port"

# The server refuses to run as root: initdb and pg_ctl run as the postgres user then.
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir "$DIR" --shell /bin/sh postgres >&2 || { log "cannot create user postgres"; exit 0; }
    fi
    RUN_AS=(runuser -u postgres --)
fi
DB_USER="$(if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi)"

dsn_for() { echo "postgresql://$DB_USER@127.0.0.1:$1/postgres"; }

# Already running from an earlier run?
if [ -f "$PORT_FILE" ] && [ -f "$DATA/postmaster.pid" ]; then
    port="$(cat "$PORT_FILE")"
    if reachable "$(dsn_for "$port")"; then
        dsn_for "$port"; exit 0
    fi
fi

mkdir -p "$DIR"
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    if ! "${RUN_AS[@]}" "$PG_BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust -E UTF8 \
            --no-instructions >"$DIR/initdb.log" 2>&1; then
        log "initdb failed (see $DIR/initdb.log)"; exit 0
    fi
fi

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# A stale pid file from a killed server would stop pg_ctl; it removes it itself if the pid is gone.
"${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
for attempt in 1 2 3; do
    port="$(free_port)"
    # fsync stays on: the journal's durability is what the tests exercise.
    if "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $DIR -c max_connections=200" \
            start >/dev/null 2>&1; then
        echo "$port" >"$PORT_FILE"
        if reachable "$(dsn_for "$port")"; then
            dsn_for "$port"; exit 0
        fi
    fi
    log "start attempt $attempt on port $port failed (see $DIR/server.log)"
done
log "could not start PostgreSQL; PostgreSQL tests will skip"
exit 0
