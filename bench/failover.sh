#!/usr/bin/env bash
# RTO and RPO of the platform's moves, measured by the suite's own scenarios (real MariaDB and
# PostgreSQL servers, the real binary), several runs each, with the spread:
#   - planned switchover to a replica under an application writer (MariaDB, PostgreSQL): RTO from
#     the fence to the end of the promote (RPO 0 is asserted by the test);
#   - switchover to a standby kept by refresh (PostgreSQL, a final backup copied after the fence);
#   - automatic failover in `tandem serve` after the MariaDB primary is killed with SIGKILL
#     (failover-after = 3s in the test): time from the death to the promoted site, the failover's
#     own RTO, the RPO bound it reports, and the time until the returned primary is fenced;
#   - `tandem failover` by hand from a dead primary.
# These moves wait on the databases (connections, locks, log positions), not on tandem's CPU:
# the test profile is used unless RELEASE=1.
#   ./bench/failover.sh        # 3 runs
#   ./bench/failover.sh 5
#   RELEASE=1 ./bench/failover.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
runs="${1:-3}"
log="$(mktemp)"
for i in $(seq 1 "$runs"); do
  echo "run $i of $runs" >&2
  cargo test ${RELEASE:+--release} -q -p tandem --test failover_auto --test switchover -- --nocapture --test-threads=1 2>&1 \
    | grep -E "switchover:$|switchover by copy:|^failover:|switched over from|failed over from|automatic failover|returned primary was fenced" >> "$log"
done
# Prints "label: min / median / max (n)" of the numbers the pattern captures.
stat() {
  local label="$1" values
  values=$(cat | sort -n)
  [ -z "$values" ] && { echo "$label: no samples"; return; }
  echo "$values" | awk -v l="$label" '{ v[NR] = $1 } END { printf "%-58s %7.2f / %7.2f / %7.2f s  (n=%d)\n", l, v[1], v[int((NR + 1) / 2)], v[NR], NR }'
}
echo
echo "measure                                                        min /  median /     max"
# The replica switchovers print "<Flavor> switchover:" before their timeline.
replica_rto() {
  awk -v f="$1 switchover:" 'index($0, f) { on = 1; next } on && /switched over from/ { match($0, /RTO [0-9.]+/); print substr($0, RSTART + 4, RLENGTH - 4); on = 0 }' "$log"
}
replica_rto MariaDb | stat "switchover to a replica, MariaDB: RTO"
replica_rto Postgres | stat "switchover to a replica, PostgreSQL: RTO"
grep "final state was copied" "$log" | grep -o "RTO [0-9.]*" | cut -d' ' -f2 | stat "switchover to a refreshed standby, PostgreSQL: RTO"
grep "automatic failover" "$log" | grep -o "failover [0-9.]* s after" | cut -d' ' -f2 | stat "automatic failover: primary's death to promoted"
grep "automatic failover" "$log" | grep -o ", RTO [0-9.]*" | cut -d' ' -f3 | stat "automatic failover: the failover itself (RTO)"
grep "automatic failover" "$log" | grep -o "RPO at most [0-9.]*" | cut -d' ' -f4 | stat "automatic failover: RPO bound"
grep "returned primary was fenced" "$log" | grep -o "fenced [0-9.]*" | cut -d' ' -f2 | stat "returned primary fenced after it answered"
grep "^failed over from primary to dr" "$log" | grep -o "RTO [0-9.]*" | cut -d' ' -f2 | stat "tandem failover by hand, dead primary: RTO"
echo "(the lines measured: $log)"
