#!/usr/bin/env bash
# End-to-end proof of the Airflow real-client harness (tests/airflow/af.py) on a throwaway
# PostgreSQL server that this script starts on a free loopback port and stops by pid (also on
# failure, Ctrl-C or SIGTERM).
#
#   1. migrate          `airflow db migrate` on af_src
#   2. populate         the tandem sample on af_src                  -> $WORK/out/populate.json
#   3. copy             af_src -> af_dst with pg_dump | psql (a stand-in for a tandem restore)
#   4. read-copy        read --expect populate.json on af_dst: every value identical, secrets decrypt
#   5. trigger-copy     `airflow dags trigger tandem_etl` on af_dst: a new run (sequences work)
#   6. wrong-key        read on af_dst with another Fernet key: must fail, naming what fails
#   7. expect-detects   after changing a pool and a pause state in af_dst, read --expect must fail
#                       and name both differences
#
#   bash tests/airflow/smoke.sh
#   AF_SMOKE_KEEP=1 bash tests/airflow/smoke.sh     # keep $WORK (JSON outputs, logs, server log)
#
# Prints "airflow smoke: N passed, N failed" at the end; exits non-zero if any step failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
T_ENV=$(date +%s.%N)
# shellcheck source=../../scripts/airflow-env.sh
source scripts/airflow-env.sh >/dev/null

WORK="$(mktemp -d /tmp/tandem-airflow-smoke.XXXXXX)"
chmod 755 "$WORK"
OUT="$WORK/out"
mkdir -p "$OUT" "$WORK/home"
AF=("$AIRFLOW_PY" "$ROOT/tests/airflow/af.py")
PIDS=()
STEP_PID=
PASSED=0
FAILED=0

say() { printf '%s airflow smoke: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
secs_since() { python3 -c "import time; print(round(time.time() - $1, 1))"; }
echo "env $(secs_since "$T_ENV")s" >"$WORK/timings.txt"

source "$ROOT/scripts/proc.sh"

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    # a running af.py step (its airflow CLI children exit with it: they are its children, and
    # af.py waits for them; TERM reaches af.py, which stops at once)
    [ -n "$STEP_PID" ] && stop_pid "$STEP_PID"
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if [ "${AF_SMOKE_KEEP:-0}" = 1 ]; then
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
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off >"$dir/server.log" 2>&1 &
    PIDS+=($!)
    wait_for "postgres" 60 env PGPASSWORD=tandem-pw psql -h 127.0.0.1 -p "$port" -U tandem -d postgres -c "SELECT 1" \
        || { tail -20 "$dir/server.log" >&2; return 1; }
    PGPASSWORD=tandem-pw psql -q -h 127.0.0.1 -p "$port" -U tandem -d postgres \
        -c "CREATE DATABASE af_src" -c "CREATE DATABASE af_dst" || return 1
}

# step NAME WANT_RC command... ; stdout -> $OUT/<name>.json, stderr -> $OUT/<name>.err
step() {
    local name=$1 want=$2 t0 rc secs
    shift 2
    t0=$(date +%s.%N)
    say "$name ..."
    # in the background + wait, so that a signal reaches our trap at once (not after the step)
    "$@" >"$OUT/$name.json" 2>"$OUT/$name.err" &
    STEP_PID=$!
    set +e
    wait "$STEP_PID"
    rc=$?
    set -e
    STEP_PID=
    secs=$(secs_since "$t0")
    echo "$name ${secs}s" >>"$WORK/timings.txt"
    if [ "$rc" = "$want" ]; then
        PASSED=$((PASSED + 1))
        say "$name ok (rc=$rc, ${secs}s)"
    else
        FAILED=$((FAILED + 1))
        say "$name FAILED (rc=$rc, wanted $want, ${secs}s); last stderr lines:"
        tail -15 "$OUT/$name.err" >&2
        return 1
    fi
}

# check NAME FILE PATTERN... : every (grep -E) pattern must occur in FILE
check() {
    local name=$1 file=$2 p missing=0
    shift 2
    for p in "$@"; do
        if ! grep -qE -- "$p" "$file"; then
            say "$name: expected /$p/ in $(basename "$file")"
            missing=1
        fi
    done
    if [ $missing = 0 ]; then
        PASSED=$((PASSED + 1))
        say "$name ok"
    else
        FAILED=$((FAILED + 1))
        tail -15 "$file" >&2
        return 1
    fi
}

run() {
    local port key wrong src dst common pg
    port=$(free_port)
    say "starting PostgreSQL on 127.0.0.1:$port"
    local t0
    t0=$(date +%s.%N)
    start_postgres "$WORK/pg" "$port" || { FAILED=$((FAILED + 1)); return 1; }
    echo "postgres-start $(secs_since "$t0")s" >>"$WORK/timings.txt"
    key=$("$AIRFLOW_PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
    wrong=$("$AIRFLOW_PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
    src="postgresql://tandem:tandem-pw@127.0.0.1:$port/af_src"
    dst="postgresql://tandem:tandem-pw@127.0.0.1:$port/af_dst"
    common=(--fernet-key "$key" --home "$WORK/home")
    pg=(env PGPASSWORD=tandem-pw)

    step migrate 0 "${AF[@]}" migrate --db-url "$src" "${common[@]}" || return 1
    step populate 0 "${AF[@]}" populate --db-url "$src" "${common[@]}" || return 1

    say "copy af_src -> af_dst (pg_dump | psql) ..."
    t0=$(date +%s.%N)
    if "${pg[@]}" pg_dump -h 127.0.0.1 -p "$port" -U tandem af_src \
        | "${pg[@]}" psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U tandem -d af_dst >/dev/null 2>"$OUT/copy.err"; then
        PASSED=$((PASSED + 1))
        say "copy ok ($(secs_since "$t0")s)"
        echo "copy $(secs_since "$t0")s" >>"$WORK/timings.txt"
    else
        FAILED=$((FAILED + 1))
        say "copy FAILED"
        tail -15 "$OUT/copy.err" >&2
        return 1
    fi

    step read-copy 0 "${AF[@]}" read --db-url "$dst" "${common[@]}" --expect "$OUT/populate.json" || return 1
    step trigger-copy 0 "${AF[@]}" trigger --db-url "$dst" "${common[@]}" --dag tandem_etl || return 1
    check trigger-result "$OUT/trigger-copy.json" '"state": "queued"' '"id": 8,' '"previous_max_id": 7,' \
        '"task_instances": 3' || true

    step wrong-key 1 "${AF[@]}" read --db-url "$dst" --fernet-key "$wrong" --home "$WORK/home" || true
    check wrong-key-message "$OUT/wrong-key.err" '^af.py read: error: the Fernet key cannot decrypt' \
        'connection tandem_postgres: cannot decrypt password' 'variable api_token: cannot decrypt val' \
        'trigger 1 .*cannot decrypt kwargs' || true

    "${pg[@]}" psql -q -h 127.0.0.1 -p "$port" -U tandem -d af_dst \
        -c "UPDATE slot_pool SET slots = 5 WHERE pool = 'tandem_pool'" \
        -c "UPDATE dag SET is_paused = true WHERE dag_id = 'tandem_etl'" >/dev/null
    step expect-detects 1 "${AF[@]}" read --db-url "$dst" "${common[@]}" --expect "$OUT/populate.json" \
        --ignore dag_runs --ignore task_instances --ignore counts || true
    check expect-message "$OUT/expect-detects.err" '2 difference\(s\)' 'pool tandem_pool: expected 4, got 5' \
        'dag tandem_etl: is_paused: expected false, got true' || true

    python3 - "$OUT" <<'EOF' >&2 || true
import json, sys
out = sys.argv[1]
pop = json.load(open(f"{out}/populate.json"))
print(f"  populate: {len(pop['dags'])} dags, {len(pop['dag_runs'])} runs, {len(pop['task_instances'])} task instances, "
      f"{len(pop['variables'])} variables, {len(pop['connections'])} connections; seconds {pop['seconds']}")
EOF
}

run || say "failed (outputs in $OUT; set AF_SMOKE_KEEP=1 to keep them)"
for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
PIDS=()

sed 's/^/  /' "$WORK/timings.txt" >&2
echo "airflow smoke: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
