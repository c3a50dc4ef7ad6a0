"""Test helpers: running the how-to flows, and reading what a run left behind back through the Prefect API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.states import State

SECRET = "mlgit-s3cr3t-" + uuid.uuid4().hex  # must never show up in a log, a result or an artifact
ACCESS_KEY = "AKIAMLGITPREFECTTEST"


def flow_run_artifacts(flow_run_id: Any) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def flow_run_logs(flow_run_id: Any) -> list[str]:
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200
        )
    return [log.message for log in logs]


def task_runs(flow_run_id: Any) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


def asset_events(key: str, flow_run_id: Any, wanted: int = 1, timeout: float = 30.0) -> list[Any]:
    """Materialization events of asset ``key`` emitted by one flow run (events arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    found: list[Any] = []
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            page = client.read_events(
                EventFilter(
                    event=EventNameFilter(prefix=["prefect.asset.materialization."]),
                    resource=EventResourceFilter(id=[key]),
                ),
                limit=50,
            )
        found = [e for e in page.events if any(r.id == f"prefect.flow-run.{flow_run_id}" for r in e.related)]
        if len(found) >= wanted:
            return found
        time.sleep(0.5)
    return found


def as_text(value: Any) -> str:
    return json.dumps(value, default=str)


# -- running the how-to flows ---------------------------------------------------------------------
DATASET, LABELS, MODEL = "imagenet8", "mscoco-captions", "imagenet-model"
DS_TAG = f"computer-vision__images__{DATASET}__1"
LB_TAG = f"computer-vision__captions__{LABELS}__1"
MD_TAG = f"computer-vision__images__{MODEL}__1"


def run(flow_fn: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    state: State = flow_fn(**kwargs, return_state=True)
    assert state.is_completed(), state.message
    return state.result(), state.state_details.flow_run_id


def howto(
    examples: Callable[[str], ModuleType], sample: Path, block: str
) -> dict[str, tuple[dict[str, Any], Any]]:
    """Sections 2, 4 and 5: a dataset, labels linked to it, a model trained on both."""
    return {
        "dataset": run(examples("dataset_flow").dataset_flow, source=str(sample / "data"), repository=block),
        "labels": run(
            examples("labels_flow").labels_flow,
            source=str(sample / "annotations"),
            dataset=DATASET,
            repository=block,
        ),
        "model": run(
            examples("training_flow").training_flow, dataset=DATASET, labels=LABELS, repository=block
        ),
    }


@dataclass(frozen=True)
class HowtoWorld:
    """The how-to run once (dataset, labels, model flows) for the tests that only read what it left."""

    block: str
    remotes: dict[str, str]
    sample: Path
    runs: dict[str, tuple[dict[str, Any], Any]]
