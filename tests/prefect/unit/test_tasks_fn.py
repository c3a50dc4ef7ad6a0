"""The Prefect tasks' own code, called as ``task.fn`` on a real workspace: no Prefect API, no flow run.

Which failures Prefect retries is decided by each task's ``retry_condition_fn``, called by the task
engine with ``Failed(data=<the exception>)``; here it gets exactly that, with the exception the task
really raised (a missing entity, a remote that does not exist, a workspace another process holds).
The retries themselves, with a server, are in tests/prefect/test_failures.py.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from mlgit_prefect import MLGitRepository
from mlgit_prefect import tasks as t
from prefect.states import Failed

from mlgit import EntityNotFound, InvalidName, MetadataError, WorkspaceBusy
from mlgit.config import MLGIT_DIR
from mlgit.locking import LOCK_NAME, PathLock

TASKS = [
    t.mlgit_create,
    t.mlgit_checkout,
    t.mlgit_add,
    t.mlgit_commit,
    t.mlgit_push,
    t.mlgit_update,
    t.mlgit_remote_fsck,
    t.mlgit_fsck,
]


@pytest.fixture
def block(tmp_path: Path) -> MLGitRepository:
    remote = tmp_path / "datasets.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    return MLGitRepository(
        workspace=str(tmp_path / "ws"),
        datasets_remote=str(remote),
        storage_type="local",
        bucket="b",
        storage_path=str(tmp_path / "buckets"),
        run_folders=False,
    )


def prefect_retries(task: object, err: BaseException) -> bool:
    """What Prefect's task engine asks before a retry (``can_retry``: ``Failed(data=exc)``)."""
    return bool(task.retry_condition_fn(task, None, Failed(data=err)))  # type: ignore[attr-defined]


def test_every_task_retries_twice_on_what_the_core_calls_retryable() -> None:
    for task in TASKS:
        assert (task.retries, task.retry_condition_fn) == (2, t._transient), task.name


def test_a_missing_entity_fails_at_once(block: MLGitRepository) -> None:
    with pytest.raises(EntityNotFound) as raised:
        t.mlgit_add.fn(block, "dataset", "nope")
    assert prefect_retries(t.mlgit_add, raised.value) is False


def test_an_unknown_entity_type_fails_at_once(block: MLGitRepository) -> None:
    with pytest.raises(InvalidName, match="cats") as raised:
        t.mlgit_update.fn(block, "cats")
    assert prefect_retries(t.mlgit_update, raised.value) is False


def test_a_metadata_remote_that_does_not_answer_is_retried(block: MLGitRepository, tmp_path: Path) -> None:
    gone = block.model_copy(update={"datasets_remote": str(tmp_path / "not-there.git")})
    with pytest.raises(MetadataError, match="could not clone the datasets metadata remote") as raised:
        t.mlgit_update.fn(gone, "datasets")
    assert prefect_retries(t.mlgit_update, raised.value) is True


def test_a_workspace_held_by_another_process_is_retried(
    block: MLGitRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    t.mlgit_create.fn(block, "datasets", "imagenet8", categories="vision")
    monkeypatch.setenv("MLGIT_LOCK_TIMEOUT", "0.2")
    # another open file description of the lock file: flock conflicts as with another process
    other = PathLock(Path(block.workspace) / MLGIT_DIR / LOCK_NAME, "the other process", timeout=1)
    with other.hold("push"), pytest.raises(WorkspaceBusy, match="waited 0.2s for add") as raised:
        t.mlgit_add.fn(block, "datasets", "imagenet8")
    assert prefect_retries(t.mlgit_add, raised.value) is True


def test_each_task_logs_its_outcome_even_outside_a_run(
    block: MLGitRepository, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mlgit_prefect")
    created = t.mlgit_create.fn(block, "datasets", "imagenet8", categories="vision")
    (Path(created["path"]) / "a.txt").write_text("a")
    t.mlgit_add.fn(block, "datasets", "imagenet8")
    committed = t.mlgit_commit.fn(block, "datasets", "imagenet8", message="first")
    t.mlgit_fsck.fn(block, "datasets")
    t.mlgit_update.fn(block, "datasets")
    lines = [r.getMessage() for r in caplog.records if r.name == "mlgit_prefect"]
    assert lines == [
        f"mlgit create datasets/imagenet8: created at {created['path']}",
        "mlgit add datasets/imagenet8: staged version 1 (1 files)",
        f"mlgit commit {committed['tag']}: committed (sha {committed['sha']})",
        "mlgit fsck datasets: 2 objects checked, 0 corrupted, 0 fixed, 0 unfixable",
        "mlgit update datasets: metadata updated (1 version tags)",
    ]
