#!/usr/bin/env bash
# Proof of the synthetic Hive Metastore generator (tests/hms/gen.py) on throwaway MariaDB and
# PostgreSQL servers that this script starts on free loopback ports and stops by pid (also on
# failure, Ctrl-C or SIGTERM).
#
# For each engine x layout (2.3, 3.1, 4.0):
#   schema  --schema-only                                   -> checks
#   sample  --sample retail (twice, into two databases: the TSV files must be byte-identical)
#   scale   --databases 3 --tables 30 --partitions 20000    -> checks
# and once per engine: a non-empty database is refused, an unreachable server and a bad --url
# fail with "gen.py: error: ...". The checks (SQL against the generated database) compare every
# table's row count with gen.py's JSON, the table set / foreign-key count with the layout, look
# for orphans (PARTITIONS.SD_ID not in SDS, ...), SEQUENCE_TABLE NEXT_VAL > max id of its model,
# NOTIFICATION_SEQUENCE, NEXT_TXN_ID/NEXT_LOCK_ID/NEXT_WRITE_ID/TXNS auto-increment, partition
# locations, Spark 'path' params, Latin-1 round trips, and on MariaDB that the database and every
# table are latin1/latin1_bin.
#
#   bash tests/hms/gen_smoke.sh                         # both engines, all layouts (~4 min)
#   GEN_SMOKE_ENGINES=postgres GEN_SMOKE_LAYOUTS="4.0" bash tests/hms/gen_smoke.sh
#   GEN_SMOKE_BIG=1 bash tests/hms/gen_smoke.sh         # instead: one timed run per engine with
#       --databases 10 --tables 500 --partitions 1000000 (layout GEN_SMOKE_BIG_LAYOUT, default 4.0;
#       size with GEN_SMOKE_BIG_ARGS), checked like the scale runs
#   GEN_SMOKE_KEEP=1 ...                                # keep the work dir (JSON, logs)
#
# Last line: "gen smoke: N passed, N failed"; exits non-zero if anything failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

ENGINES="${GEN_SMOKE_ENGINES:-mariadb postgres}"
LAYOUTS="${GEN_SMOKE_LAYOUTS:-2.3 3.1 4.0}"
BIG="${GEN_SMOKE_BIG:-0}"
BIG_LAYOUT="${GEN_SMOKE_BIG_LAYOUT:-4.0}"
BIG_ARGS="${GEN_SMOKE_BIG_ARGS:---databases 10 --tables 500 --partitions 1000000}"
WH="gs://lake-us/warehouse"
EXT="gs://lake-us/external"
WORK="$(mktemp -d /tmp/tandem-gen-smoke.XXXXXX)"
chmod 755 "$WORK"
GEN=(python3 "$ROOT/tests/hms/gen.py")
PIDS=()
STEP_PID=
PASSED=0
FAILED=0

say() { printf '%s gen smoke: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

source "$ROOT/scripts/proc.sh"

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    [ -n "$STEP_PID" ] && stop_pid "$STEP_PID"
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if [ "${GEN_SMOKE_KEEP:-0}" = 1 ]; then
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

start_mariadb() { # dir port
    local dir=$1 port=$2 extra=()
    mkdir -p "$dir"
    [ "$BIG" = 1 ] && extra=(--innodb-buffer-pool-size=1G --innodb-log-file-size=512M)
    mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
        --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1 \
        || { tail -20 "$dir/install.log" >&2; return 1; }
    mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/s.sock" --port="$port" \
        --bind-address=127.0.0.1 --user=root --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_bin --local-infile=1 \
        --innodb-flush-log-at-trx-commit=2 "${extra[@]}" >"$dir/server.log" 2>&1 &
    PIDS+=($!)
    wait_for "mariadbd" 60 mariadb --no-defaults --socket="$dir/s.sock" -e "SELECT 1" || { tail -20 "$dir/server.log" >&2; return 1; }
    mariadb --no-defaults --socket="$dir/s.sock" -e "
        CREATE USER 'tandem'@'%' IDENTIFIED BY 'tandem-pw';
        GRANT ALL PRIVILEGES ON *.* TO 'tandem'@'%' WITH GRANT OPTION;" || return 1
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
        -c fsync=off -c synchronous_commit=off -c max_wal_size=4GB >"$dir/server.log" 2>&1 &
    PIDS+=($!)
    wait_for "postgres" 60 env PGPASSWORD=tandem-pw psql -h 127.0.0.1 -p "$port" -U tandem -d postgres -c "SELECT 1" \
        || { tail -20 "$dir/server.log" >&2; return 1; }
}

create_db() { # name
    if [ "$ENGINE" = mariadb ]; then
        mariadb --no-defaults --socket="$SRV/s.sock" -e "CREATE DATABASE \`$1\`"
    else
        PGPASSWORD=tandem-pw psql -q -h 127.0.0.1 -p "$PORT" -U tandem -d postgres -c "CREATE DATABASE \"$1\""
    fi
}

url() { # database
    if [ "$ENGINE" = mariadb ]; then echo "mysql://tandem:tandem-pw@127.0.0.1:$PORT/$1"; else echo "postgres://tandem:tandem-pw@127.0.0.1:$PORT/$1"; fi
}

ok() { PASSED=$((PASSED + 1)); say "$ENGINE: $1 ok${2:+ ($2)}"; }
bad() { FAILED=$((FAILED + 1)); say "$ENGINE: $1 FAILED"; }

step() { # name, command... ; stdout -> $OUT/<name>.json, stderr -> $OUT/<name>.err
    local name=$1 t0 rc secs
    shift
    t0=$(date +%s.%N)
    # in the background + wait, so that a signal reaches our trap at once (not after the step);
    # <&0 keeps our stdin (a check's heredoc): without it an async command reads /dev/null
    "$@" <&0 >"$OUT/$name.json" 2>"$OUT/$name.err" &
    STEP_PID=$!
    set +e
    wait "$STEP_PID"
    rc=$?
    set -e
    STEP_PID=
    secs=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
    if [ $rc = 0 ]; then
        ok "$name" "${secs}s"
        echo "$ENGINE $name ${secs}s" >>"$WORK/timings.txt"
    else
        bad "$name (rc=$rc, ${secs}s); last stderr lines:"
        tail -15 "$OUT/$name.err" >&2
        return 1
    fi
}

expect_error() { # name, pattern, command...  (must exit 1 with "gen.py: error: ...pattern")
    local name=$1 pat=$2 rc
    shift 2
    set +e
    "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
    rc=$?
    set -e
    if [ $rc = 1 ] && grep -q "^gen.py: error: .*$pat" "$OUT/$name.err" && [ ! -s "$OUT/$name.out" ]; then
        ok "$name" "$(head -c 120 "$OUT/$name.err")"
    else
        bad "$name (rc=$rc)"
        cat "$OUT/$name.err" >&2
    fi
}

check() { # name mode layout database json
    step "$1" python3 - "$ENGINE" "$PORT" "$2" "$3" "$4" "$5" "$WH" "$EXT" <<'EOF'
import json, os, subprocess, sys

engine, port, mode, layout, db, jpath, wh, ext = sys.argv[1:]
res = json.load(open(jpath))
fails = []
M = engine == "mariadb"


def sql(q):
    if M:
        cmd = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", port, "-u", "tandem", "-ptandem-pw",
               "--batch", "--skip-column-names", "--default-character-set=utf8mb4", db, "-e", q]
        env = None
    else:
        cmd = ["psql", "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", port,
               "-U", "tandem", "-d", db, "-c", q]
        env = dict(os.environ, PGPASSWORD="tandem-pw", PGCLIENTENCODING="UTF8")
    p = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", env=env)
    if p.returncode:
        raise SystemExit(f"query failed: {q}\n{p.stderr}")
    return [line.split("\t") for line in p.stdout.splitlines() if line != ""]


def one(q):
    r = sql(q)
    return r[0][0] if r else None


def expect(cond, what):
    if not cond:
        fails.append(what)


# actual table names (PostgreSQL 2.3/3.1 ACID tables are lower-case)
if M:
    actual = {r[0]: r[1] for r in sql("SELECT table_name, table_collation FROM information_schema.tables "
                                       "WHERE table_schema = DATABASE()")}
else:
    actual = {r[0]: None for r in sql("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
names = {a.upper(): a for a in actual}


def T(name):
    a = names[name]
    return f"`{a}`" if M else f'"{a}"'


def C(table, col):
    a = names[table]
    c = col.lower() if a.islower() else col
    return f"`{c}`" if M else f'"{c}"'


expect(set(names) == set(res["rows"]), f"table set differs: {sorted(set(names) ^ set(res['rows']))}")
expect(len(actual) == res["schema"]["tables"], f"{len(actual)} tables, layout has {res['schema']['tables']}")
for t, n in res["rows"].items():
    if t in names:
        got = int(one(f"SELECT COUNT(*) FROM {T(t)}"))
        expect(got == n, f"{t}: {got} rows, JSON says {n}")
if M:
    fk = int(one("SELECT COUNT(*) FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE()"))
    bad_coll = [t for t, c in actual.items() if c != "latin1_bin"]
    expect(not bad_coll, f"tables not latin1_bin: {bad_coll}")
    dbcoll = one("SELECT CONCAT(default_character_set_name, '/', default_collation_name) FROM "
                 "information_schema.schemata WHERE schema_name = DATABASE()")
    expect(dbcoll == "latin1/latin1_bin", f"database is {dbcoll}")
    other = one("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() "
                "AND character_set_name IS NOT NULL AND character_set_name <> 'latin1'")
    expect(other == "0", f"{other} non-latin1 columns")
else:
    fk = int(one("SELECT COUNT(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                 "WHERE n.nspname = current_schema() AND c.contype = 'f'"))
expect(fk == res["schema"]["foreign_keys"], f"{fk} foreign keys, layout has {res['schema']['foreign_keys']}")

expect(one(f"SELECT {C('VERSION','SCHEMA_VERSION')} FROM {T('VERSION')}") == layout + ".0", "VERSION row")
if layout != "2.3":
    expect(sql(f"SELECT {C('CTLGS','NAME')}, {C('CTLGS','LOCATION_URI')} FROM {T('CTLGS')}") == [["hive", wh]],
           "CTLGS hive row")

# orphans
for child, ccol, parent, pcol in [("PARTITIONS", "SD_ID", "SDS", "SD_ID"), ("PARTITIONS", "TBL_ID", "TBLS", "TBL_ID"),
                                  ("TBLS", "SD_ID", "SDS", "SD_ID"), ("TBLS", "DB_ID", "DBS", "DB_ID"),
                                  ("SDS", "SERDE_ID", "SERDES", "SERDE_ID"), ("SDS", "CD_ID", "CDS", "CD_ID"),
                                  ("PARTITION_PARAMS", "PART_ID", "PARTITIONS", "PART_ID"),
                                  ("PART_COL_STATS", "PART_ID", "PARTITIONS", "PART_ID"),
                                  ("TXN_COMPONENTS", "TC_TXNID", "TXNS", "TXN_ID")]:
    n = one(f"SELECT COUNT(*) FROM {T(child)} c LEFT JOIN {T(parent)} p ON c.{C(child, ccol)} = p.{C(parent, pcol)} "
            f"WHERE c.{C(child, ccol)} IS NOT NULL AND p.{C(parent, pcol)} IS NULL")
    expect(n == "0", f"{n} {child}.{ccol} not in {parent}")

# DataNucleus SEQUENCE_TABLE ahead of every id in use
MODELS = {"MDatabase": ("DBS", "DB_ID"), "MTable": ("TBLS", "TBL_ID"), "MStorageDescriptor": ("SDS", "SD_ID"),
          "MSerDeInfo": ("SERDES", "SERDE_ID"), "MColumnDescriptor": ("CDS", "CD_ID"),
          "MPartition": ("PARTITIONS", "PART_ID"), "MTableColumnStatistics": ("TAB_COL_STATS", "CS_ID"),
          "MPartitionColumnStatistics": ("PART_COL_STATS", "CS_ID"), "MFunction": ("FUNCS", "FUNC_ID"),
          "MNotificationLog": ("NOTIFICATION_LOG", "NL_ID"), "MRole": ("ROLES", "ROLE_ID"),
          "MRoleMap": ("ROLE_MAP", "ROLE_GRANT_ID"), "MGlobalPrivilege": ("GLOBAL_PRIVS", "USER_GRANT_ID"),
          "MDBPrivilege": ("DB_PRIVS", "DB_GRANT_ID"), "MTablePrivilege": ("TBL_PRIVS", "TBL_GRANT_ID"),
          "MTableColumnPrivilege": ("TBL_COL_PRIVS", "TBL_COLUMN_GRANT_ID"),
          "MPartitionPrivilege": ("PART_PRIVS", "PART_GRANT_ID"),
          "MPartitionColumnPrivilege": ("PART_COL_PRIVS", "PART_COLUMN_GRANT_ID"),
          "MStringList": ("SKEWED_STRING_LIST", "STRING_LIST_ID"), "MVersionTable": ("VERSION", "VER_ID"),
          "MCatalog": ("CTLGS", "CTLG_ID"), "MCreationMetadata": ("MV_CREATION_METADATA", "MV_CREATION_METADATA_ID"),
          "MWMResourcePlan": ("WM_RESOURCEPLAN", "RP_ID"), "MWMPool": ("WM_POOL", "POOL_ID"),
          "MScheduledQuery": ("SCHEDULED_QUERIES", "SCHEDULED_QUERY_ID"),
          "MTxnWriteNotificationLog": ("TXN_WRITE_NOTIFICATION_LOG", "WNL_ID")}
seqs = sql(f"SELECT {C('SEQUENCE_TABLE','SEQUENCE_NAME')}, {C('SEQUENCE_TABLE','NEXT_VAL')} FROM {T('SEQUENCE_TABLE')}")
for name, nv in seqs:
    model = name.rsplit(".", 1)[-1]
    if model not in MODELS:
        fails.append(f"SEQUENCE_TABLE: unknown model {name}")
        continue
    t, c = MODELS[model]
    mx = int(one(f"SELECT COALESCE(MAX({C(t, c)}), 0) FROM {T(t)}"))
    expect(int(nv) > mx, f"SEQUENCE_TABLE {model} NEXT_VAL {nv} <= max {t}.{c} {mx}")
if mode != "schema":
    have = {s[0].rsplit(".", 1)[-1] for s in seqs}
    for model in ("MDatabase", "MTable", "MStorageDescriptor", "MSerDeInfo", "MColumnDescriptor", "MPartition",
                  "MTableColumnStatistics", "MPartitionColumnStatistics", "MFunction", "MNotificationLog",
                  "MRole", "MGlobalPrivilege", "MTablePrivilege", "MDBPrivilege", "MPartitionPrivilege",
                  "MVersionTable") + (("MCatalog",) if layout != "2.3" else ()):
        expect(model in have, f"SEQUENCE_TABLE has no {model}")

# event and transaction counters
ns = one(f"SELECT {C('NOTIFICATION_SEQUENCE','NEXT_EVENT_ID')} FROM {T('NOTIFICATION_SEQUENCE')}")
if mode != "schema" or layout != "2.3":
    mx = int(one(f"SELECT COALESCE(MAX({C('NOTIFICATION_LOG','EVENT_ID')}), 0) FROM {T('NOTIFICATION_LOG')}"))
    expect(ns is not None and int(ns) > mx, f"NEXT_EVENT_ID {ns} <= max EVENT_ID {mx}")
maxtxn = int(one(f"SELECT COALESCE(MAX({C('TXNS','TXN_ID')}), 0) FROM {T('TXNS')}"))
if layout != "4.0":
    nt = one(f"SELECT {C('NEXT_TXN_ID','NTXN_NEXT')} FROM {T('NEXT_TXN_ID')}")
    expect(nt is not None and int(nt) > maxtxn, f"NEXT_TXN_ID {nt} <= max TXN_ID {maxtxn}")
elif M:
    ai = one("SELECT AUTO_INCREMENT FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'TXNS'")
    expect(int(ai) > maxtxn, f"TXNS AUTO_INCREMENT {ai} <= max TXN_ID {maxtxn}")
else:
    lv = one("SELECT last_value FROM \"TXNS_TXN_ID_seq\"")
    expect(int(lv) >= maxtxn, f"TXNS sequence {lv} < max TXN_ID {maxtxn}")
nl = one(f"SELECT {C('NEXT_LOCK_ID','NL_NEXT')} FROM {T('NEXT_LOCK_ID')}")
mx = int(one(f"SELECT COALESCE(MAX({C('HIVE_LOCKS','HL_LOCK_EXT_ID')}), 0) FROM {T('HIVE_LOCKS')}"))
expect(nl is not None and int(nl) > mx, f"NEXT_LOCK_ID {nl} <= max lock {mx}")
nc = one(f"SELECT {C('NEXT_COMPACTION_QUEUE_ID','NCQ_NEXT')} FROM {T('NEXT_COMPACTION_QUEUE_ID')}")
mx = max(int(one(f"SELECT COALESCE(MAX({C('COMPACTION_QUEUE','CQ_ID')}), 0) FROM {T('COMPACTION_QUEUE')}")),
         int(one(f"SELECT COALESCE(MAX({C('COMPLETED_COMPACTIONS','CC_ID')}), 0) FROM {T('COMPLETED_COMPACTIONS')}")))
expect(nc is not None and int(nc) > mx, f"NEXT_COMPACTION_QUEUE_ID {nc} <= {mx}")
if layout != "2.3":
    bad_w = one(f"SELECT COUNT(*) FROM {T('TXN_TO_WRITE_ID')} w LEFT JOIN {T('NEXT_WRITE_ID')} n ON "
                f"n.{C('NEXT_WRITE_ID','NWI_DATABASE')} = w.{C('TXN_TO_WRITE_ID','T2W_DATABASE')} AND "
                f"n.{C('NEXT_WRITE_ID','NWI_TABLE')} = w.{C('TXN_TO_WRITE_ID','T2W_TABLE')} "
                f"WHERE n.{C('NEXT_WRITE_ID','NWI_NEXT')} IS NULL OR "
                f"n.{C('NEXT_WRITE_ID','NWI_NEXT')} <= w.{C('TXN_TO_WRITE_ID','T2W_WRITEID')}")
    expect(bad_w == "0", f"{bad_w} write ids not below NEXT_WRITE_ID")

if mode != "schema":
    cat = "CONCAT(t.LOCATION, '/', p.PART_NAME)" if M else "t.\"LOCATION\" || '/' || p.\"PART_NAME\""
    n = one(f"SELECT COUNT(*) FROM {T('PARTITIONS')} p JOIN {T('SDS')} s ON s.{C('SDS','SD_ID')} = p.{C('PARTITIONS','SD_ID')} "
            f"JOIN {T('TBLS')} b ON b.{C('TBLS','TBL_ID')} = p.{C('PARTITIONS','TBL_ID')} "
            f"JOIN {T('SDS')} t ON t.{C('SDS','SD_ID')} = b.{C('TBLS','SD_ID')} "
            f"WHERE s.{C('SDS','LOCATION')} <> {cat} OR s.{C('SDS','CD_ID')} <> t.{C('SDS','CD_ID')}")
    expect(n == "0", f"{n} partitions not at <table location>/<PART_NAME> or with another CD_ID")
    n = one(f"SELECT COUNT(*) FROM {T('SERDE_PARAMS')} sp JOIN {T('SDS')} s ON s.{C('SDS','SERDE_ID')} = sp.{C('SERDE_PARAMS','SERDE_ID')} "
            f"WHERE sp.{C('SERDE_PARAMS','PARAM_KEY')} = 'path' AND sp.{C('SERDE_PARAMS','PARAM_VALUE')} <> s.{C('SDS','LOCATION')}")
    expect(n == "0", f"{n} Spark 'path' params differ from SDS.LOCATION")
    paths = int(one(f"SELECT COUNT(*) FROM {T('SERDE_PARAMS')} WHERE {C('SERDE_PARAMS','PARAM_KEY')} = 'path'"))
    expect(paths > 0, "no Spark datasource table ('path' serde param)")
    n = one(f"SELECT COUNT(*) FROM {T('SDS')} s WHERE s.{C('SDS','LOCATION')} IS NOT NULL AND "
            f"s.{C('SDS','LOCATION')} NOT LIKE '{wh}%' AND s.{C('SDS','LOCATION')} NOT LIKE '{ext}%'")
    expect(n == "0", f"{n} locations outside warehouse/external")
    expect(one(f"SELECT {C('DBS','DB_LOCATION_URI')} FROM {T('DBS')} WHERE {C('DBS','NAME')} = 'default'") == wh,
           "default database at the warehouse")
    expect(int(one(f"SELECT COUNT(*) FROM {T('FUNC_RU')} WHERE {C('FUNC_RU','RESOURCE_URI')} = '{wh}/udf/udfs.jar'")) ==
           res["functions"] > 0, "functions with the udfs.jar resource")
    expect(int(one(f"SELECT COUNT(*) FROM {T('SKEWED_COL_VALUE_LOC_MAP')}")) > 0, "skewed table")
    expect(int(one(f"SELECT COUNT(*) FROM {T('TABLE_PARAMS')} WHERE {C('TABLE_PARAMS','PARAM_KEY')} = 'avro.schema.url' "
                   f"AND {C('TABLE_PARAMS','PARAM_VALUE')} LIKE '{ext}/schemas/%.avsc'")) == 1, "avro.schema.url")
    states = {r[0] for r in sql(f"SELECT DISTINCT {C('TXNS','TXN_STATE')} FROM {T('TXNS')}")}
    expect({"o", "a"} <= states, f"TXNS states {states}")
    expect(int(one(f"SELECT COUNT(*) FROM {T('HIVE_LOCKS')} l JOIN {T('TXNS')} x ON x.{C('TXNS','TXN_ID')} = l.{C('HIVE_LOCKS','HL_TXNID')} "
                   f"WHERE x.{C('TXNS','TXN_STATE')} = 'o'")) >= 1, "a lock held by an open txn")
    expect(int(one(f"SELECT COUNT(*) FROM {T('TABLE_PARAMS')} WHERE {C('TABLE_PARAMS','PARAM_KEY')} = 'transactional'")) >= 1,
           "a transactional table")
    nview = int(one(f"SELECT COUNT(*) FROM {T('TBLS')} t JOIN {T('SDS')} s ON s.{C('SDS','SD_ID')} = t.{C('TBLS','SD_ID')} "
                    f"WHERE t.{C('TBLS','TBL_TYPE')} = 'VIRTUAL_VIEW' AND s.{C('SDS','LOCATION')} IS NULL "
                    f"AND t.{C('TBLS','VIEW_EXPANDED_TEXT')} IS NOT NULL"))
    expect(nview >= 1, "a view without location")
    if layout == "4.0":
        expect(int(one(f"SELECT COUNT(*) FROM {T('DBS')} WHERE {C('DBS','DB_MANAGED_LOCATION_URI')} LIKE '{wh}/managed/%.db'")) >= 1,
               "DB_MANAGED_LOCATION_URI")

if mode == "sample":
    def parts(dbn, tbl):
        return sorted(r[0] for r in sql(
            f"SELECT p.{C('PARTITIONS','PART_NAME')} FROM {T('PARTITIONS')} p JOIN {T('TBLS')} t ON t.{C('TBLS','TBL_ID')} = p.{C('PARTITIONS','TBL_ID')} "
            f"JOIN {T('DBS')} d ON d.{C('DBS','DB_ID')} = t.{C('TBLS','DB_ID')} WHERE d.{C('DBS','NAME')} = '{dbn}' AND t.{C('TBLS','TBL_NAME')} = '{tbl}'"))
    expect(parts("retail", "orders") == sorted(["order_status=COMPLETE", "order_status=CLOSED", "order_status=PENDING",
                                                "order_status=ON HOLD"]), f"retail.orders partitions {parts('retail', 'orders')}")
    expect(len(parts("retail", "order_items")) == 4, "retail.order_items partitions")
    expect(parts("staging", "raw_orders") == sorted(["source=Zürich%2FNord/ingest_ts=2026-01-05 03%3A00%3A00",
                                                     "source=São Paulo/ingest_ts=2026-01-05 04%3A00%3A00",
                                                     "source=Köln/ingest_ts=2026-01-05 05%3A00%3A00"]),
           f"staging.raw_orders partitions {parts('staging', 'raw_orders')}")
    vals = {r[0] for r in sql(f"SELECT {C('PARTITION_KEY_VALS','PART_KEY_VAL')} FROM {T('PARTITION_KEY_VALS')}")}
    expect({"Zürich/Nord", "São Paulo", "Köln", "ON HOLD"} <= vals, "Latin-1 partition values round trip")
    desc = one(f"SELECT {C('DBS','DESC')} FROM {T('DBS')} WHERE {C('DBS','NAME')} = 'retail'")
    expect(desc == "Boutique de démonstration: commandes, clients, magasins", f"retail DESC {desc!r}")
    expect(one(f"SELECT s.{C('SDS','LOCATION')} FROM {T('TBLS')} t JOIN {T('SDS')} s ON s.{C('SDS','SD_ID')} = t.{C('TBLS','SD_ID')} "
               f"WHERE t.{C('TBLS','TBL_NAME')} = 'stores'") == f"{ext}/retail/stores", "retail.stores location")
    expect(one(f"SELECT t.{C('TBLS','TBL_TYPE')} FROM {T('TBLS')} t WHERE t.{C('TBLS','TBL_NAME')} = 'completed_orders'") ==
           "VIRTUAL_VIEW", "view completed_orders")
    if layout == "4.0":
        expect(one(f"SELECT {C('DBS','DB_MANAGED_LOCATION_URI')} FROM {T('DBS')} WHERE {C('DBS','NAME')} = 'retail'") ==
               f"{wh}/managed/retail.db", "retail managed location")
    expect(res["databases"] == (4 if layout == "4.0" else 3) and res["functions"] == 1, "sample counts")

if mode == "scale":
    want = json.loads(os.environ.get("GEN_SMOKE_EXPECT", '{"databases": 4, "tables": 30, "partitions": 20000}'))
    for k, n in want.items():
        expect(res[k] == n, f"{k}: {res[k]}, want {n}")
    per = [int(r[0]) for r in sql(f"SELECT COUNT(*) FROM {T('PARTITIONS')} GROUP BY {C('PARTITIONS','TBL_ID')}")]
    expect(per and max(per) > 3 * (sum(per) / len(per)), f"partitions not uneven: max {max(per or [0])}")
    ext_n = int(one(f"SELECT COUNT(*) FROM {T('TBLS')} WHERE {C('TBLS','TBL_TYPE')} = 'EXTERNAL_TABLE'"))
    expect(ext_n >= 1, "external tables")

print(f"  {mode} {layout}: {len(res['rows'])} tables, {sum(res['rows'].values())} rows, "
      f"{res['partitions']} partitions; {len(fails)} problems", file=sys.stderr)
for f in fails:
    print("  - " + f, file=sys.stderr)
sys.exit(1 if fails else 0)
EOF
}

run_engine() {
    local dir="$WORK/$ENGINE" layout l n
    OUT="$dir/out"
    SRV="$dir/server"
    mkdir -p "$OUT"
    chmod 755 "$dir"
    PORT=$(free_port)
    say "$ENGINE: starting server on 127.0.0.1:$PORT"
    if [ "$ENGINE" = mariadb ]; then start_mariadb "$SRV" "$PORT" || return 1; else start_postgres "$SRV" "$PORT" || return 1; fi

    if [ "$BIG" = 1 ]; then
        create_db big
        # shellcheck disable=SC2086
        step "big-$BIG_LAYOUT" "${GEN[@]}" --url "$(url big)" --layout "$BIG_LAYOUT" $BIG_ARGS --verbose || return 1
        python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('  ' + json.dumps({k: d[k] for k in ('layout','engine','databases','tables','partitions','views','functions','seconds')}), file=sys.stderr); print('  rows: ' + json.dumps({k: v for k, v in d['rows'].items() if v}), file=sys.stderr)" "$OUT/big-$BIG_LAYOUT.json"
        local exp
        exp=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({'partitions': d['partitions'], 'tables': d['tables']}))" "$OUT/big-$BIG_LAYOUT.json")
        GEN_SMOKE_EXPECT="$exp" check "check-big-$BIG_LAYOUT" scale "$BIG_LAYOUT" big "$OUT/big-$BIG_LAYOUT.json" || true
        return 0
    fi

    for layout in $LAYOUTS; do
        l=${layout/./}
        for n in schema$l sample$l sampleb$l scale$l; do create_db "$n"; done
        if step "schema-$layout" "${GEN[@]}" --url "$(url schema$l)" --layout "$layout" --schema-only; then
            check "check-schema-$layout" schema "$layout" "schema$l" "$OUT/schema-$layout.json" || true
        fi
        if step "sample-$layout" "${GEN[@]}" --url "$(url sample$l)" --layout "$layout" --sample retail \
            --keep-tsv "$OUT/tsv-a-$layout"; then
            check "check-sample-$layout" sample "$layout" "sample$l" "$OUT/sample-$layout.json" || true
            if step "sample-again-$layout" "${GEN[@]}" --url "$(url sampleb$l)" --layout "$layout" --sample retail \
                --keep-tsv "$OUT/tsv-b-$layout"; then
                if diff -r "$OUT/tsv-a-$layout" "$OUT/tsv-b-$layout" >"$OUT/tsv-diff-$layout.txt"; then
                    ok "deterministic-$layout" "$(ls "$OUT/tsv-a-$layout" | wc -l) identical TSV files"
                else
                    bad "deterministic-$layout"; head -5 "$OUT/tsv-diff-$layout.txt" >&2
                fi
            fi
        fi
        if step "scale-$layout" "${GEN[@]}" --url "$(url scale$l)" --layout "$layout" \
            --databases 3 --tables 30 --partitions 20000; then
            check "check-scale-$layout" scale "$layout" "scale$l" "$OUT/scale-$layout.json" || true
        fi
    done
    layout=${LAYOUTS%% *}
    expect_error "refuses-non-empty" "not empty" "${GEN[@]}" --url "$(url schema${layout/./})" --layout "$layout" --sample retail
    expect_error "unreachable" "cannot connect" "${GEN[@]}" --url "$(url nosuchdb)" --layout "$layout" --schema-only
    local dead
    dead=$(free_port)
    if [ "$ENGINE" = mariadb ]; then
        expect_error "no-server" "cannot connect" "${GEN[@]}" --url "mysql://tandem:x@127.0.0.1:$dead/db" --layout "$layout" --schema-only
    else
        expect_error "no-server" "cannot connect" "${GEN[@]}" --url "postgres://tandem:x@127.0.0.1:$dead/db" --layout "$layout" --schema-only
    fi
}

ENGINE=cli
OUT="$WORK"
expect_error "bad-url" "bad --url" "${GEN[@]}" --url "ftp://127.0.0.1/db" --layout 3.1 --schema-only
expect_error "url-without-db" "no database name" "${GEN[@]}" --url "postgres://u:p@127.0.0.1:5432/" --layout 3.1 --schema-only

for ENGINE in $ENGINES; do
    case "$ENGINE" in mariadb | postgres) ;; *) say "unknown engine $ENGINE"; exit 2 ;; esac
    if ! run_engine; then
        say "$ENGINE: failed (outputs in $WORK/$ENGINE/out; set GEN_SMOKE_KEEP=1 to keep them)"
    fi
    # stop this engine's server before the next one starts (2-core machine)
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
done

[ -f "$WORK/timings.txt" ] && sed 's/^/  /' "$WORK/timings.txt" >&2
echo "gen smoke: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
