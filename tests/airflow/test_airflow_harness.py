from __future__ import annotations

import pytest
from airflow.sdk import DagRunState
from airflow_dagrun import load_dag, run_dag


@pytest.mark.timeout(300)  # a hang fails; how long a run takes on a loaded machine is not a property
def test_dag_test_runs_a_dag_and_keeps_its_xcoms(airflow_db: object) -> None:
    run = run_dag(load_dag("mlgit_harness"))
    assert run.state == DagRunState.SUCCESS
    assert run.xcom("produce") == {"answer": 42}
    assert run.xcom("consume") == 43
