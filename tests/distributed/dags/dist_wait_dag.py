"""Waits in the triggerer for a new labels version, then checks out exactly the version found."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag
from mlgit_airflow import MLGitCheckoutOperator, MLGitVersionSensor


@dag(
    dag_id="mlgit_dist_wait_for_labels",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"min_version": Param(2, type="integer", minimum=1)},
)
def mlgit_dist_wait_for_labels() -> None:
    wait = MLGitVersionSensor(
        task_id="wait",
        entity_type="labels",
        name="toy-points-labels",
        min_version="{{ params.min_version }}",
        poke_interval=2,
        timeout=900,
    )
    checkout = MLGitCheckoutOperator(
        task_id="checkout",
        entity_type="labels",
        ref="{{ ti.xcom_pull(task_ids='wait')['tag'] }}",
        force=True,
    )
    wait >> checkout


mlgit_dist_wait_for_labels()
