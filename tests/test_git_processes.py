"""How many git processes a verb starts: each one is a fork+exec (tens of ms on a loaded worker).
It was 22 for a commit and 27 for a push of one version before the one git runner.

Counted for real, with a ``git`` on PATH that logs its arguments and runs the real git.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from helpers import Project, write

# a commit fetches first and lists the tags (2: fetch, for-each-ref), writes the commit (commit-tree: git's
# identity rules), moves the branch and creates the tag in one transaction (update-ref), refreshes the work
# tree (checkout); blobs, trees and the tag object are written in-process and checked there (issue 12)
COMMIT_MAX = 5
PUSH_MAX = 8


@pytest.fixture
def git_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    real = shutil.which("git")
    assert real is not None
    folder = tmp_path / "gitwrap"
    folder.mkdir()
    wrapper = folder / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "$MLGIT_GITLOG"\nexec {real} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "git.log"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MLGIT_GITLOG", str(log))
    return log


def _count(log: Path) -> list[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_commit_and_push_of_one_version_start_few_git_processes(project: Project, git_log: Path) -> None:
    repo = project.repo
    path = repo.create("datasets", "counted", "tests", storage_type="local", bucket="bucket")
    write(path / "data" / "a.csv", b"a,b\n1,2\n")
    repo.add("datasets", "counted")
    _count(git_log)

    result = repo.commit("datasets", "counted")
    commit = _count(git_log)
    assert result.tag == "tests__counted__1"
    assert len(commit) <= COMMIT_MAX, "\n".join(commit)

    pushed = repo.push("datasets", "counted")
    push = _count(git_log)
    assert pushed.created and pushed.tag == "tests__counted__1"
    assert len(push) <= PUSH_MAX, "\n".join(push)

    # the next version changes HEAD's tree and reads the last one's spec in this process
    write(path / "data" / "b.csv", b"c,d\n3,4\n")
    repo.add("datasets", "counted", bumpversion=True)
    _count(git_log)
    result = repo.commit("datasets", "counted")
    commit = _count(git_log)
    assert result.tag == "tests__counted__2"
    assert len(commit) <= COMMIT_MAX, "\n".join(commit)


def test_commit_of_a_later_version_in_a_process_of_its_own(project: Project, git_log: Path) -> None:
    """The CLI's case: ``ml-git datasets commit`` runs in a fresh process, with nothing read before it."""
    repo = project.repo
    path = repo.create("datasets", "fresh", "tests", storage_type="local", bucket="bucket")
    write(path / "data" / "a.csv", b"a,b\n1,2\n")
    repo.add("datasets", "fresh")
    repo.commit("datasets", "fresh")
    write(path / "data" / "b.csv", b"c,d\n3,4\n")
    repo.add("datasets", "fresh", bumpversion=True)
    _count(git_log)
    from mlgit import Repository

    result = Repository(repo.root).commit("datasets", "fresh")
    commit = _count(git_log)
    assert result.tag == "tests__fresh__2"
    assert len(commit) <= COMMIT_MAX, "\n".join(commit)
