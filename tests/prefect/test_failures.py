"""Failures: one clear message for a wrong name, retries that never duplicate a version."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mlgit_prefect import (
    MLGitRepository,
    mlgit_add,
    mlgit_checkout,
    mlgit_commit,
    mlgit_create,
    mlgit_push,
)
from mlgit_prefect.tasks import _transient
from prefect import flow, task
from prefect_reads import task_runs

from mlgit import EntityNotFound, MetadataError, TagNotFound


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        pytest.param(
            lambda b: mlgit_checkout(b, "datasets", "no-such-dataset"),
            TagNotFound,
            "datasets: no version matches 'no-such-dataset'",
            id="checkout",
        ),
        pytest.param(
            lambda b: mlgit_add(b, "datasets", "no-such-dataset"),
            EntityNotFound,
            "datasets entity 'no-such-dataset': expected datasets/.../no-such-dataset/no-such-dataset.spec",
            id="add",
        ),
    ],
)
def test_an_unknown_entity_fails_once_with_one_clear_message(
    local_block: str, call: Callable[[str], Any], error: type[Exception], message: str
) -> None:
    @flow
    def wrong_name() -> Any:
        return call(local_block)

    state = wrong_name(return_state=True)
    assert state.is_failed()
    with pytest.raises(error) as info:
        state.result()
    assert message in str(info.value)
    [failed] = [t for t in task_runs(state.state_details.flow_run_id) if t.state and t.state.is_failed()]
    assert failed.run_count == 1  # a wrong name is not retried


def test_a_push_retried_after_the_remote_failed_finishes_without_a_duplicate(
    local_block: str, sample: Path, remotes: dict[str, str]
) -> None:
    remote = Path(remotes["datasets"])
    away = remote.with_name("datasets-away.git")
    decisions: list[bool] = []

    def restore_then_decide(task: Any, task_run: Any, state: Any) -> bool:
        """Called between the attempts: the remote comes back, then our own retry policy decides."""
        assert isinstance(state.data, MetadataError)
        os.replace(away, remote)
        decisions.append(_transient(task, task_run, state))
        return decisions[-1]

    @flow
    def version_then_lose_the_remote() -> dict[str, Any]:
        created = mlgit_create(local_block, "datasets", "flaky", categories="tests")
        Path(created["path"], "points.csv").write_bytes((sample / "data" / "points.csv").read_bytes())
        mlgit_add(local_block, "datasets", "flaky")
        mlgit_commit(local_block, "datasets", "flaky")
        os.replace(remote, away)  # the git server goes away just before the push
        return mlgit_push.with_options(retry_condition_fn=restore_then_decide, retry_delay_seconds=0)(
            local_block, "datasets", "flaky"
        )

    state = version_then_lose_the_remote(return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert decisions == [True]
    [push] = [t for t in task_runs(state.state_details.flow_run_id) if t.name.startswith("mlgit_push")]
    assert push.run_count == 2
    assert result["tag"] == "tests__flaky__1" and result["created"] is True
    assert result["uploaded"] + result["skipped"] >= 2
    repo = MLGitRepository.load(local_block).get_repository()
    assert repo.tags("datasets", "flaky") == ["tests__flaky__1"]


def test_a_flow_retried_after_a_late_failure_versions_nothing_twice(
    examples: Callable[[str], ModuleType], local_block: str, sample: Path, tmp_path: Path
) -> None:
    dataset_flow = examples("dataset_flow").dataset_flow
    labels_flow = examples("labels_flow").labels_flow
    marker = tmp_path / "first-attempt-done"

    @task
    def crash_once() -> None:
        if not marker.exists():
            marker.touch()
            raise RuntimeError("the worker died after pushing")

    @flow(retries=1, retry_delay_seconds=0)
    def pipeline() -> dict[str, Any]:
        dataset_flow(source=str(sample / "data"), repository=local_block)
        (sample / "data" / "more.csv").write_text("id,x,y\n99,1.0,1.0\n")
        dataset_flow(source=str(sample / "data"), repository=local_block)  # version 2
        labels = labels_flow(source=str(sample / "annotations"), dataset="imagenet8", repository=local_block)
        crash_once()
        return labels

    state = pipeline(return_state=True)
    assert state.is_completed(), state.message
    labels = state.result()
    assert marker.exists() and labels["created"] is False  # the retry found the version already there
    repo = MLGitRepository.load(local_block).get_repository()
    assert repo.tags("datasets", "imagenet8") == [
        "computer-vision__images__imagenet8__1",
        "computer-vision__images__imagenet8__2",
    ]
    assert repo.tags("labels", "mscoco-captions") == ["computer-vision__captions__mscoco-captions__1"]
    assert labels["dataset"]["tag"] == "computer-vision__images__imagenet8__2"
