"""A checkout that stops while it changes the workspace (killed, or a rename failing): until it is
finished, add, commit and status refuse with one line naming the version, so no version is ever made of
two versions' files; the same checkout run again finishes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import Cli, Project, write

from mlgit import UnfinishedCheckout

FILES = 6
TAG1, TAG2 = "cv__img__ds__1", "cv__img__ds__2"


def _two_versions(p: Project) -> Path:
    path = p.repo.create("datasets", "ds", "cv, img", "strict", "local", "bucket")
    for version in (1, 2):
        for i in range(FILES):
            (path / "data" / f"{i}.bin").unlink(missing_ok=True)  # strict: a new file, not an edit in place
            write(path / "data" / f"{i}.bin", bytes([i + 10 * version]) * (1000 + version))
        p.repo.add("datasets", "ds", bumpversion=version > 1)
        p.repo.commit("datasets", "ds")
        p.repo.push("datasets", "ds")
    return path


def _failing_rename(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    """``os.replace`` fails (EIO) for the one rename that puts ``target`` in place. A mock: a rename that
    fails halfway through a checkout (a disk error, a full directory) cannot be caused for real here."""
    real = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if str(dst).endswith(target):
            raise OSError(5, "Input/output error", str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def _stopped_at(p: Project, monkeypatch: pytest.MonkeyPatch, target: str) -> Path:
    """Two versions, the workspace at the second; a checkout of the first whose rename of ``target`` fails."""
    path = _two_versions(p)
    with monkeypatch.context() as m:
        _failing_rename(m, target)
        with pytest.raises(OSError, match="Input/output error"):
            p.repo.checkout("datasets", "ds", version=1)
    return path


def test_a_checkout_stopped_halfway_is_named_until_it_is_finished(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _stopped_at(project, monkeypatch, "data/3.bin")
    v1 = {i: bytes([i + 10]) * 1001 for i in range(FILES)}
    v2 = {i: bytes([i + 20]) * 1002 for i in range(FILES)}
    now = {i: (path / "data" / f"{i}.bin").read_bytes() for i in range(FILES)}
    assert now[0] == v1[0] and now[3] == v2[3] and now[5] == v2[5]  # two versions' files, nothing lost
    for verb in ("status", "add", "commit"):
        with pytest.raises(
            UnfinishedCheckout, match=rf"checkout of {TAG1} stopped .*ml-git datasets checkout {TAG1}"
        ):
            getattr(project.repo, verb)("datasets", "ds")
    assert sorted(project.repo.metadata("datasets").tags("ds")) == [TAG1, TAG2]  # no version was made

    with pytest.raises(UnfinishedCheckout, match=rf"checkout of {TAG2} \(without --force\) refused"):
        project.repo.checkout("datasets", "ds", version=2)  # another version: only with --force
    project.repo.checkout("datasets", "ds", version=1)  # the same checkout again: finished
    assert {i: (path / "data" / f"{i}.bin").read_bytes() for i in range(FILES)} == v1
    assert project.repo.status("datasets", "ds").clean
    assert not (project.root / ".ml-git" / "datasets" / "refs" / "ds" / "CHECKOUT").exists()


def test_the_cli_says_it_in_one_line(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _stopped_at(project, monkeypatch, "data/0.bin")
    result = Cli(project.root)("datasets status ds", ok=False)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"checkout of {TAG1} stopped" in lines[0], result.output


def test_another_version_with_force_replaces_a_checkout_stopped_halfway(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _stopped_at(project, monkeypatch, "data/4.bin")
    project.repo.checkout("datasets", "ds", version=2, force=True)
    assert all((path / "data" / f"{i}.bin").read_bytes() == bytes([i + 20]) * 1002 for i in range(FILES))
    assert project.repo.status("datasets", "ds").clean
