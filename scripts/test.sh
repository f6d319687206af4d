#!/usr/bin/env bash
# Runs tandem's full test suite: unit tests, engine conformance against throwaway MariaDB and
# PostgreSQL servers, repository tests against local and S3-compatible stores, and end-to-end
# CLI tests (bad input, crashes, consistency under writers).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --workspace --all-targets --quiet
exec cargo test --workspace --no-fail-fast -- --test-threads="${TANDEM_TEST_THREADS:-4}"
