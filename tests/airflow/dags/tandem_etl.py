"""tandem_etl: three tasks (extract -> transform -> load), manual schedule, one outlet asset.

Deterministic: no randomness, no clock in the results. `af.py populate` runs it to completion
with `airflow dags test` and leaves an interrupted ('running') run of it behind.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Asset, task

ORDERS = Asset(name="tandem_orders", uri="s3://tandem-lake-primary/warehouse/orders")

with DAG(
    dag_id="tandem_etl",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["tandem", "etl"],
    description="tandem test DAG: extract -> transform -> load",
    default_args={"owner": "tandem", "retries": 0},
) as dag:

    @task
    def extract() -> list[int]:
        return [3, 1, 2]

    @task
    def transform(rows: list[int]) -> dict:
        return {"rows": sorted(rows), "total": sum(rows), "city": "Zürich"}

    load = BashOperator(
        task_id="load",
        bash_command="echo loaded {{ ti.xcom_pull(task_ids='transform')['total'] }} rows",
        outlets=[ORDERS],
    )

    transform(extract()) >> load
