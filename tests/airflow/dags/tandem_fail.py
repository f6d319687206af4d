"""tandem_fail: `ok` succeeds, `boom` fails (exit 3, no retries), `after` never runs (upstream_failed)."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG(
    dag_id="tandem_fail",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["tandem"],
    default_args={"owner": "tandem", "retries": 0},
) as dag:
    ok = BashOperator(task_id="ok", bash_command="echo ok")
    boom = BashOperator(task_id="boom", bash_command="echo failing on purpose; exit 3")
    after = BashOperator(task_id="after", bash_command="echo never")
    ok >> boom >> after
