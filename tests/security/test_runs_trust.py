"""Run folders (``mlgit.runs``): the per-host bare mirror and the run clones are made by mlgit's own git
calls, so they get the same URL checks, transports and redaction as every other git call (SECURITY.md):
a remote given to a pipeline (an Airflow connection, a Prefect block, a cloned project's config) cannot
run a command, and a token in it is never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import Project, write

from mlgit import MetadataError, Repository, UnsafeRemote, runs


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch {marker}",
        "-c core.sshCommand=touch {marker}",
        "ext::sh -c touch% {marker}",
        "fd::7",
    ],
)
def test_run_folder_remote_that_would_run_code_is_refused(tmp_path: Path, url: str) -> None:
    marker = tmp_path / "pwned"
    host = tmp_path / "host"
    with pytest.raises(UnsafeRemote, match="git URL") as err:
        runs.prepare(host, "run-1", {"datasets": url.format(marker=marker)})
    assert "\n" not in str(err.value)
    assert not marker.exists()
    assert not (host / "mirror" / "datasets.git").exists()


def test_run_folder_mirror_never_shows_a_token(tmp_path: Path) -> None:
    token = "ghp_do_not_leak_0123456789"
    with pytest.raises(MetadataError) as err:
        runs.prepare(tmp_path / "host", "run-1", {"datasets": f"https://ci:{token}@127.0.0.1:9/x.git"})
    assert token not in str(err.value), err.value
    assert "git clone" in str(err.value) and "\n" not in str(err.value)


def test_run_folder_of_a_real_remote_still_works(project: Project, tmp_path: Path) -> None:
    run = runs.prepare(tmp_path / "host", "run-1", {"datasets": project.remotes["datasets"]})
    assert (run.path / ".ml-git" / "datasets" / "metadata" / ".git").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="as root 0444 does not stop a write: the case to test")
def test_root_writing_in_place_into_a_run_file_changes_neither_the_shared_cache_nor_other_runs(
    project: Project, tmp_path: Path
) -> None:
    """Another task on the worker (root, as in containers) opens its checked-out dataset file "r+" and
    writes into it: the host's shared cache, another run's files and every later run keep the data."""
    path = project.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    original = {f"f{i}.bin": f"file {i}".encode() * 100 for i in range(3)}
    for rel, data in original.items():
        write(path / rel, data)
    project.repo.add("datasets", "ds")
    project.repo.commit("datasets", "ds")
    project.repo.push("datasets", "ds")
    host = tmp_path / "host"

    def checkout(key: str) -> Path:
        run = runs.prepare(host, key, {"datasets": project.remotes["datasets"]}, {"flow_run_id": key})
        repo = Repository(run.path)
        repo.storage_add("bucket", "local", path=str(project.bucket))
        return Path(repo.checkout("datasets", "ds", fetch=True).path)

    first, second = checkout("a"), checkout("b")  # the first fills the shared cache, the second reuses it
    cached = {os.stat(p).st_ino: p for p in (host / "cache").rglob("*") if p.is_file()}
    assert cached, "the shared cache holds the files"
    for run in (first, second):
        for rel in original:
            assert os.stat(run / rel).st_ino not in cached, f"{run / rel} shares an inode with the cache"
    with open(second / "f0.bin", "r+b") as fh:  # as root, mode 0444 does not stop this
        fh.write(b"EVIL")
    assert (second / "f0.bin").read_bytes().startswith(b"EVIL")  # the write happened, to b's file only
    assert all(b"EVIL" not in p.read_bytes() for p in cached.values())
    assert {rel: (first / rel).read_bytes() for rel in original} == original
    third = checkout("c")
    assert {rel: (third / rel).read_bytes() for rel in original} == original


@pytest.mark.timeout(30)
def test_the_lock_holder_record_is_never_written_or_read_through_a_planted_file(tmp_path: Path) -> None:
    """Another task on the worker plants a symlink, a hard link or a FIFO where the workspace lock
    records its holder: the victim's lock replaces the entry, never writes into what it points at."""
    from mlgit.locking import PathLock

    victim = tmp_path / "bashrc"
    victim.write_text("user's file\n")
    lock = PathLock(tmp_path / "ws" / "lock", "workspace")
    holder = tmp_path / "ws" / "lock.holder"
    holder.parent.mkdir()
    for plant in ("symlink", "hardlink", "fifo"):
        if holder.exists() or holder.is_symlink():
            holder.unlink()
        if plant == "symlink":
            holder.symlink_to(victim)
        elif plant == "hardlink":
            os.link(victim, holder)
        else:
            os.mkfifo(holder)
            assert lock.holder() == {}  # read: refused at once, no hang on the FIFO
        with lock.hold("commit"):
            assert lock.holder()["verb"] == "commit"
        assert victim.read_text() == "user's file\n", plant
        assert not holder.is_symlink() and holder.stat().st_ino != victim.stat().st_ino


def test_a_lock_file_swapped_for_a_symlink_is_one_clear_error(project: Project, tmp_path: Path) -> None:
    """The workspace lock file itself planted as a symlink to a user's file: never opened through it
    (filelock uses O_NOFOLLOW), and the verb ends in one UnsafePath naming it, not an internal error."""
    from security_helpers import run_cli

    from mlgit import config as cfg
    from mlgit.locking import LOCK_NAME

    project.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    victim = write(tmp_path / "bashrc", b"user's file\n")
    lock = project.root / cfg.MLGIT_DIR / LOCK_NAME
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim)
    res = run_cli(project.root, "datasets", "add", "ds")
    assert res.returncode == 1 and f"lock file {lock} is a symlink (to {victim})" in res.stderr, res.stderr
    assert res.stderr.startswith("ERROR - ") and len(res.stderr.strip().splitlines()) == 1
    assert victim.read_bytes() == b"user's file\n"
