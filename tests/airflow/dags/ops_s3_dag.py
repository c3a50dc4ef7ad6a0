"""A dataset on an S3 bucket whose keys come only from the connection (login / password):
versioned on worker A, checked out on worker B."""

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


@dag(dag_id="mlgit_ops_s3", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def mlgit_ops_s3() -> None:
    create = MLGitCreateOperator(task_id="create", entity_type="datasets", name="on-s3", categories="ops")

    @task
    def write(entity: dict[str, Any]) -> None:
        (Path(entity["path"]) / "blob.bin").write_bytes(bytes(range(256)) * 2048)  # two chunks
        (Path(entity["path"]) / "small.txt").write_text("small\n")

    add = MLGitAddOperator(task_id="add", entity_type="datasets", name="on-s3")
    commit = MLGitCommitOperator(task_id="commit", entity_type="datasets", name="on-s3")
    push = MLGitPushOperator(task_id="push", entity_type="datasets", name="on-s3")
    checkout = MLGitCheckoutOperator(
        task_id="checkout_on_b", entity_type="datasets", ref="on-s3", mlgit_conn_id="mlgit_worker_b"
    )
    write(create.output) >> add >> commit >> push >> checkout


mlgit_ops_s3()
