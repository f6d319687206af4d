#!/usr/bin/env bash
# Crash soak: tandem crashed (abort, like kill -9) or failed at random crash points, ROUNDS times
# (default 100), each followed by the crash matrix's checks (repository sound, no partial backup,
# restore target old or new, next run succeeds); prints the tally per point and action.
#
#   bench/crash-soak.sh [ROUNDS]        SOAK_SEED=N repeats a run
#
# Uses the test build (the only one with the crash points compiled in) and the test kit's
# throwaway MariaDB server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export SOAK_ROUNDS="${1:-100}"
# --workspace: the same features as the test suite, so its build is reused.
exec cargo test --workspace --test crash_matrix -- --ignored --exact soak --nocapture
