"""Helpers shared by the tests (import with ``from helpers import ...``)."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from mlgit import Repository
from mlgit.cli import cli

DATA = Path(__file__).resolve().parent / "data"
#: a verbatim copy of ../shared (the ground truth ML-Git 2.9.9 wrote); test_shared_copy checks it
FIXTURE = DATA / "mlgit-2.9.9"
VECTORS = DATA / "vectors" / "mlgit-cids.yaml"
ENTITY_TYPES = ("datasets", "labels", "models")


def make_remotes(base: Path) -> dict[str, str]:
    out = {}
    for et in ENTITY_TYPES:
        path = base / f"{et}.git"
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=master", str(path)], check=True)
        out[et] = str(path)
    return out


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


class Cli:
    """Runs ``ml-git`` in-process, as if started in ``cwd``."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.runner = CliRunner()

    def __call__(self, line: str, ok: bool = True, cwd: Path | None = None) -> Result:
        import shlex

        args = ["-C", str(cwd or self.cwd), *shlex.split(line)]
        if "--verbose" in args:  # as main() does for the installed program
            args.remove("--verbose")
            args.insert(0, "--verbose")
        result = self.runner.invoke(cli, args, catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise AssertionError(f"ml-git {line} exited {result.exit_code}:\n{result.output}")
        if not ok and result.exit_code == 0:
            raise AssertionError(f"ml-git {line} should have failed:\n{result.output}")
        return result


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def s3_workspace(root: Path, remotes: dict[str, str], bucket: str, endpoint: str) -> Repository:
    """A new workspace with the datasets remote and an ``s3h`` storage ``bucket`` at ``endpoint``."""
    repo = Repository.init(root)
    repo.remote_add("datasets", remotes["datasets"])
    repo.entity_init("datasets")
    repo.storage_add(bucket, "s3h", endpoint_url=endpoint)
    return repo


def publish(repo: Repository, name: str, bucket: str, files: dict[str, bytes]) -> None:
    """Dataset ``name`` holding ``files`` (relative path -> bytes): created, added, committed, pushed."""
    entity = repo.create("datasets", name, categories=["zoo"], storage_type="s3h", bucket=bucket)
    for rel, data in files.items():
        write(entity / rel, data)
    repo.add("datasets", name)
    repo.commit("datasets", name)
    repo.push("datasets", name)


def serve_fixture(base: Path) -> dict[str, str]:
    """The ML-Git 2.9.9 metadata repositories as bare remotes under ``base``."""
    out = {}
    for et in ENTITY_TYPES:
        path = base / f"{et}.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(FIXTURE / f"{et}.bundle"), str(path)], check=True)
        out[et] = str(path)
    return out


def sampling_files() -> dict[str, bytes]:
    """The 41-key dataset version whose ML-Git samples tests/data/sampling/expected.yaml holds
    (``sampling__many__1``): 40 files, and two paths under one key."""
    files = {f"data/f{i:02}.txt": f"sample file {i}\n".encode() for i in range(40)}
    files.update({"dup/a/same.txt": b"same\n", "dup/b/same.txt": b"same\n"})
    return files


def write_howto_v1(entity: Path) -> None:
    """Version 1 of the how-to flows over a storage: a 3-chunk file, 20 small ones, an empty file and
    two identical ones (4 + 20 x 2 + 1 + 2 = 47 objects in the bucket)."""
    rnd = random.Random(7)
    write(entity / "data" / "train" / "big", rnd.randbytes(600_000))  # three chunks
    for i in range(20):
        write(entity / "data" / "val" / f"{i:02}.bin", rnd.randbytes(1000 + i))
    write(entity / "data" / "empty", b"")
    write(entity / "data" / "dup-a", b"same")
    write(entity / "data" / "dup-b", b"same")


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite database with SQLite's backup API: safe while ``target`` is open elsewhere."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
