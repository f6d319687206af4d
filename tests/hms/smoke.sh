#!/usr/bin/env bash
# End-to-end proof of the Hive Metastore real-client harness (tests/hms/hms.py), on throwaway
# MariaDB and PostgreSQL servers that this script starts on free loopback ports and stops by pid
# (also on failure or Ctrl-C).
#
# For each engine:
#   1. create-schema   on database hms_src (MariaDB: created utf8mb4, switched to latin1 by hms.py)
#   2. populate        the retail sample through Spark          -> $WORK/<engine>/populate.json
#   3. copy            hms_src -> hms_dst with the engine's own dump tool (a stand-in for a restore)
#   4. read --expect   on hms_dst: every table, row count, partition, function, location must match
#   5. write-more      on hms_dst: new database/table/partition (DataNucleus ids still work)
#   6. writer          on hms_src for a few seconds
#
#   bash tests/hms/smoke.sh                     # both engines
#   HMS_SMOKE_ENGINES=postgres bash tests/hms/smoke.sh
#   HMS_SMOKE_KEEP=1 ...                        # keep $WORK (JSON outputs, server logs)
#
# Prints a summary line "N passed, N failed" at the end; exits non-zero if any step failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=../../scripts/hms-env.sh
source scripts/hms-env.sh >/dev/null

ENGINES="${HMS_SMOKE_ENGINES:-mariadb postgres}"
WRITER_SECONDS="${HMS_SMOKE_WRITER_SECONDS:-8}"
WORK="$(mktemp -d /tmp/tandem-hms-smoke.XXXXXX)"
chmod 755 "$WORK"
HMS=(env SPARK_LOCAL_IP=127.0.0.1 "$SPARK_PY" "$ROOT/tests/hms/hms.py")
PIDS=()
STEP_PID=
PASSED=0
FAILED=0

say() { printf '%s smoke: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

source "$ROOT/scripts/proc.sh"

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    # a running hms.py step (its Spark JVM exits when the Python driver goes away)
    [ -n "$STEP_PID" ] && stop_pid "$STEP_PID"
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if [ "${HMS_SMOKE_KEEP:-0}" = 1 ]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # what, timeout seconds, command...
    local what=$1 t=$2 i
    shift 2
    for i in $(seq 1 $((t * 5))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    say "$what did not come up"
    return 1
}

start_mariadb() { # dir port -> sets MY_SQL (client command) and appends the pid
    local dir=$1 port=$2
    mkdir -p "$dir"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
        --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1 \
        || { tail -20 "$dir/install.log" >&2; return 1; }
    mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/s.sock" --port="$port" \
        --bind-address=127.0.0.1 --user=root --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
        --innodb-flush-log-at-trx-commit=2 >"$dir/server.log" 2>&1 &
    PIDS+=($!)
    wait_for "mariadbd" 60 mariadb --no-defaults --socket="$dir/s.sock" -e "SELECT 1" || { tail -20 "$dir/server.log" >&2; return 1; }
    mariadb --no-defaults --socket="$dir/s.sock" -e "
        CREATE USER 'tandem'@'%' IDENTIFIED BY 'tandem-pw';
        GRANT ALL PRIVILEGES ON *.* TO 'tandem'@'%' WITH GRANT OPTION;
        CREATE DATABASE hms_src; CREATE DATABASE hms_dst;" || return 1
}

# Prefix that runs a command as the postgres user when we are root (PostgreSQL refuses root).
# An array, not a function: `func &` would fork a subshell and $! would not be the server's pid.
AS_PG=()
[ "$(id -u)" = 0 ] && AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)

start_postgres() { # dir port
    local dir=$1 port=$2 bin
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    mkdir -p "$dir"
    echo "tandem-pw" >"$dir/pw"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
    "${AS_PG[@]}" "$bin/initdb" -D "$dir/data" -U tandem --pwfile="$dir/pw" --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync >"$dir/install.log" 2>&1 \
        || { tail -20 "$dir/install.log" >&2; return 1; }
    "${AS_PG[@]}" "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 \
        -c fsync=off -c synchronous_commit=off >"$dir/server.log" 2>&1 &
    PIDS+=($!)
    wait_for "postgres" 60 env PGPASSWORD=tandem-pw psql -h 127.0.0.1 -p "$port" -U tandem -d postgres -c "SELECT 1" \
        || { tail -20 "$dir/server.log" >&2; return 1; }
    PGPASSWORD=tandem-pw psql -q -h 127.0.0.1 -p "$port" -U tandem -d postgres \
        -c "CREATE DATABASE hms_src" -c "CREATE DATABASE hms_dst" || return 1
}

step() { # name, command... ; stdout -> $OUT/<name>.json, stderr -> $OUT/<name>.err
    local name=$1 t0 rc
    shift
    t0=$(date +%s.%N)
    say "$ENGINE: $name ..."
    # in the background + wait, so that a signal reaches our trap at once (not after the step)
    "$@" >"$OUT/$name.json" 2>"$OUT/$name.err" &
    STEP_PID=$!
    set +e
    wait "$STEP_PID"
    rc=$?
    set -e
    STEP_PID=
    local secs
    secs=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
    if [ $rc = 0 ]; then
        PASSED=$((PASSED + 1))
        say "$ENGINE: $name ok (${secs}s)"
        echo "$ENGINE $name ${secs}s" >>"$WORK/timings.txt"
    else
        FAILED=$((FAILED + 1))
        say "$ENGINE: $name FAILED (rc=$rc, ${secs}s); last stderr lines:"
        tail -15 "$OUT/$name.err" >&2
        return 1
    fi
}

run_engine() {
    local port url_src url_dst dir="$WORK/$ENGINE"
    OUT="$dir/out"
    mkdir -p "$OUT" "$dir/warehouse"
    chmod 755 "$dir"
    port=$(free_port)
    say "$ENGINE: starting server on 127.0.0.1:$port"
    if [ "$ENGINE" = mariadb ]; then
        start_mariadb "$dir/server" "$port" || return 1
        url_src="jdbc:mysql://127.0.0.1:$port/hms_src"
        url_dst="jdbc:mysql://127.0.0.1:$port/hms_dst"
    else
        start_postgres "$dir/server" "$port" || return 1
        url_src="jdbc:postgresql://127.0.0.1:$port/hms_src"
        url_dst="jdbc:postgresql://127.0.0.1:$port/hms_dst"
    fi
    local common=(--engine "$ENGINE" --user tandem --password tandem-pw)
    local wh="$dir/warehouse"

    step create-schema "${HMS[@]}" create-schema "${common[@]}" --jdbc-url "$url_src" || return 1
    step populate "${HMS[@]}" populate "${common[@]}" --jdbc-url "$url_src" --warehouse "$wh" || return 1

    say "$ENGINE: copying hms_src -> hms_dst with the engine's dump tool"
    if [ "$ENGINE" = mariadb ]; then
        mariadb-dump --no-defaults --socket="$dir/server/s.sock" --single-transaction hms_src \
            | mariadb --no-defaults --socket="$dir/server/s.sock" hms_dst || { say "copy failed"; FAILED=$((FAILED + 1)); return 1; }
    else
        PGPASSWORD=tandem-pw pg_dump -h 127.0.0.1 -p "$port" -U tandem hms_src \
            | PGPASSWORD=tandem-pw psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U tandem -d hms_dst >/dev/null \
            || { say "copy failed"; FAILED=$((FAILED + 1)); return 1; }
    fi

    step read-copy "${HMS[@]}" read "${common[@]}" --jdbc-url "$url_dst" --warehouse "$wh" \
        --expect "$OUT/populate.json" || return 1
    step write-more-copy "${HMS[@]}" write-more "${common[@]}" --jdbc-url "$url_dst" --warehouse "$wh" \
        --tag smoke || return 1
    step writer "${HMS[@]}" writer "${common[@]}" --jdbc-url "$url_src" --warehouse "$wh" \
        --duration "$WRITER_SECONDS" || return 1
    step check python3 - "$OUT" <<'EOF' || return 1
import json, sys
out = sys.argv[1]
pop = json.load(open(f"{out}/populate.json"))
more = json.load(open(f"{out}/write-more-copy.json"))
last = [json.loads(l) for l in open(f"{out}/writer.json") if l.strip()][-1]
assert pop["tables"]["retail.customers"] == 5, pop["tables"]
assert more["tables"]["more_smoke.items"] == 3 and more["partitions"]["retail.orders"] == 4, more
assert last["writer"] == "done" and last["iterations"] >= 1 and not last["errors"], last
print(f"  populate: {len(pop['tables'])} tables, {sum(pop['partitions'].values())} partitions, "
      f"seconds {pop['seconds']}", file=sys.stderr)
print(f"  writer: {last['iterations']} iterations", file=sys.stderr)
EOF
    cat "$OUT/check.err" >&2
}

for ENGINE in $ENGINES; do
    case "$ENGINE" in mariadb | postgres) ;; *) say "unknown engine $ENGINE"; exit 2 ;; esac
    if ! run_engine; then
        say "$ENGINE: failed (outputs in $WORK/$ENGINE/out; set HMS_SMOKE_KEEP=1 to keep them)"
    fi
    # stop this engine's server before the next one starts (2-core machines)
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
done

[ -f "$WORK/timings.txt" ] && sed 's/^/  /' "$WORK/timings.txt" >&2
echo "hms smoke: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
