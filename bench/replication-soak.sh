#!/usr/bin/env bash
# kill -9 soak of continuous replication: the suite's kill test with many more kills. A writer
# keeps changing a MariaDB source while `tandem replicate` is killed at random moments (200 ms to
# 1 s after each start) and started again; after the last one the replica must equal the source
# row for row (MariaDB) and value for value (the PostgreSQL replica), with no duplicate.
#   ./bench/replication-soak.sh            # 50 kills
#   ./bench/replication-soak.sh 200
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
kills="${1:-50}"
start=$(date +%s)
TANDEM_KILLS="$kills" cargo test --release -p tandem --test replicate -- --exact \
  replicas_follow_a_mariadb_source_across_engines_resume_after_kill_9_and_stop_at_ddl --nocapture
echo "soak: $kills kills of tandem replicate under a writer, replicas equal to the source after each resume ($(( $(date +%s) - start )) s)"
