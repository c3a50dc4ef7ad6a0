"""Run folders: one workspace per pipeline run under a per-host root; cache, objects and the git
object database shared; what a run made recorded beyond its folder; finished runs swept."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import Project, write

from mlgit import Repository, runs


def _publish(project: Project, files: int = 3) -> str:
    path = project.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    for i in range(files):
        write(path / f"f{i}.bin", f"file {i}".encode() * 100)
    project.repo.add("datasets", "ds")
    project.repo.commit("datasets", "ds")
    return str(project.repo.push("datasets", "ds").tag)


def _open(host: Path, key: str, project: Project) -> Repository:
    run = runs.prepare(host, key, {"datasets": project.remotes["datasets"]}, {"flow_run_id": key})
    repo = Repository(run.path)
    repo.storage_add("bucket", "local", path=str(project.bucket))
    return repo


def test_runs_share_the_cache_and_objects_not_their_files(project: Project, tmp_path: Path) -> None:
    tag = _publish(project)
    host = tmp_path / "host"
    a, b = _open(host, "a", project), _open(host, "b", project)
    assert a.root != b.root and a.root.parent == host / "runs"
    first = a.checkout("datasets", "ds", fetch=True)
    assert first.tag == tag and first.downloaded > 0
    second = b.checkout("datasets", "ds", fetch=True)
    assert second.downloaded == 0  # the host's cache served it
    fa, fb = Path(first.path) / "f0.bin", Path(second.path) / "f0.bin"
    assert fa != fb and fa.read_bytes() == fb.read_bytes()
    if os.geteuid() != 0:  # a read-only cache file is hardlinked; root could write it, so root gets a copy
        assert os.stat(fa).st_ino == os.stat(fb).st_ino
    write(Path(first.path) / "only-in-a.bin", b"a")
    assert not (Path(second.path) / "only-in-a.bin").exists()
    alternates = b.root / ".ml-git/datasets/metadata/.git/objects/info/alternates"
    assert str(host / "mirror" / "datasets.git") in alternates.read_text()  # no second copy of git objects


def test_a_run_sees_the_remote_as_it_was_when_it_started(project: Project, tmp_path: Path) -> None:
    _publish(project)
    host = tmp_path / "host"
    run = _open(host, "r1", project)
    path = project.repo.entity_path("datasets", "ds")
    write(path / "new.bin", b"new")
    project.repo.add("datasets", "ds", bumpversion=True)
    project.repo.commit("datasets", "ds")
    project.repo.push("datasets", "ds")
    assert run.checkout("datasets", "ds").tag == "cv__ds__1"  # the run's own view
    assert _open(host, "r2", project).checkout("datasets", "ds").tag == "cv__ds__2"  # a new run: the latest


def test_records_outlive_the_folder_and_the_sweep_keeps_failed_runs(project: Project, tmp_path: Path) -> None:
    tag = _publish(project)
    host = tmp_path / "host"
    states = {"ok": "success", "bad": "failed", "live": "running"}
    for key in states:
        _open(host, key, project)
    ok = runs.RunFolder(host.resolve(), "ok", {})
    ok.remember("push", "datasets", "ds", tag=tag, sha="abc")
    removed = runs.sweep(host, lambda info: states.get(str(info.get("flow_run_id"))), keep_failed=3600)
    assert removed == ["ok"] and sorted(p.name for p in (host / "runs").iterdir() if p.name[0] != ".") == [
        "bad",
        "live",
    ]
    assert ok.recorded("push", "datasets", "ds")["tag"] == tag  # type: ignore[index]
    assert ok.recorded("push", "datasets", "ds", "other-task") is None
    assert runs.sweep(host, lambda info: "failed", keep_failed=0) == []  # at most every few minutes
    assert sorted(runs.sweep(host, lambda info: "failed", keep_failed=0, force=True)) == ["bad", "live"]


def test_a_run_folder_in_use_is_not_swept(project: Project, tmp_path: Path) -> None:
    _publish(project)
    host = tmp_path / "host"
    repo = _open(host, "busy", project)
    with repo.workspace_lock.hold("checkout"):
        assert runs.sweep(host, lambda info: "success", force=True) == []
    assert runs.sweep(host, lambda info: "success", force=True) == ["busy"]


def test_run_keys_are_safe_and_distinct() -> None:
    a, b = (
        runs.run_key("dag", "manual__2026-01-01T00:00:00+00:00"),
        runs.run_key("dag", "manual__2026-01-01T00:00:00 00:00"),
    )
    assert a != b and "/" not in a and ":" not in a and ".." not in runs.run_key("..", "..")


def test_another_host_finds_the_version_a_run_made_by_its_trailers(project: Project, tmp_path: Path) -> None:
    """Run records are per host; a rerun on another host finds the run's version through the metadata."""
    path = project.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    write(path / "a.bin", b"a" * 100)
    project.repo.add("datasets", "ds")
    mine = project.repo.commit(
        "datasets", "ds", message="v1\n\nPrefect-Flow-Run: run-1\nPrefect-Task-Run: t-1"
    )
    project.repo.push("datasets", "ds")
    write(path / "b.bin", b"b" * 100)
    project.repo.add("datasets", "ds", bumpversion=True)
    project.repo.commit("datasets", "ds", message="v2\n\nPrefect-Flow-Run: run-2")
    project.repo.push("datasets", "ds")

    host_b = tmp_path / "host-b"
    repo = _open(host_b, "run-1", project)
    repo.checkout("datasets", "ds", fetch=True)
    run = runs.RunFolder(host_b, "run-1", {"flow_run_id": "run-1"})
    assert runs.version_made_by(repo, "datasets", "ds", {"Prefect-Flow-Run": "run-1"}) == mine.tag
    assert runs.version_made_by(repo, "datasets", "ds", {"Prefect-Flow-Run": "run-3"}) is None
    assert run.push_made("datasets", "ds") is None
    made = run.commit_made(repo, "datasets", "ds", {"Prefect-Flow-Run": "run-1"})
    assert made is not None and (made["tag"], made["sha"], made["created"]) == (mine.tag, mine.sha, False)
    pushed = run.push_made("datasets", "ds")  # pushed already, by the first host: nothing left to push
    assert pushed is not None and pushed["tag"] == mine.tag
    assert (
        run.commit_made(repo, "datasets", "ds", {"Prefect-Flow-Run": "run-3"})["tag"] == mine.tag
    )  # recorded
