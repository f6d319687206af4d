#!/usr/bin/env bash
# Prepare the real-client environment for Hive Metastore tests (idempotent).
#
#   source scripts/hms-env.sh      # exports SPARK_PY, HMS_JDBC_MARIADB, HMS_JDBC_POSTGRES
#   bash scripts/hms-env.sh        # same, prints the variables as `export` lines
#
# - installs Debian's JDBC drivers (libmariadb-java, libpostgresql-jdbc-java) when missing,
#   running `apt-get update` only if the install needs it;
# - creates/reuses a Python venv at ${TANDEM_CACHE:-$PWD/.cache}/venv-spark with pyspark
#   ${HMS_PYSPARK_VERSION:-4.0.5} (Spark 4.0.x ships the Hive 2.3.10 metastore client jars);
#   pip runs only when the wanted version is not already installed.
#
# Needs: python3 (3.9+); installs Java (default-jre-headless), python3-venv and the JDBC drivers
# from Debian when missing (root or sudo-less apt).

_hms_env_main() {
    set -euo pipefail
    local cache="${TANDEM_CACHE:-$PWD/.cache}"
    local want="${HMS_PYSPARK_VERSION:-4.0.5}"
    local venv="$cache/venv-spark"
    local py_base="${HMS_PYTHON:-python3}"

    # --- Java (Spark), the venv module, JDBC drivers: from Debian when missing ------------------
    local pkgs=() p
    command -v java >/dev/null 2>&1 || pkgs+=(default-jre-headless)
    "$py_base" -c 'import venv, ensurepip' >/dev/null 2>&1 || pkgs+=(python3-venv)
    for p in libmariadb-java libpostgresql-jdbc-java; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || pkgs+=("$p")
    done
    if ((${#pkgs[@]})); then
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        echo "hms-env: installing ${pkgs[*]}" >&2
        if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${pkgs[@]}" >&2; then
            $sudo apt-get update -q >&2
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${pkgs[@]}" >&2
        fi
    fi
    command -v java >/dev/null 2>&1 || { echo "hms-env: java not found on PATH (need Java 17+)" >&2; return 1; }
    local mariadb_jar postgres_jar
    mariadb_jar="$(ls /usr/share/java/mariadb-java-client.jar 2>/dev/null || ls /usr/share/java/mariadb-java-client*.jar | head -1)"
    postgres_jar="$(ls /usr/share/java/postgresql.jar 2>/dev/null || ls /usr/share/java/postgresql*.jar | head -1)"
    [ -f "$mariadb_jar" ] || { echo "hms-env: MariaDB JDBC jar not found in /usr/share/java" >&2; return 1; }
    [ -f "$postgres_jar" ] || { echo "hms-env: PostgreSQL JDBC jar not found in /usr/share/java" >&2; return 1; }

    # --- pyspark venv ---------------------------------------------------------------------------
    mkdir -p "$cache"
    if [ ! -x "$venv/bin/python" ]; then
        echo "hms-env: creating venv $venv" >&2
        "$py_base" -m venv "$venv" >&2
    fi
    local have
    have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pyspark"))' 2>/dev/null || true)"
    if [ "$have" != "$want" ]; then
        echo "hms-env: installing pyspark==$want into $venv (have: ${have:-none})" >&2
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "pyspark==$want" >&2
    fi

    export SPARK_PY="$venv/bin/python"
    export HMS_JDBC_MARIADB="$mariadb_jar"
    export HMS_JDBC_POSTGRES="$postgres_jar"
    # Spark must never bind the machine's external address.
    export SPARK_LOCAL_IP=127.0.0.1
    echo "export SPARK_PY=$SPARK_PY"
    echo "export HMS_JDBC_MARIADB=$HMS_JDBC_MARIADB"
    echo "export HMS_JDBC_POSTGRES=$HMS_JDBC_POSTGRES"
    echo "export SPARK_LOCAL_IP=$SPARK_LOCAL_IP"
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # Sourced: do the work in a child bash (so `set -e` really applies and the caller's shell
    # options stay untouched), then take over the exported variables it prints.
    unset -f _hms_env_main
    if _hms_env_out="$(bash "${BASH_SOURCE[0]}")"; then
        eval "$_hms_env_out"
        unset _hms_env_out
    else
        unset _hms_env_out
        echo "hms-env: failed" >&2
        return 1
    fi
else
    _hms_env_main
fi
