"""The attacker's tools (plain git, plain file writes) and the victim's bounded CLI run."""

from __future__ import annotations

import os
import resource
import socket
import stat
import subprocess
import sys
from pathlib import Path

from helpers import Project, make_project, write

TIMEOUT = 60  # seconds for one victim command
MEMORY = 2 << 30  # address space of one victim command: an alias bomb or /dev/zero read would pass it


def git(cwd: Path, *args: str, data: bytes | None = None) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=True)
    return out.stdout.decode().strip()


class Attacker:
    """A plain clone of a metadata (or project) remote, changed with git plumbing only: what anyone with
    push rights can do. Entries go straight into the index, so symlinks need no file on disk."""

    def __init__(self, remote: str, where: Path) -> None:
        subprocess.run(["git", "clone", "-q", remote, str(where)], check=True, capture_output=True)
        self.path = where
        self.git("config", "user.name", "attacker")
        self.git("config", "user.email", "attacker@evil.invalid")

    def git(self, *args: str, data: bytes | None = None) -> str:
        return git(self.path, *args, data=data)

    def put(self, path: str, data: bytes, mode: str = "100644") -> None:
        sha = self.git("hash-object", "-w", "--stdin", data=data)
        self.git("update-index", "--add", "--replace", "--cacheinfo", f"{mode},{sha},{path}")

    def symlink(self, path: str, target: str) -> None:
        self.remove(path)
        self.put(path, target.encode(), "120000")

    def remove(self, path: str) -> None:
        self.git("rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", path)

    def show(self, ref_path: str) -> bytes:
        return subprocess.run(
            ["git", "show", ref_path], cwd=self.path, capture_output=True, check=True
        ).stdout

    def commit(self, message: str, tag: str | None = None, force_tag: bool = False) -> str:
        self.git("commit", "-q", "--allow-empty", "-m", message)
        if tag:
            self.git("tag", *(["-f"] if force_tag else []), "-a", tag, "-m", message)
        return self.git("rev-parse", "HEAD")

    def push(self, *refs: str, force: bool = False) -> None:
        self.git(
            "push", "-q", *(["--force"] if force else []), "origin", *(refs or ("HEAD:refs/heads/master",))
        )


def publish(
    p: Project, name: str = "ds", et: str = "datasets", data: bytes = b"genuine data\n", **commit: object
) -> str:
    """A version pushed the normal way; returns its tag."""
    path = p.repo.create(et, name, "cv", "strict", "local", "bucket")
    write(path / "data" / "a.bin", data)
    write(path / "README.md", b"# a genuine README\n")
    p.repo.add(et, name)
    res = p.repo.commit(et, name, **commit)  # type: ignore[arg-type]
    p.repo.push(et, name)
    assert res.tag
    return res.tag


def victim(tmp_path: Path, remotes: dict[str, str], name: str = "victim") -> Project:
    """A workspace set up after the attack: its metadata clones hold what the attacker pushed."""
    return make_project(tmp_path / name, remotes, tmp_path / "bucket")


def run_cli(cwd: Path, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``ml-git ARGS`` in a child process with bounded time and address space."""

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))

    return subprocess.run(
        [sys.executable, "-m", "mlgit.cli", "-C", str(cwd), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limits,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
    )


def snapshot(base: Path, skip: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``base`` outside ``skip`` (mode, size, mtime): nothing there may change."""
    out = {}
    for dirpath, dirs, files in os.walk(base):
        here = Path(dirpath)
        dirs[:] = [d for d in dirs if here / d != skip]
        for entry in [*dirs, *files]:
            st = os.lstat(here / entry)  # a folder's own mtime moves with any entry: its entries are listed
            out[str(here / entry)] = (
                (st.st_mode, 0, 0) if stat.S_ISDIR(st.st_mode) else (st.st_mode, st.st_size, st.st_mtime_ns)
            )
    return out


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
