#!/usr/bin/env bash
# tandem vs mariadb-dump/mariadb and pg_dump/pg_restore on a generated Hive-Metastore-shaped
# database (default 5 million rows per engine). Usage: ./bench/run.sh [--rows N] [--only mariadb|postgres]
# [--workdir DIR] [--parallel N] [--top]. Prints a Markdown results table at the end; see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release -p tandem --bin tandem --example bench
export TANDEM_BIN="$PWD/target/release/tandem"
exec target/release/examples/bench "$@"
