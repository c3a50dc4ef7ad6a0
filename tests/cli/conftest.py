"""ML-Git-style CLI tests: the command sequences of ML-Git's own test suite, on real git bare
remotes and local:// storage, checking the lines ML-Git printed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Cli, write

ENTITY_TYPES = ("datasets", "labels", "models")


@pytest.fixture
def ws(tmp_path: Path, cli: Cli, remotes: dict[str, str]) -> Path:
    """A project as ML-Git's tests set one up: init, three remotes, a storage, three types initialized."""
    root = tmp_path / "project"
    root.mkdir()
    cli("repository init", cwd=root)
    for et in ENTITY_TYPES:
        cli(f"repository remote {et} add {remotes[et]}", cwd=root)
    cli(f"repository storage add bucket --type=local --path={tmp_path / 'bucket'}", cwd=root)
    for et in ENTITY_TYPES:
        cli(f"{et} init", cwd=root)
    return root


@pytest.fixture
def version(cli: Cli, ws: Path) -> Callable[..., Path]:
    """``version(et, name, {path: bytes}, mutability=..., push=True)``: create (once), write, add, commit, push."""

    def make(
        et: str,
        name: str,
        files: dict[str, bytes],
        mutability: str = "strict",
        push: bool = True,
        commit_args: str = "",
    ) -> Path:
        folder = ws / et / name
        if not (folder / f"{name}.spec").exists():
            cli(
                f"{et} create {name} --categories=cat --mutability={mutability} "
                "--storage-type=local --bucket-name=bucket",
                cwd=ws,
            )
        for rel, data in files.items():
            target = folder / rel
            if target.exists():
                target.unlink()  # a new file under the same name, as a pipeline regenerating its outputs
            write(target, data)
        bump = " --bumpversion" if (ws / ".ml-git" / et / "refs" / name / "HEAD").exists() else ""
        cli(f"{et} add {name}{bump}", cwd=ws)
        cli(f"{et} commit {name} {commit_args}", cwd=ws)
        if push:
            cli(f"{et} push {name}", cwd=ws)
        return folder

    return make
