#!/usr/bin/env bash
# Runs tandem's full test suite: unit tests, engine conformance against throwaway MariaDB and
# PostgreSQL servers, repository tests against local and S3-compatible stores, end-to-end CLI
# tests (bad input, crashes, consistency under writers), and real-client tests: Spark's Hive
# metastore client on restored metastores and the Airflow 3 CLI on restored Airflow databases
# (PySpark and Airflow in cached venvs under .cache/), and `tandem serve` as a daemon process
# (its status page in headless chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/hms-env.sh >/dev/null
source scripts/airflow-env.sh >/dev/null
# The status page of `tandem serve` is checked in a real browser (Debian's chromium).
if ! command -v chromium >/dev/null 2>&1; then
  echo "test: installing chromium" >&2
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# promtool checks the alert rules in ops/prometheus. Only that binary is taken from Debian's
# prometheus package, unpacked into .cache/promtool: installing the package would start a
# Prometheus server on this machine.
promtool_dir="$PWD/.cache/promtool"
if ! command -v promtool >/dev/null 2>&1 && [ ! -x "$promtool_dir/usr/bin/promtool" ]; then
  echo "test: unpacking promtool from Debian's prometheus package into $promtool_dir" >&2
  rm -rf "$promtool_dir.tmp" && mkdir -p "$promtool_dir.tmp"
  (cd "$promtool_dir.tmp" && { apt-get download -qq prometheus 2>/dev/null || { apt-get update -qq && apt-get download -qq prometheus; }; } && dpkg-deb -x prometheus_*.deb root)
  rm -rf "$promtool_dir" && mv "$promtool_dir.tmp/root" "$promtool_dir" && rm -rf "$promtool_dir.tmp"
fi
[ -x "$promtool_dir/usr/bin/promtool" ] && export PATH="$promtool_dir/usr/bin:$PATH"
# Style first: formatting (rustfmt.toml) and lints are part of the suite, so a toolchain without
# the rustfmt and clippy components fails it (rustup cannot fetch them without the network).
for tool in fmt clippy; do
  if ! cargo "$tool" --version >/dev/null 2>&1; then
    echo "test: error: cargo $tool is not installed with this toolchain ($(rustc --version 2>/dev/null || echo 'no rustc'));" \
      "install it (rustup component add ${tool/fmt/rustfmt}) and run again: style is part of the suite" >&2
    exit 1
  fi
done
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --workspace --all-targets --quiet
exec cargo test --workspace --no-fail-fast -- --test-threads="${TANDEM_TEST_THREADS:-4}"
