"""fsck of the datasets of the worker's workspace, repairing from the storage."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag
from mlgit_airflow import MLGitFsckOperator


@dag(
    dag_id="mlgit_ops_fsck", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False
)
def mlgit_ops_fsck() -> None:
    MLGitFsckOperator(task_id="fsck", entity_type="datasets")


mlgit_ops_fsck()
