"""Two processes on ONE workspace: one versions an entity (add, commit, push) while the other runs
``update`` over and over (what a replayed push does), and a third workspace keeps pushing, so the
updates have something to replay onto. The workspace lock keeps them apart: every version the
committer reports exists on the remote under its own sha, its spec says its own version, and it
checks out byte for byte as reported. Before the lock, tags were published holding another
version's spec and fewer files than reported, with no error."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import make_project
from reliability_helpers import WORKER, check_nothing_lost, git, remote_tags

from mlgit import MetadataError, Repository, WorkspaceBusy
from mlgit.locking import PathLock
from mlgit.manifest import parse as parse_manifest


def _start(job: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _report(proc: subprocess.Popen[str], timeout: float = 600) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-4000:]
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_commit_and_update_on_one_workspace(tmp_path: Path, remotes: dict[str, str]) -> None:
    (tmp_path / "bucket").mkdir()
    storage = {"type": "local", "path": str(tmp_path / "bucket")}
    shared = str(tmp_path / "shared-ws")
    stop = tmp_path / "stop"
    base = dict(remotes=remotes, storage=storage, auto_bump=True, keep_going=True, size=2000)
    Repository.init(shared)  # both processes set it up at once from here on
    ready = tmp_path / "updating"
    updater = _start(
        {
            **base,
            "root": shared,
            "worker": 2,
            "mode": "update",
            "stop_file": str(stop),
            "ready_file": str(ready),
        }
    )
    deadline = time.monotonic() + 120
    while not ready.exists() and time.monotonic() < deadline and updater.poll() is None:
        time.sleep(0.05)
    committer = _start({**base, "root": shared, "worker": 1, "name": "mine", "versions": 6})
    other = _start({**base, "root": str(tmp_path / "other"), "worker": 3, "name": "theirs", "versions": 6})
    try:
        mine = _report(committer)
        theirs = _report(other)
    finally:
        stop.touch()
    updates = _report(updater)
    assert updates["updates"] > 0 and not updates["errors"], updates["errors"][:3]
    assert not mine["errors"], mine["errors"][:3]
    assert len(mine["pushed"]) == 6 and len(theirs["pushed"]) == 6
    tags = remote_tags(remotes["datasets"])
    for v in mine["pushed"]:
        spec = git("-C", remotes["datasets"], "show", f"{v['tag']}:mine/mine.spec")
        assert f"version: {v['version']}\n" in spec, f"{v['tag']} holds another version's spec:\n{spec}"
        manifest = git("-C", remotes["datasets"], "show", f"{v['tag']}:mine/MANIFEST.yaml")
        assert sorted(parse_manifest(manifest, v["tag"])) == sorted(v["files"]), v["tag"]
    verifier = make_project(tmp_path / "verifier", remotes, tmp_path / "unused").repo
    verifier.storage_add("bucket", "local", path=storage["path"])
    assert check_nothing_lost(verifier, remotes["datasets"], [mine, theirs]) == 12
    assert len([t for t in tags if "__mine__" in t]) == 6


def test_a_busy_workspace_names_its_holder(tmp_path: Path) -> None:
    repo = Repository(Repository.init(tmp_path / "ws").root, lock_timeout=0.3)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from mlgit import Repository; r = Repository(sys.argv[1]);\n"
            "with r.workspace_lock.hold('push'):\n    print('held', flush=True); time.sleep(30)",
            str(repo.root),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(WorkspaceBusy, match=rf"locked by pid {holder.pid} .*\(push since"):
            repo.set_config("batch_size", 10)
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    repo.set_config("batch_size", 10)  # the dead holder's lock went with its process
    assert repo.config["batch_size"] == 10
    assert PathLock(repo.root / ".ml-git" / "lock", "x").holder()["verb"] == "set_config"


def test_a_commit_that_changes_nothing_is_not_tagged(tmp_path: Path, remotes: dict[str, str]) -> None:
    """What another process's reset left behind: files equal to the last commit's. No empty commit, no tag."""
    p = make_project(tmp_path / "ws", remotes, tmp_path / "bucket")
    md = p.repo.metadata("datasets")
    files = {"ds.spec": b"dataset: {name: ds, version: 1}\n", "MANIFEST.yaml": b"{}\n"}
    md.commit_entity("ds", files, "one", "cv__ds__1")
    head = md.git("rev-parse", "HEAD")
    with pytest.raises(MetadataError, match="would not change the tree"):
        md.commit_entity("ds", files, "two", "cv__ds__2")
    assert md.tags() == ["cv__ds__1"] and md.git("rev-parse", "HEAD") == head
