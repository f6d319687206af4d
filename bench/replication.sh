#!/usr/bin/env bash
# Continuous replication against MariaDB's own replication on the same source, writer and run:
# lag p50/p99/max under a steady writer, and the apply rate of a backlog.
#   ./bench/replication.sh                                  # 2000 rows/s for 60 s, a 200 000-row backlog
#   ./bench/replication.sh --rate 5000 --seconds 300 --backlog 1000000
# Prints a Markdown table on stdout (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release -p tandem --bin tandem --example replication_bench
target="${CARGO_TARGET_DIR:-$PWD/target}"
export TANDEM_BIN="$target/release/tandem"
exec "$target/release/examples/replication_bench" "$@"
