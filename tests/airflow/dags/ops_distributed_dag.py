"""Producer and consumer on two workers with separate disks: the checkout runs on worker A, the
labels are made and committed on worker B, whose workspace never saw the dataset. The lineage
link travels through XCom (tag + sha) only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import dag, task
from mlgit_airflow import (
    MLGitAddOperator,
    MLGitCheckoutOperator,
    MLGitCommitOperator,
    MLGitCreateOperator,
    MLGitPushOperator,
)

WORKER_B = {"mlgit_conn_id": "mlgit_worker_b"}


@dag(
    dag_id="mlgit_ops_distributed",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
)
def mlgit_ops_distributed() -> None:
    checkout = MLGitCheckoutOperator(
        task_id="checkout_on_a", entity_type="datasets", ref="shared-data", mlgit_conn_id="mlgit_worker_a"
    )

    @task
    def count_on_a(dataset: dict[str, Any]) -> int:
        return sum(1 for p in Path(dataset["path"]).rglob("*.txt"))

    create = MLGitCreateOperator(
        task_id="create_on_b", entity_type="labels", name="shared-labels", categories="ops", **WORKER_B
    )

    @task
    def annotate_on_b(labels: dict[str, Any], files: int) -> None:
        (Path(labels["path"]) / "labels.txt").write_text(f"{files} files, all good\n")

    add = MLGitAddOperator(task_id="add_on_b", entity_type="labels", name="shared-labels", **WORKER_B)
    commit = MLGitCommitOperator(
        task_id="commit_on_b", entity_type="labels", name="shared-labels", **WORKER_B
    )
    push = MLGitPushOperator(task_id="push_on_b", entity_type="labels", name="shared-labels", **WORKER_B)
    annotate_on_b(create.output, count_on_a(checkout.output)) >> add >> commit >> push


mlgit_ops_distributed()
