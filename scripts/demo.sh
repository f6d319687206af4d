#!/usr/bin/env bash
# The tandem demo: starts two throwaway MariaDB servers (a primary and a DR site) on loopback,
# creates a sample database on the primary, backs it up into a local repository, restores it into
# the DR site, lists and checks the backup, and stops both servers.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --quiet -p tandem --bin tandem --example demo
exec target/release/examples/demo "$@"
