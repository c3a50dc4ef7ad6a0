"""Airflow as deployed on several machines (see airflow_cluster.py)."""

from __future__ import annotations

from typing import Any


def test_smoke(airflow_cluster: Any) -> None:
    c = airflow_cluster
    c.wait_for_dags(["mlgit_howto_dataset"])
    run = c.trigger("mlgit_howto_dataset", "seed")
    print(c.wait_runs([("mlgit_howto_dataset", run)], 600))
    print(c.xcom("mlgit_howto_dataset", run, "push"))
