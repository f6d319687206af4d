"""tandem_paused: a daily DAG that `af.py populate` keeps paused (a standby must not unpause it)."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG(
    dag_id="tandem_paused",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["tandem"],
    default_args={"owner": "tandem", "retries": 0},
) as dag:
    BashOperator(task_id="noop", bash_command="echo paused dag ran")
