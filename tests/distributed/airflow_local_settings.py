"""Cluster policy of the distributed tests (copied to ``$AIRFLOW_HOME/config``).

The one-operator-per-step example DAGs pass files from task to task through the workspace, so all
tasks of one run must run on one host: they go to that host's Celery queue. The same line in a
DAG's ``default_args={"queue": "host_a"}`` does it for one DAG. Single-task DAGs go anywhere, except
a run whose id ends in ``-on-HOST``: its tasks go to that host's queue (``task_instance_mutation_hook``,
per run), so that a test can give each host runs of its own whichever worker polls first.
"""

from __future__ import annotations

import os
import socket
from typing import Any

STEPS_QUEUE = "host_a"
HOST_QUEUES = ("host_a", "host_b")
ONE_HOST_DAGS = {"mlgit_howto_dataset", "mlgit_howto_labels", "mlgit_train_model", "mlgit_on_new_dataset"}


def task_policy(task: Any) -> None:
    if task.dag_id in ONE_HOST_DAGS:
        task.queue = STEPS_QUEUE


def task_instance_mutation_hook(task_instance: Any, dag_run: Any = None) -> None:
    run_id = str(getattr(dag_run, "run_id", None) or getattr(task_instance, "run_id", "") or "")
    for host in HOST_QUEUES:
        if run_id.endswith(f"-on-{host}"):
            task_instance.queue = host


def host_name() -> str:
    """``[core] hostname_callable``: the name of the "host" this process plays (several share one
    machine in the tests), so the task instances say which worker ran them."""
    return os.environ.get("MLGIT_TEST_HOST") or socket.getfqdn()
