"""Airflow provider for tandem: drive `tandem serve` (backups, standby refreshes, drills,
staleness) from DAGs.

- `tandem_provider.hooks.TandemHook`: the daemon's HTTP API (connection type `tandem`).
- `tandem_provider.operators.TandemBackupOperator`, `TandemRefreshOperator`,
  `TandemDrillOperator`: run a job, wait, fail the task with the job's error.
- `tandem_provider.sensors.TandemStalenessSensor`: wait until a standby is fresh enough.

Importing this package does not import Airflow (Airflow calls `get_provider_info` while it
discovers providers).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """The provider's description for Airflow's ProvidersManager (entry point
    `apache_airflow_provider`); `package-name` must equal the distribution's name."""
    return {
        "package-name": "airflow-provider-tandem",
        "name": "tandem",
        "description": "Backups, standby refreshes and drills of Hive Metastore / Airflow metadata databases by `tandem serve`.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "tandem",
                "hook-class-name": "tandem_provider.hooks.TandemHook",
                "hook-name": "tandem",
            }
        ],
    }
