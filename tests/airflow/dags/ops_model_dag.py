"""Operators with templated fields, a metrics CSV, a push through the AssetAlias, fsck, and the
three failures that must each fail their task with one clear message (and no retry)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import dag, task
from mlgit_airflow import (
    MLGitAddOperator,
    MLGitCheckoutOperator,
    MLGitCommitOperator,
    MLGitCreateOperator,
    MLGitFsckOperator,
    MLGitPushOperator,
)


@dag(
    dag_id="mlgit_ops_model",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"model": "ops-model", "note": "from the ops test"},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=0)},
)
def mlgit_ops_model() -> None:
    create = MLGitCreateOperator(
        task_id="create",
        entity_type="model",  # the singular is accepted too
        name="{{ params.model }}",
        categories="ops, tests",
        mutability="flexible",
    )

    @task
    def write(entity: dict[str, Any]) -> str:
        root = Path(entity["path"])
        (root / "weights.bin").write_bytes(bytes(range(256)) * 64)
        metrics = root.parent / f"{entity['name']}-metrics.csv"  # outside the entity: not versioned
        metrics.write_text("accuracy,f1\n0.91,0.875\n")
        return str(metrics)

    add = MLGitAddOperator(
        task_id="add",
        entity_type="models",
        name="{{ params.model }}",
        metrics_file="{{ ti.xcom_pull(task_ids='write') }}",
    )
    commit = MLGitCommitOperator(
        task_id="commit",
        entity_type="models",
        name="{{ params.model }}",
        message="{{ params.note }} ({{ dag_run.run_id }})",
    )
    push = MLGitPushOperator(task_id="push", entity_type="models", name="{{ params.model }}")
    fsck = MLGitFsckOperator(task_id="fsck", entity_type="models")
    write(create.output) >> add >> commit >> push >> fsck

    MLGitAddOperator(task_id="unknown_entity", entity_type="datasets", name="no-such-dataset")
    MLGitCheckoutOperator(task_id="bad_tag", entity_type="datasets", ref="ops__no-such-dataset__7")
    MLGitFsckOperator(task_id="missing_connection", entity_type="datasets", mlgit_conn_id="mlgit_missing")
    MLGitCheckoutOperator(task_id="bad_entity_type", entity_type="images", ref="x")


mlgit_ops_model()
