#!/usr/bin/env bash
# Continuous replication from PostgreSQL against PostgreSQL's own logical replication
# (CREATE SUBSCRIPTION) on the same source, writer and run: lag p50/p99/max under a steady
# writer, the WAL the slots keep, and the apply rate of a backlog.
#   ./bench/replication-pg.sh                                  # 2000 rows/s for 60 s, a 200 000-row backlog
#   ./bench/replication-pg.sh --rate 2000 --seconds 300 --backlog 1000000
# Prints a Markdown table on stdout (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release -p tandem --bin tandem --example replication_bench_pg
target="${CARGO_TARGET_DIR:-$PWD/target}"
export TANDEM_BIN="$target/release/tandem"
exec "$target/release/examples/replication_bench_pg" "$@"
