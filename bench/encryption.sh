#!/usr/bin/env bash
# The cost of an encrypted repository: tandem backup and restore of the generated Hive-Metastore
# database of bench/run.sh (default 5 million rows per engine) into a plain and an encrypted
# repository, in the same run, 5 rounds in alternating order. Prints a Markdown table with the
# medians and the ratio encrypted / plain (goal <= 1.10); see BENCHMARKS.md.
# Usage: ./bench/encryption.sh [--rows N] [--only mariadb|postgres] [--workdir DIR] [--parallel N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release -p tandem --bin tandem --example bench
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
export TANDEM_BIN="$target_dir/release/tandem"
exec "$target_dir/release/examples/bench" --encryption "$@"
