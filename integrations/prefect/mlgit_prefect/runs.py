"""What a task learns from the flow run around it: run ids, and the versions checked out earlier.

``mlgit_checkout`` leaves a one-row table artifact on its flow run; ``mlgit_commit`` reads those back
through the Prefect API to link the dataset/labels a model (or labels) came from. The API, not process
memory, is the record: it survives task retries, flow retries and tasks that ran in other processes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from prefect import runtime
from prefect.artifacts import create_table_artifact

from mlgit import InvalidName
from mlgit.names import link_type

CHECKOUT_DESCRIPTION = (
    "mlgit checkout: the version this flow run took (read back by mlgit_commit for lineage)"
)
CHECKOUT_FIELDS = ("entity_type", "name", "version", "tag", "sha")


def run_ids() -> tuple[str | None, str | None]:
    """(flow run id, task run id) of the running task, None outside a run."""
    flow_run_id = runtime.flow_run.id
    task_run_id = runtime.task_run.id
    return (str(flow_run_id) if flow_run_id else None, str(task_run_id) if task_run_id else None)


def commit_message(message: str | None, entity_type: str, name: str) -> str:
    """The user's message (or a default) with the run ids as git trailers, so a version leads back to its run."""
    flow_run_id, task_run_id = run_ids()
    text = message or f"{entity_type} {name}"
    trailers = [
        f"Prefect-Flow-Run: {flow_run_id}" if flow_run_id else "",
        f"Prefect-Task-Run: {task_run_id}" if task_run_id else "",
    ]
    trailers = [t for t in trailers if t]
    return text + ("\n\n" + "\n".join(trailers) if trailers else "")


def record_checkout(result: Mapping[str, Any]) -> None:
    """Leave the checked-out version on the flow run (a small table artifact, visible in the UI too)."""
    if runtime.flow_run.id is None:
        return
    from .artifacts import artifact_key

    create_table_artifact(
        [{k: result[k] for k in CHECKOUT_FIELDS}],
        description=CHECKOUT_DESCRIPTION,
        key=artifact_key("mlgit-checkout", str(result["entity_type"]), str(result["name"])),
    )


def checkouts_in_this_flow_run() -> list[dict[str, Any]]:
    """Every version ``mlgit_checkout`` recorded in the current flow run, oldest first."""
    flow_run_id = runtime.flow_run.id
    if flow_run_id is None:
        return []
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(str(flow_run_id))]),
                type=ArtifactFilterType(any_=["table"]),
            ),
            sort=ArtifactSort.CREATED_DESC,
        )
    rows: list[dict[str, Any]] = []
    for artifact in reversed(artifacts):
        if artifact.description != CHECKOUT_DESCRIPTION:
            continue
        data: Any = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        rows.extend(r for r in data or [] if isinstance(r, dict))
    return rows


def link_from_checkouts(kind: str, checkouts: list[dict[str, Any]]) -> dict[str, str] | None:
    """The ``{tag, sha}`` of the one ``kind`` entity checked out; None if none; an error if ambiguous."""
    entity_type = link_type(kind)
    latest: dict[str, dict[str, Any]] = {}
    for row in checkouts:
        if row.get("entity_type") == entity_type:
            latest[str(row["name"])] = row  # a later checkout of the same entity wins
    if not latest:
        return None
    if len(latest) > 1:
        raise InvalidName(
            f"mlgit_commit: expected one {entity_type} checked out in this flow run to link as {kind}, "
            f"found {len(latest)} ({', '.join(sorted(latest))}); pass {kind}=NAME (or a checkout result) to choose"
        )
    row = next(iter(latest.values()))
    return {"tag": str(row["tag"]), "sha": str(row["sha"])}
