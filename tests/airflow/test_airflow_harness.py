from __future__ import annotations

import time

from airflow.sdk import DagRunState
from airflow_dagrun import load_dag, run_dag


def test_dag_test_runs_a_dag_and_keeps_its_xcoms(airflow_db: object) -> None:
    start = time.monotonic()
    run = run_dag(load_dag("mlgit_harness"))
    assert run.state == DagRunState.SUCCESS
    assert run.xcom("produce") == {"answer": 42}
    assert run.xcom("consume") == 43
    assert time.monotonic() - start < 60
