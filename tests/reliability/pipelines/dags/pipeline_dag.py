"""checkout the latest dataset -> create or reuse the model -> train -> add -> commit -> push."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task
from mlgit_airflow import (
    MLGitAddOperator,
    MLGitCheckoutOperator,
    MLGitCommitOperator,
    MLGitCreateOperator,
    MLGitPushOperator,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline_common import DATASET, MODEL, train  # noqa: E402


@dag(
    dag_id="mlgit_many_runs",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
)
def mlgit_many_runs() -> None:
    data = MLGitCheckoutOperator(task_id="checkout", entity_type="datasets", ref=DATASET)
    model = MLGitCreateOperator(
        task_id="create", entity_type="models", name=MODEL, categories="runs", mutability="mutable"
    )

    @task
    def fit(dataset: dict[str, Any], entity: dict[str, Any]) -> dict[str, str]:
        run_id = str(get_current_context()["ti"].run_id)
        return train(dataset["path"], dataset["tag"], entity["path"], run_id)

    add = MLGitAddOperator(task_id="add", entity_type="models", name=MODEL)
    commit = MLGitCommitOperator(task_id="commit", entity_type="models", name=MODEL, auto_bump=True)
    push = MLGitPushOperator(task_id="push", entity_type="models", name=MODEL, auto_bump=True)
    data >> model
    fit(data.output, model.output) >> add >> commit >> push


mlgit_many_runs()
