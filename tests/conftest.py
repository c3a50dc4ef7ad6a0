"""Shared fixtures: a git identity that never touches $HOME, bare remotes, a project on local storage."""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlgit import Repository
from mlgit.cli import main

pytest_plugins = ["s3server"] if importlib.util.find_spec("s3server") else []

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURE = SHARED / "fixtures" / "mlgit-2.9.9"
ENTITY_TYPES = ("datasets", "labels", "models")


@pytest.fixture(autouse=True)
def git_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    gitconfig = tmp_path_factory.getbasetemp() / "gitconfig"
    if not gitconfig.exists():
        gitconfig.write_text("[init]\n\tdefaultBranch = master\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "mlgit tests")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tests@mlgit.invalid")


def make_remotes(base: Path) -> dict[str, str]:
    out = {}
    for et in ENTITY_TYPES:
        path = base / f"{et}.git"
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=master", str(path)], check=True)
        out[et] = str(path)
    return out


@pytest.fixture
def remotes(tmp_path: Path) -> dict[str, str]:
    return make_remotes(tmp_path / "remotes")


@dataclass
class Project:
    repo: Repository
    remotes: dict[str, str]
    bucket: Path

    @property
    def root(self) -> Path:
        return self.repo.root


def make_project(root: Path, remotes: dict[str, str], bucket: Path) -> Project:
    repo = Repository.init(root)
    for et, url in remotes.items():
        repo.remote_add(et, url)
        repo.entity_init(et)
    repo.storage_add("bucket", "local", path=str(bucket))
    return Project(repo, remotes, bucket)


@pytest.fixture
def project(tmp_path: Path, remotes: dict[str, str]) -> Project:
    return make_project(tmp_path / "ws", remotes, tmp_path / "bucket")


@pytest.fixture
def second(tmp_path: Path, project: Project) -> Project:
    """Another workspace on the same remotes and bucket (another worker, another machine)."""
    return make_project(tmp_path / "ws2", project.remotes, project.bucket)


class Cli:
    """Runs ``ml-git`` in-process, as if started in ``cwd``."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.runner = CliRunner()

    def __call__(self, line: str, ok: bool = True, cwd: Path | None = None) -> Result:
        import shlex

        args = ["-C", str(cwd or self.cwd), *shlex.split(line)]
        result = self.runner.invoke(main, args, catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(f"ml-git {line} exited {result.exit_code}:\n{result.output}")
        if not ok and result.exit_code == 0:
            raise AssertionError(f"ml-git {line} should have failed:\n{result.output}")
        return result


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    yield Cli(tmp_path)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
