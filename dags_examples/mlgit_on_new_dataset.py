"""A DAG scheduled on the dataset's Asset: it runs whenever a push lands a new version of it.

The push's Asset event carries ``{tag, sha, version, metrics}``; this DAG checks out exactly that
tag (not "the latest", which may have moved on) and verifies the local copy with fsck.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task
from mlgit_airflow import MLGitCheckoutOperator, MLGitFsckOperator, mlgit_asset
from mlgit_airflow.assets import latest_version_extra

DATASET = "toy-points"
DATASET_ASSET = mlgit_asset("datasets", DATASET)


@dag(
    dag_id="mlgit_on_new_dataset",
    schedule=[DATASET_ASSET],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mlgit", "example"],
)
def mlgit_on_new_dataset() -> None:
    @task(inlets=[DATASET_ASSET])
    def pushed_version() -> dict[str, Any]:
        """The newest push of the dataset, from its Asset event."""
        return latest_version_extra(get_current_context()["inlet_events"], "datasets", DATASET)

    version = pushed_version()
    checkout = MLGitCheckoutOperator(
        task_id="checkout",
        entity_type="datasets",
        ref="{{ ti.xcom_pull(task_ids='pushed_version')['tag'] }}",
        force=True,
    )
    fsck = MLGitFsckOperator(task_id="fsck", entity_type="datasets")
    version >> checkout >> fsck


mlgit_on_new_dataset()
