#!/usr/bin/env bash
# Installs what tandem's demo, tests and benchmarks need on Debian, skipping what is present:
# MariaDB and PostgreSQL server + client binaries (the test kit starts its own throwaway servers
# from them), a C toolchain for -sys crates, python3 (tests/hms/gen.py builds sample metastores),
# systemd's tools and adduser (the package test), and checks for a Rust toolchain.
set -euo pipefail

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v mariadb-dump >/dev/null 2>&1 || command -v mysqldump >/dev/null 2>&1 || need+=(mariadb-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# The Debian package test: verifies the unit, installs the package (its postinst adds a user).
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v adduser >/dev/null 2>&1 || need+=(adduser)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  for d in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
    [ -x "$d/cargo" ] && export PATH="$d:$PATH" && break
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no Rust toolchain found (install one with rustup: https://rustup.rs)" >&2
  exit 1
fi
