"""Run folders through the Prefect tasks: a commit and a push repeated in one flow run after another
run pushed in between return this run's own version; no second artifact; create reuses the latest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgit_prefect import MLGitRepository, mlgit_add, mlgit_commit, mlgit_create, mlgit_push
from prefect import flow, task
from prefect_reads import flow_run_artifacts, run

from mlgit import Repository


def _other_worker(block: str, tmp_path: Path) -> Repository:
    repo = (
        MLGitRepository.load(block).model_copy(update={"workspace": str(tmp_path / "other")}).get_repository()
    )
    return repo


def test_a_repeated_commit_and_push_return_this_runs_version(local_block: str, tmp_path: Path) -> None:
    @task
    def write(entity: dict[str, Any], text: str) -> None:
        (Path(entity["path"]) / "data.txt").write_text(text)

    @task
    def another_run_pushes() -> str:
        other = _other_worker(local_block, tmp_path)
        path = other.checkout("datasets", "shared", fetch=True).path
        (Path(path) / "more.txt").write_text("theirs\n")
        other.add("datasets", "shared", bumpversion=True)
        other.commit("datasets", "shared")
        return str(other.push("datasets", "shared").tag)

    @flow
    def pipeline() -> dict[str, Any]:
        entity = mlgit_create(local_block, "datasets", "shared", categories="runs")
        write(entity, "ours\n")
        mlgit_add(local_block, "datasets", "shared")
        first = mlgit_commit(local_block, "datasets", "shared", auto_bump=True)
        pushed = mlgit_push(local_block, "datasets", "shared", auto_bump=True)
        theirs = another_run_pushes()
        again = mlgit_commit(local_block, "datasets", "shared", auto_bump=True)  # a retry / rerun
        repushed = mlgit_push(local_block, "datasets", "shared", auto_bump=True)
        return {
            "entity": entity,
            "first": first,
            "pushed": pushed,
            "theirs": theirs,
            "again": again,
            "repushed": repushed,
        }

    out, flow_run_id = run(pipeline)
    assert out["entity"]["created"] is True and out["entity"]["path"].startswith(
        str(tmp_path / "workspace" / "runs")
    )
    assert (
        out["first"]["tag"] == out["pushed"]["tag"] == "runs__shared__1"
        and out["theirs"] == "runs__shared__2"
    )
    assert (out["again"]["tag"], out["again"]["created"]) == ("runs__shared__1", False)
    assert (out["repushed"]["tag"], out["repushed"]["created"], out["repushed"]["news"]) == (
        "runs__shared__1",
        False,
        False,
    )
    pushes = [a for a in flow_run_artifacts(flow_run_id) if a.key == "mlgit-push-datasets-shared"]
    assert len(pushes) == 1  # one push artifact: the second push had no news

    @flow
    def extend() -> dict[str, Any]:
        return mlgit_create(local_block, "datasets", "shared", categories="runs")

    again, _ = run(extend)  # a new flow run: a new folder, the entity's latest version checked out
    assert again["checked_out"] == "runs__shared__2" and again["created"] is False
    assert sorted(p.name for p in Path(again["path"]).iterdir() if p.suffix == ".txt") == [
        "data.txt",
        "more.txt",
    ]
