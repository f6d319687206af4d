"""Airflow 3 names (the task SDK), with the Airflow 2 ones as fallback."""

from __future__ import annotations

try:
    from airflow.sdk import BaseOperator, BaseSensorOperator
except ImportError:  # Airflow 2
    from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]

try:
    from airflow.sdk import BaseHook
except ImportError:  # Airflow 2, 3.0
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]

try:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 2, 3.0
    from airflow.exceptions import AirflowException, AirflowFailException  # type: ignore[no-redef]

__all__ = ["AirflowException", "AirflowFailException", "BaseHook", "BaseOperator", "BaseSensorOperator"]
