#!/usr/bin/env bash
# tandem vs mariadb-dump/mariadb and pg_dump/pg_restore on a synthetic Hive 2.3 Metastore
# (tests/hms/gen.py, default 1 000 000 partitions in 500 tables of 10 databases), measured in the
# same run on throwaway MariaDB and PostgreSQL servers; see BENCHMARKS.md
# ("Hive Metastore at 1M partitions").
#
#   ./bench/hms.sh                         # 1M partitions, both engines
#   ./bench/hms.sh --partitions 20000      # a smoke run (~1.5 min after the build)
#   ./bench/hms.sh --only postgres --workdir /tmp/hms-bench
#
# Options: --partitions N (default 1000000), --databases N (10), --tables N (500), --seed S (1),
#   --only mariadb|postgres (generate and measure one engine; the other server is still started
#   as the target of the cross-engine restore), --no-cross (skip the cross-engine steps),
#   --keep (keep the temp dir), --workdir DIR (use DIR, created if missing, must be empty; kept),
#   --no-build (use the existing target/release/tandem as it is; the report gives its build time).
#
# Per engine, in this order, each under /usr/bin/time -f '%e %M %U %S' (wall s, peak RSS KB,
# user s, sys s of the client process; for pg_dump/pg_restore -j2 the largest single process):
#   1. tandem backup --json --source <metastore> --repo <repo>
#   2. mariadb-dump --single-transaction --quick metastore > dump.sql | pg_dump -Fd -j2 -f dump
#   3. tandem restore --json --target <restored_tandem> --repo <repo> --map-location gs://lake-us/=gs://lake-eu/
#   4. mariadb restored_dump < dump.sql | pg_restore -j2 --exit-on-error -d restored_dump dump
#   5. tandem verify --json --source <metastore> --target <restored_tandem> --map-location ...  (must exit 0)
#   6. tandem restore of the same repository into the OTHER engine (restored_from_<engine>), with the map
#   7. tandem verify --source <metastore> --target <that cross-engine copy> --map-location ...  (must exit 0)
# plus the servers' CPU (utime+stime+reaped children from /proc/<pid>/stat) over each step.
# Before each step (not measured) the servers write out what the previous one left dirty
# (MariaDB: dirty pages flushed to < 1 % of the buffer pool; PostgreSQL: CHECKPOINT).
# Log on stderr, Markdown tables on stdout at the end; exits non-zero if any step failed or a
# verify did not report equal.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PARTITIONS=1000000
DATABASES=10
TABLES=500
SEED=1
ONLY=
CROSS=1
KEEP=0
BUILD=1
WORKDIR=
MAP="gs://lake-us/=gs://lake-eu/"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --partitions) PARTITIONS=$2; shift 2 ;;
        --databases) DATABASES=$2; shift 2 ;;
        --tables) TABLES=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --no-cross) CROSS=0; shift ;;
        --keep) KEEP=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "hms bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$ONLY" in "" | mariadb | postgres) ;; *) echo "hms bench: --only mariadb|postgres" >&2; exit 2 ;; esac
for v in "$PARTITIONS" "$DATABASES" "$TABLES" "$SEED"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "hms bench: not a number: $v" >&2; exit 2; }
done
ENGINES="${ONLY:-mariadb postgres}"

say() { printf '%s hms bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

source scripts/setup.sh
TANDEM="$ROOT/target/release/tandem"
if [ "$BUILD" = 1 ]; then
    say "building tandem (release)"
    cargo build --release -p tandem --bin tandem
fi
[ -x "$TANDEM" ] || { say "no $TANDEM"; exit 2; }

if [ -n "$WORKDIR" ]; then
    mkdir -p "$WORKDIR"
    WORK="$(cd "$WORKDIR" && pwd)"
    [ -z "$(ls -A "$WORK")" ] || { say "--workdir $WORK is not empty"; exit 2; }
    KEEP=1
else
    WORK="$(mktemp -d /tmp/tandem-hms-bench.XXXXXX)"
fi
chmod 755 "$WORK"
# rough need, scaled from a 20 000-partition run: ~1.3 GB of fixed server files (redo log, WAL),
# then ~25 KB per partition (per engine: the metastore, three restored copies, the binlog, the dump)
need_kb=$((2 * 1024 * 1024 + PARTITIONS * 25))
avail_kb=$(df -Pk "$WORK" | awk 'NR == 2 {print $4}')
if [ "$avail_kb" -lt "$need_kb" ]; then
    say "WARNING: $((avail_kb / 1024 / 1024)) GiB free in $WORK, this run may need about $((need_kb / 1024 / 1024)) GiB"
fi
OUT="$WORK/out"
mkdir -p "$OUT"
RESULTS="$WORK/results.tsv"   # engine step rc wall rss_kb user sys server_cpu
INFO="$WORK/info.tsv"         # key value
: >"$RESULTS"
: >"$INFO"
FAILED=0
PIDS=()
STEP_PID=
TCK=$(getconf CLK_TCK)

source "$ROOT/scripts/proc.sh"

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    if [ -n "$STEP_PID" ]; then
        # the measured command first (a child of /usr/bin/time), then time itself
        for pid in $(pgrep -P "$STEP_PID" 2>/dev/null); do stop_pid "$pid" 150; done
        stop_pid "$STEP_PID" 150
    fi
    for pid in "${PIDS[@]}"; do stop_pid "$pid" 150; done
    if [ "$KEEP" = 1 ]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

info() { printf '%s\t%s\n' "$1" "$2" >>"$INFO"; }

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

# ---- servers ------------------------------------------------------------------------------

M_PORT=
P_PORT=
M_PID=
P_PID=
M_DIR="$WORK/mariadb-server"
P_DIR="$WORK/postgres-server"

start_mariadb() {
    M_PORT=$(free_port)
    mkdir -p "$M_DIR"
    say "mariadb: starting on 127.0.0.1:$M_PORT (buffer pool 1G, ROW binlog)"
    mariadb-install-db --no-defaults --datadir="$M_DIR/data" --user=root \
        --auth-root-authentication-method=socket --skip-test-db >"$M_DIR/install.log" 2>&1 \
        || { tail -20 "$M_DIR/install.log" >&2; return 1; }
    mariadbd --no-defaults --datadir="$M_DIR/data" --socket="$M_DIR/s.sock" --port="$M_PORT" \
        --pid-file="$M_DIR/mariadbd.pid" --bind-address=127.0.0.1 --user=root --skip-name-resolve \
        --log-bin="$M_DIR/binlog" --server-id=1 --binlog-format=ROW \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_bin --local-infile=1 \
        --innodb-buffer-pool-size=1G --innodb-log-file-size=512M --innodb-flush-log-at-trx-commit=2 \
        --max-allowed-packet=1G >"$M_DIR/server.log" 2>&1 &
    M_PID=$!
    PIDS+=("$M_PID")
    wait_for "mariadbd" 60 mariadb --no-defaults --socket="$M_DIR/s.sock" -e "SELECT 1" \
        || { tail -20 "$M_DIR/server.log" >&2; return 1; }
    mariadb --no-defaults --socket="$M_DIR/s.sock" -e "
        CREATE USER 'tandem'@'%' IDENTIFIED BY 'tandem-pw';
        GRANT ALL PRIVILEGES ON *.* TO 'tandem'@'%' WITH GRANT OPTION;" || return 1
    info "mariadb.version" "$(msql -N -e 'SELECT VERSION()')"
}

# Runs a command as the postgres user when we are root (PostgreSQL refuses root). An array, not
# a function: `func &` would fork a subshell and $! would not be the server's pid.
AS_PG=()
[ "$(id -u)" = 0 ] && AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

start_postgres() {
    P_PORT=$(free_port)
    mkdir -p "$P_DIR"
    say "postgres: starting on 127.0.0.1:$P_PORT (fsync=off)"
    echo "tandem-pw" >"$P_DIR/pw"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$P_DIR"
    "${AS_PG[@]}" test -w "$P_DIR" || { say "the postgres user cannot write $P_DIR (choose a --workdir it can reach, e.g. under /tmp)"; return 1; }
    "${AS_PG[@]}" "$PG_BIN/initdb" -D "$P_DIR/data" -U tandem --pwfile="$P_DIR/pw" --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync >"$P_DIR/install.log" 2>&1 \
        || { tail -20 "$P_DIR/install.log" >&2; return 1; }
    "${AS_PG[@]}" "$PG_BIN/postgres" -D "$P_DIR/data" -p "$P_PORT" -k "$P_DIR" -c listen_addresses=127.0.0.1 \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB \
        -c shared_buffers=128MB >"$P_DIR/server.log" 2>&1 &
    P_PID=$!
    PIDS+=("$P_PID")
    wait_for "postgres" 60 psql_ postgres -c "SELECT 1" || { tail -20 "$P_DIR/server.log" >&2; return 1; }
    info "postgres.version" "$(psql_ postgres -Atc 'SHOW server_version')"
}

msql() { mariadb --no-defaults -h 127.0.0.1 -P "$M_PORT" -u tandem -ptandem-pw "$@"; }
psql_() { local db=$1; shift; PGPASSWORD=tandem-pw psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$P_PORT" -U tandem -d "$db" "$@"; }

url() { # engine database
    if [ "$1" = mariadb ]; then echo "mysql://tandem:tandem-pw@127.0.0.1:$M_PORT/$2"; else echo "postgres://tandem:tandem-pw@127.0.0.1:$P_PORT/$2"; fi
}

create_db() { # engine database
    if [ "$1" = mariadb ]; then
        msql -e "CREATE DATABASE \`$2\` CHARACTER SET latin1 COLLATE latin1_bin"
    else
        psql_ postgres -c "CREATE DATABASE \"$2\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    fi
}

# Before each measured step (not measured): write out what the previous one left dirty, so that
# no run pays for the background flushing of the one before it. MariaDB: flush until < 1 % of the
# buffer pool is dirty (at most 300 s, I/O capacity raised meanwhile); PostgreSQL: CHECKPOINT.
settle() {
    local t0 i dirty total d0=
    t0=$(date +%s.%N)
    if [ -n "$M_PID" ]; then
        msql -e "SET GLOBAL innodb_io_capacity_max = 40000; SET GLOBAL innodb_io_capacity = 20000;
                 SET GLOBAL innodb_max_dirty_pages_pct = 0"
        for i in $(seq 1 300); do
            read -r dirty total < <(msql -N -e "SELECT
                MAX(IF(VARIABLE_NAME = 'INNODB_BUFFER_POOL_PAGES_DIRTY', VARIABLE_VALUE, 0)),
                MAX(IF(VARIABLE_NAME = 'INNODB_BUFFER_POOL_PAGES_TOTAL', VARIABLE_VALUE, 0))
                FROM information_schema.GLOBAL_STATUS")
            [ -z "$d0" ] && d0=$dirty
            [ $((dirty * 100)) -lt "$total" ] && break
            sleep 1
        done
        msql -e "SET GLOBAL innodb_max_dirty_pages_pct = DEFAULT; SET GLOBAL innodb_io_capacity = DEFAULT;
                 SET GLOBAL innodb_io_capacity_max = DEFAULT"
    fi
    [ -n "$P_PID" ] && psql_ postgres -c "CHECKPOINT"
    say "  settled in $(python3 -c "import time; print(round(time.time() - $t0, 1))") s${d0:+ (MariaDB: $d0 dirty pages before, $dirty after)}"
}

# Waits (at most 30 s) until no client backend of the PostgreSQL server is left: a backend whose
# client has exited may still be finishing, and its CPU reaches the postmaster's reaped-children
# counters only when it has exited.
wait_pg_backends() {
    local i p left
    [ -n "$P_PID" ] || return 0
    for i in $(seq 1 150); do
        left=0
        for p in $(pgrep -P "$P_PID" 2>/dev/null); do
            case "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in "postgres: tandem "*) left=1 ;; esac
        done
        [ "$left" = 0 ] && return 0
        sleep 0.2
    done
}

server_cpu() { # utime+stime+cutime+cstime of both servers, in seconds
    local pid total=0 f
    for pid in $M_PID $P_PID; do
        [ -r "/proc/$pid/stat" ] || continue
        # fields after the ")" of comm: state is $1, utime $12, stime $13, cutime $14, cstime $15
        f=$(sed 's/^.*) //' "/proc/$pid/stat")
        total=$((total + $(echo "$f" | awk '{print $12 + $13 + $14 + $15}')))
    done
    python3 -c "print($total / $TCK)"
}

# ---- measured steps -----------------------------------------------------------------------

# measure ENGINE STEP STDIN STDOUT command...   (STDIN/STDOUT: a path, or - for /dev/null and
# $OUT/<engine>-<step>.out). Appends a line to $RESULTS; returns the command's status.
measure() {
    local engine=$1 step=$2 in=$3 out=$4 name rc c0 c1 t
    shift 4
    name="$engine-$step"
    [ "$in" = - ] && in=/dev/null
    [ "$out" = - ] && out="$OUT/$name.out"
    settle
    wait_pg_backends
    say "$engine: $step: $*"
    c0=$(server_cpu)
    # in the background + wait, so that a signal reaches the trap at once
    /usr/bin/time -f '%e %M %U %S' -o "$OUT/$name.time" "$@" <"$in" >"$out" 2>"$OUT/$name.err" &
    STEP_PID=$!
    set +e
    wait "$STEP_PID"
    rc=$?
    set -e
    STEP_PID=
    wait_pg_backends
    c1=$(server_cpu)
    t=$(tail -1 "$OUT/$name.time")
    [[ "$t" =~ ^[0-9.]+\ [0-9]+\ [0-9.]+\ [0-9.]+$ ]] || t="0 0 0 0"
    printf '%s\t%s\t%s\t%s\t%s\n' "$engine" "$step" "$rc" "$(echo "$t" | tr ' ' '\t')" \
        "$(python3 -c "print(round($c1 - $c0, 2))")" >>"$RESULTS"
    set -- $t
    if [ "$rc" = 0 ]; then
        say "$engine: $step: ok, $1 s, peak RSS $(($2 / 1024)) MB, client CPU $3 + $4 s"
    else
        FAILED=$((FAILED + 1))
        say "$engine: $step: FAILED (exit $rc, $1 s); last stderr lines:"
        tail -15 "$OUT/$name.err" >&2
    fi
    return "$rc"
}

passed() { grep -q "^$1	$2	0	" "$RESULTS"; } # engine step

other() { if [ "$1" = mariadb ]; then echo postgres; else echo mariadb; fi; }

generate() { # engine
    local e=$1 t0 secs
    create_db "$e" metastore
    say "$e: gen.py --layout 2.3 --databases $DATABASES --tables $TABLES --partitions $PARTITIONS --seed $SEED"
    t0=$(date +%s.%N)
    python3 tests/hms/gen.py --url "$(url "$e" metastore)" --layout 2.3 --databases "$DATABASES" \
        --tables "$TABLES" --partitions "$PARTITIONS" --seed "$SEED" --verbose \
        </dev/null >"$OUT/$e-gen.json" 2>"$OUT/$e-gen.err" &
    STEP_PID=$!
    local rc=0
    wait "$STEP_PID" || rc=$?
    STEP_PID=
    if [ "$rc" != 0 ]; then
        say "$e: gen.py FAILED (exit $rc)"; tail -15 "$OUT/$e-gen.err" >&2
        return 1
    fi
    secs=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
    python3 - "$OUT/$e-gen.json" "$e" "$secs" <<'EOF' >&2
import json, sys
d = json.load(open(sys.argv[1]))
print(f"  {sys.argv[2]}: generated in {sys.argv[3]} s: {d['databases']} databases, {d['tables']} tables, "
      f"{d['partitions']} partitions, {sum(d['rows'].values())} rows; gen.py seconds {json.dumps(d['seconds'])}")
print("  rows: " + json.dumps({k: v for k, v in d["rows"].items() if v}))
EOF
    info "$e.gen_seconds" "$secs"
    if [ "$e" = postgres ]; then
        say "postgres: VACUUM (FREEZE, ANALYZE)"
        psql_ metastore -c "VACUUM (FREEZE, ANALYZE)"
        info "postgres.db_bytes" "$(psql_ metastore -Atc "SELECT pg_database_size('metastore')")"
    else
        info "mariadb.db_bytes" "$(msql -N -e "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'metastore'")"
    fi
}

dir_bytes() { du -sb "$1" 2>/dev/null | cut -f1; }

run_engine() { # engine
    local e=$1 x repo="$WORK/$1-repo" dump src
    x=$(other "$e")
    src=$(url "$e" metastore)

    # 1. tandem backup
    measure "$e" tandem_backup - - "$TANDEM" backup --json --source "$src" --repo "$repo" || true
    info "$e.repo_bytes" "$(dir_bytes "$repo")"

    # 2. the dump tool
    if [ "$e" = mariadb ]; then
        dump="$WORK/mariadb-dump.sql"
        measure "$e" dump_backup - "$dump" mariadb-dump --no-defaults -h 127.0.0.1 -P "$M_PORT" -u tandem \
            -ptandem-pw --single-transaction --quick metastore || true
    else
        dump="$WORK/postgres-dump"
        measure "$e" dump_backup - - env PGPASSWORD=tandem-pw "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$P_PORT" -U tandem \
            -Fd -j2 -f "$dump" metastore || true
    fi
    info "$e.dump_bytes" "$(dir_bytes "$dump")"

    # 3. tandem restore into a new database (created by tandem), locations mapped
    if passed "$e" tandem_backup; then
        measure "$e" tandem_restore - - "$TANDEM" restore --json --target "$(url "$e" restored_tandem)" \
            --repo "$repo" --map-location "$MAP" || true
    fi

    # 4. the dump tool's restore into a new empty database
    if passed "$e" dump_backup; then
        create_db "$e" restored_dump
        if [ "$e" = mariadb ]; then
            measure "$e" dump_restore "$dump" - mariadb --no-defaults -h 127.0.0.1 -P "$M_PORT" -u tandem \
                -ptandem-pw restored_dump || true
        else
            measure "$e" dump_restore - - env PGPASSWORD=tandem-pw "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$P_PORT" \
                -U tandem -j2 --exit-on-error -d restored_dump "$dump" || true
        fi
    fi

    # 5. tandem verify: the original against tandem's restored copy
    if passed "$e" tandem_restore; then
        measure "$e" tandem_verify - - "$TANDEM" verify --json --source "$src" \
            --target "$(url "$e" restored_tandem)" --map-location "$MAP" || true
    fi

    # 6./7. cross-engine: the same repository restored into the other engine, then verified
    if [ "$CROSS" = 1 ] && passed "$e" tandem_backup; then
        measure "$e" cross_restore - - "$TANDEM" restore --json --target "$(url "$x" "restored_from_$e")" \
            --repo "$repo" --map-location "$MAP" || true
        if passed "$e" cross_restore; then
            measure "$e" cross_verify - - "$TANDEM" verify --json --source "$src" \
                --target "$(url "$x" "restored_from_$e")" --map-location "$MAP" || true
        fi
    fi
}

# ---- run ------------------------------------------------------------------------------------

info "date" "$(date -u)"
info "machine" "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/^MemTotal:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo) GiB RAM"
info "load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
info "commit" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates 2>/dev/null || echo ' + uncommitted changes in crates/')"
info "tandem" "$("$TANDEM" --version), release binary built $(date -u -r "$TANDEM" '+%F %T UTC')$([ "$BUILD" = 1 ] || echo ' (--no-build)')"
info "mariadb_dump" "$(mariadb-dump --version)"
info "pg_dump" "$("$PG_BIN/pg_dump" --version)"
info "partitions" "$PARTITIONS"
info "engines" "$ENGINES"

need_m=0
need_p=0
for e in $ENGINES; do [ "$e" = mariadb ] && need_m=1 || need_p=1; done
if [ "$CROSS" = 1 ]; then need_m=1; need_p=1; fi
if [ "$need_m" = 1 ]; then start_mariadb || { say "mariadb: server did not start"; exit 1; }; fi
if [ "$need_p" = 1 ]; then start_postgres || { say "postgres: server did not start"; exit 1; }; fi

GEN_OK=()
for e in $ENGINES; do
    if generate "$e"; then GEN_OK+=("$e"); else FAILED=$((FAILED + 1)); fi
done
for e in "${GEN_OK[@]}"; do
    say "== $e"
    run_engine "$e"
done
info "load_end" "$(cut -d' ' -f1-3 /proc/loadavg)"
info "work_dir_bytes" "$(dir_bytes "$WORK")"

# ---- report ---------------------------------------------------------------------------------

REPORT_OK=1
python3 - "$RESULTS" "$INFO" "$OUT" "$ENGINES" <<'EOF' || REPORT_OK=0
import json, os, sys

results, infof, out, engines = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
info = {}
for line in open(infof):
    k, _, v = line.rstrip("\n").partition("\t")
    info[k] = v
R = {}
for line in open(results):
    e, step, rc, wall, rss, user, sys_, srv = line.rstrip("\n").split("\t")
    R[(e, step)] = dict(rc=int(rc), wall=float(wall), rss=int(rss) / 1024, cpu=float(user) + float(sys_), srv=float(srv))


def jload(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except Exception:
        return None


NAMES = {"mariadb": "MariaDB", "postgres": "PostgreSQL"}
ALT_B = {"mariadb": "mariadb-dump --single-transaction --quick", "postgres": "pg_dump -Fd -j2"}
ALT_R = {"mariadb": "mariadb < dump.sql", "postgres": "pg_restore -j2"}


def secs(r):
    if r is None:
        return "not run"
    return f"{r['wall']:.1f}" if r["rc"] == 0 else f"FAILED ({r['wall']:.1f})"


def n(x):
    return f"{x:,}".replace(",", " ")


def mb(b):
    if b in (None, ""):
        return "?"
    b = int(b) / 1e6
    return f"{b:.1f} MB" if b < 100 else n(round(b)) + " MB"


def verify_note(e, step):
    r = R.get((e, step))
    if r is None:
        return ""
    j = jload(f"{e}-{step}.out")
    if r["rc"] != 0 or not isinstance(j, dict) or j.get("equal") is not True:
        return f"**NOT EQUAL** (exit {r['rc']}, see out/{e}-{step}.out)"
    kinds = {k["kind"]: k for k in j.get("kinds", [])}
    good = sum(k.get("good", 0) for k in kinds.values())
    parts = kinds.get("partitions", {}).get("good", 0)
    return f"equal: {n(good)} objects GOOD, {n(parts)} of them partitions; 0 BAD"


def restore_note(e, step):
    j = jload(f"{e}-{step}.out")
    if not isinstance(j, dict):
        return ""
    loc = j.get("locations") or {}
    mapped = sum(r.get("rewritten", 0) for r in loc.get("rules", []))
    s = f"{n(mapped)} locations mapped, {n(loc.get('unmapped_total', 0))} unmapped"
    fix = sum(f.get("rows", 0) for f in j.get("fixups", []))
    s += f"; fix-ups {n(fix)} rows"
    if j.get("cross_engine"):
        s += f"; cross-engine from {j.get('source_engine')}"
    return s


print()
print(f"## Hive Metastore benchmark: {info.get('partitions')} partitions (bench/hms.sh)")
print()
for k in ("date", "machine", "load_start", "load_end", "commit", "tandem", "mariadb.version", "mariadb_dump",
          "postgres.version", "pg_dump", "work_dir_bytes"):
    if k in info:
        print(f"- {k}: {mb(info[k]) if k.endswith('bytes') else info[k]}")
print()
problems = []
gens = {e: jload(f"{e}-gen.json") for e in engines}
gens = {e: g for e, g in gens.items() if g}
if gens:
    es = list(gens)
    if len(es) == 2 and gens[es[0]]["rows"] != gens[es[1]]["rows"]:
        problems.append("gen.py row counts differ between the engines")
    print("Generated metastore (gen.py --layout 2.3, same arguments and seed on each engine):")
    print()
    print("| | " + " | ".join(NAMES[e] for e in es) + " |")
    print("|---|" + "---:|" * len(es))
    for k in ("databases", "tables", "partitions", "views", "functions"):
        print(f"| {k} | " + " | ".join(n(gens[e][k]) for e in es) + " |")
    rows = {e: gens[e]["rows"] for e in es}
    big = [t for t in rows[es[0]] if max(rows[e].get(t, 0) for e in es) >= 100]
    big.sort(key=lambda t: -max(rows[e].get(t, 0) for e in es))
    for t in big:
        print(f"| `{t}` rows | " + " | ".join(n(rows[e].get(t, 0)) for e in es) + " |")
    rest = [t for t in rows[es[0]] if t not in big and any(rows[e].get(t) for e in es)]
    empty = [t for t in rows[es[0]] if not any(rows[e].get(t) for e in es)]
    print(f"| {len(rest)} other tables, rows | " + " | ".join(n(sum(rows[e].get(t, 0) for t in rest)) for e in es) + " |")
    print(f"| empty tables | " + " | ".join(str(len(empty)) for e in es) + " |")
    print("| total rows | " + " | ".join(n(sum(rows[e].values())) for e in es) + " |")
    print("| database size (data + indexes) | " + " | ".join(mb(info.get(f"{e}.db_bytes")) for e in es) + " |")
    print("| gen.py wall s | " + " | ".join(info.get(f"{e}.gen_seconds", "?") for e in es) + " |")
    print()

print("| engine | step | tandem s | alternative | alt s | tandem/alt (≤ 0.5) | tandem peak RSS MB (≤ 200) | alt peak RSS MB "
      "| CPU s tandem client / servers | CPU s alt client / servers | size tandem / alt | result |")
print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|")


def row(e, label, t, alt_name="", a=None, size="", note=""):
    ratio = ""
    if t and a and t["rc"] == 0 and a["rc"] == 0 and a["wall"] > 0:
        q = t["wall"] / a["wall"]
        ratio = f"{q:.2f} {'✓' if q <= 0.5 else '✗'}"
    rss = f"{t['rss']:.0f} {'✓' if t['rss'] <= 200 else '✗'}" if t else ""
    arss = f"{a['rss']:.0f}" if a else ""
    cpu = f"{t['cpu']:.1f} / {t['srv']:.1f}" if t else ""
    acpu = f"{a['cpu']:.1f} / {a['srv']:.1f}" if a else ""
    print(f"| {NAMES[e]} | {label} | {secs(t)} | {alt_name} | {secs(a) if alt_name else ''} | {ratio} | {rss} | {arss} "
          f"| {cpu} | {acpu} | {size} | {note} |")


for e in engines:
    if (e, "tandem_backup") not in R and (e, "dump_backup") not in R:
        continue
    x = "postgres" if e == "mariadb" else "mariadb"
    row(e, "backup", R.get((e, "tandem_backup")), ALT_B[e], R.get((e, "dump_backup")),
        f"{mb(info.get(e + '.repo_bytes'))} / {mb(info.get(e + '.dump_bytes'))}")
    row(e, "restore (tandem with --map-location)", R.get((e, "tandem_restore")), ALT_R[e], R.get((e, "dump_restore")),
        note=restore_note(e, "tandem_restore"))
    row(e, "verify original vs tandem copy", R.get((e, "tandem_verify")), note=verify_note(e, "tandem_verify"))
    if (e, "cross_restore") in R:
        c, v = R.get((e, "cross_restore")), R.get((e, "cross_verify"))
        row(e, f"cross-engine restore → {NAMES[x]}", c, note=restore_note(e, "cross_restore"))
        row(e, f"cross-engine verify {NAMES[e]} vs {NAMES[x]} copy", v, note=verify_note(e, "cross_verify"))
        if c and v and c["rc"] == 0 and v["rc"] == 0:
            row(e, "cross-engine restore + verify", dict(rc=0, wall=c["wall"] + v["wall"], rss=max(c["rss"], v["rss"]),
                                                         cpu=c["cpu"] + v["cpu"], srv=c["srv"] + v["srv"]))
    for step in ("tandem_verify", "cross_verify"):
        if (e, step) in R and not verify_note(e, step).startswith("equal"):
            problems.append(f"{e} {step}: not equal")
print()
problems += [f"{e} {s} (exit {r['rc']})" for (e, s), r in R.items() if r["rc"] != 0]
if problems:
    print("FAILED: " + "; ".join(dict.fromkeys(problems)))
    sys.exit(1)
EOF

say "work dir: $WORK (outputs in out/)"
if [ "$FAILED" != 0 ] || [ "$REPORT_OK" = 0 ]; then
    say "FAILED: $FAILED step(s) failed$([ "$REPORT_OK" = 1 ] || echo '; the report lists problems (last line of stdout)')"
    exit 1
fi
say "all steps ok, every verify equal"
