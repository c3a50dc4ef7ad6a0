"""Commit and push tasks that crash right after their verb on the first try: the retry must
finish without a duplicate version and without losing data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import dag, task
from mlgit_airflow import MLGitAddOperator, MLGitCommitOperator, MLGitCreateOperator, MLGitPushOperator


class CrashOnFirstTry:
    """Mixin: the verb runs, then the worker "dies" before Airflow records the success."""

    def execute(self, context: Any) -> Any:
        result = super().execute(context)  # type: ignore[misc]
        if context["ti"].try_number == 1:
            raise RuntimeError(f"simulated worker crash after {context['ti'].task_id} (try 1)")
        return result


class CrashingCommit(CrashOnFirstTry, MLGitCommitOperator):
    pass


class CrashingPush(CrashOnFirstTry, MLGitPushOperator):
    pass


@dag(
    dag_id="mlgit_ops_retry",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
)
def mlgit_ops_retry() -> None:
    create = MLGitCreateOperator(task_id="create", entity_type="datasets", name="retried", categories="ops")

    @task
    def write(entity: dict[str, Any]) -> None:
        for i in range(3):  # the parts the entity lacks (a rerun starts from the latest version: none)
            part = Path(entity["path"]) / f"part-{i}.txt"
            if not part.exists():
                part.write_text(f"part {i}\n" * 1000)

    add = MLGitAddOperator(task_id="add", entity_type="datasets", name="retried")
    commit = CrashingCommit(task_id="commit", entity_type="datasets", name="retried")
    push = CrashingPush(task_id="push", entity_type="datasets", name="retried")
    write(create.output) >> add >> commit >> push


mlgit_ops_retry()
