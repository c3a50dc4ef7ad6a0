"""The smallest DAG: proves the harness (migrated DB, bundle, dag.test(), XCom) works."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False)
def mlgit_harness() -> None:
    @task
    def produce() -> dict[str, int]:
        return {"answer": 42}

    @task
    def consume(value: dict[str, int]) -> int:
        return value["answer"] + 1

    consume(produce())


mlgit_harness()
