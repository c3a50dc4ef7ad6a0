"""The DAG run a task belongs to: its run folder under the connection's per-host workspace root.

Every task of one DAG run (dag_id + run_id) works in ``<workspace>/runs/<key>/``; runs never see each
other's files, and share the host's cache, objects and metadata mirror (``mlgit.runs``). Outside a
running task (a script, the triggerer) there is no run: the workspace root is used as one workspace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mlgit import runs

log = logging.getLogger(__name__)

#: Airflow DAG run states as the retention sweep needs them.
_STATES = {"success": "success", "failed": "failed", "running": "running", "queued": "running"}


def current_run() -> dict[str, str] | None:
    """``{dag_id, run_id}`` of the task running in this process, None outside a task."""
    try:
        from airflow.sdk import get_current_context

        context = get_current_context()
    except Exception:  # no task is running here (a script, a test, the triggerer)
        return None
    ti = context.get("ti")
    dag_id, run_id = getattr(ti, "dag_id", None), getattr(ti, "run_id", None)
    if not dag_id or not run_id:
        return None
    return {"dag_id": str(dag_id), "run_id": str(run_id)}


def key_of(run: Mapping[str, str]) -> str:
    return runs.run_key(run["dag_id"], run["run_id"])


def dag_run_state(info: Mapping[str, Any]) -> str | None:
    """The state of a DAG run a run folder belongs to, through the Task SDK; None when unknown."""
    if not info.get("dag_id") or not info.get("run_id"):
        return None
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    try:
        state = RuntimeTaskInstance.get_dagrun_state(str(info["dag_id"]), str(info["run_id"]))
    except Exception as exc:  # a deleted run, or an API server that does not answer
        log.debug("state of %s/%s unknown: %s", info["dag_id"], info["run_id"], exc)
        return None
    return _STATES.get(str(state).lower().rsplit(".", 1)[-1])
