#!/usr/bin/env bash
# Prepare the real-client environment for Airflow tests (idempotent).
#
#   source scripts/airflow-env.sh      # exports AIRFLOW_PY, AIRFLOW_BIN
#   bash scripts/airflow-env.sh        # same, prints the variables as `export` lines
#
# - creates/reuses a Python venv at ${TANDEM_CACHE:-$PWD/.cache}/venv-airflow with
#   apache-airflow[postgres]==${TANDEM_AIRFLOW_VERSION:-3.3.2}, every dependency pinned by
#   tests/airflow/requirements.txt (Airflow's own constraints files live on GitHub, which is not
#   reachable here; this file is a `pip freeze` of a venv that passed tests/airflow/smoke.sh);
# - pip runs only when the venv does not already hold that version installed with that
#   constraints file (a stamp file in the venv records both).
#
# Needs: python3 (3.10-3.13) on PATH, PyPI reachable for the first run.

_airflow_env_main() {
    set -euo pipefail
    local here root cache want venv py_base constraints stamp_want have
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    root="$(cd "$here/.." && pwd)"
    cache="${TANDEM_CACHE:-$PWD/.cache}"
    want="${TANDEM_AIRFLOW_VERSION:-3.3.2}"
    venv="$cache/venv-airflow"
    py_base="${AIRFLOW_PYTHON:-python3}"
    constraints="$root/tests/airflow/requirements.txt"

    [ -f "$constraints" ] || { echo "airflow-env: $constraints not found" >&2; return 1; }
    # The stamp: wanted version + a hash of the constraints, so editing the pins reinstalls.
    stamp_want="apache-airflow[postgres]==$want $(sha256sum "$constraints" | cut -c1-16)"

    mkdir -p "$cache"
    if [ ! -x "$venv/bin/python" ]; then
        echo "airflow-env: creating venv $venv" >&2
        "$py_base" -m venv "$venv" >&2
    fi
    have="$(cat "$venv/.tandem-airflow-stamp" 2>/dev/null || true)"
    if [ "$have" != "$stamp_want" ] || [ ! -x "$venv/bin/airflow" ]; then
        echo "airflow-env: installing apache-airflow[postgres]==$want into $venv (have: ${have:-none})" >&2
        local t0=$SECONDS
        # The constraints pin apache-airflow itself too; another TANDEM_AIRFLOW_VERSION than the
        # pinned one installs without them (pip's newest dependencies, unpinned).
        local cflag=(-c "$constraints")
        grep -qx "apache-airflow==$want" "$constraints" || {
            echo "airflow-env: $constraints pins another Airflow; installing $want without constraints" >&2
            cflag=()
        }
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "${cflag[@]}" \
            "apache-airflow[postgres]==$want" >&2
        echo "$stamp_want" >"$venv/.tandem-airflow-stamp"
        echo "airflow-env: installed in $((SECONDS - t0)) s" >&2
    fi

    export AIRFLOW_PY="$venv/bin/python"
    export AIRFLOW_BIN="$venv/bin/airflow"
    echo "export AIRFLOW_PY=$AIRFLOW_PY"
    echo "export AIRFLOW_BIN=$AIRFLOW_BIN"
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # Sourced: do the work in a child bash (so `set -e` really applies and the caller's shell
    # options stay untouched), then take over the exported variables it prints.
    unset -f _airflow_env_main
    if _airflow_env_out="$(bash "${BASH_SOURCE[0]}")"; then
        eval "$_airflow_env_out"
        unset _airflow_env_out
    else
        unset _airflow_env_out
        echo "airflow-env: failed" >&2
        return 1
    fi
else
    _airflow_env_main
fi
