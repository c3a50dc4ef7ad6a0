"""MLGitVersionSensor in poke mode (the version is there) and deferred (it lands while waiting)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag
from mlgit_airflow import MLGitVersionSensor


@dag(
    dag_id="mlgit_ops_sensor",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
)
def mlgit_ops_sensor() -> None:
    present = MLGitVersionSensor(
        task_id="present",
        entity_type="datasets",
        name="watched",
        min_version=1,
        deferrable=False,
        poke_interval=1,
        timeout=60,
    )
    deferred = MLGitVersionSensor(
        task_id="deferred",
        entity_type="datasets",
        name="watched",
        min_version="{{ ti.xcom_pull(task_ids='present')['version'] + 1 }}",
        poke_interval=1,
        timeout=120,
    )
    present >> deferred


mlgit_ops_sensor()
