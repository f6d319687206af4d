#!/usr/bin/env bash
# Bootstrap + catch-up of a replica of a generated Hive Metastore (default 1M partitions) while a
# writer keeps changing it: tandem replicate against mariadb-dump | mariadb + a native replica.
#   ./bench/replication-bootstrap.sh                       # 1 000 000 partitions, 500 updates/s
#   ./bench/replication-bootstrap.sh --partitions 20000    # a smoke run
# Prints a Markdown table on stdout (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release -p tandem --bin tandem --example replication_bootstrap
export TANDEM_BIN="$PWD/target/release/tandem"
exec target/release/examples/replication_bootstrap "$@"
