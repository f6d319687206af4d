"""tandem_hourly: an hourly DAG (a real timetable); `af.py populate` gives it queued runs and one
'running' run whose `wait` task is deferred on a trigger (trigger.kwargs is Fernet-encrypted)."""

from __future__ import annotations

import datetime

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import DAG

with DAG(
    dag_id="tandem_hourly",
    schedule="@hourly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=16,
    tags=["tandem"],
    default_args={"owner": "tandem", "retries": 0},
) as dag:
    wait = TimeDeltaSensor(task_id="wait", delta=datetime.timedelta(minutes=5), deferrable=True)
    report = BashOperator(task_id="report", bash_command="echo hourly report")
    wait >> report
