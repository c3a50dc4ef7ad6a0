"""fsck of the datasets of a run folder (the host's shared objects), repairing from the storage of the
dataset the run checked out."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag
from mlgit_airflow import MLGitCheckoutOperator, MLGitFsckOperator


@dag(
    dag_id="mlgit_ops_fsck", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False
)
def mlgit_ops_fsck() -> None:
    checkout = MLGitCheckoutOperator(task_id="checkout", entity_type="datasets", ref="fsck-me")
    checkout >> MLGitFsckOperator(task_id="fsck", entity_type="datasets")


mlgit_ops_fsck()
