"""What the S3 fault tests share (test_s3_faults.py: push; test_s3_checkout_faults.py: checkout): the CLI in
its own process group, a workspace on a storage with a short read timeout, the bound of a silent server,
the one error line."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

from helpers import make_project, write
from s3server import S3Server, s3_settings

from mlgit import transfer


def cli(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlgit.cli", "-C", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


#: the ``read-timeout`` of the storages of these tests (seconds): what a silent server costs each attempt. The
#: default (``READ_TIMEOUT``) is bounded the same way, only slower: by ``transfer.DEADLINE`` over all attempts
#: (tests/unit/test_transfer.py)
READ = 2.0
#: files of the version pushed when the server dies or freezes: 2 objects each, uploaded one at a time (a
#: PUT takes ~0.5 ms on SeaweedFS here), so the push lasts seconds and the fault lands mid-push
FILES = 3000


def bound(read_timeout: float) -> float:
    """The most seconds a push may take to give up on a server that accepts and never answers: every attempt
    waits out the read timeout, with the longest pauses between them, and none starts after the deadline;
    plus 10 s for the CLI's start and the work before the fault."""
    pauses = sum(min(transfer.MAX_PAUSE, transfer.BACKOFF * 2**i) * 1.5 for i in range(transfer.ATTEMPTS - 1))
    return min(transfer.ATTEMPTS * read_timeout + pauses, transfer.DEADLINE + read_timeout) + 10


def workspace(tmp_path: Path, server: S3Server, endpoint: str, files: int, bucket: str = "faults") -> Path:
    """A committed, unpushed version of ``files`` small files (two objects each) on ``endpoint``, its storage
    with a ``read-timeout`` of ``READ`` seconds and one request in flight."""
    server.client().create_bucket(Bucket=bucket)
    p = make_project(tmp_path / "ws", {}, tmp_path / "unused")
    for et, url in remotes_of(tmp_path).items():
        p.repo.remote_add(et, url)
        p.repo.entity_init(et)
    # one upload at a time: the push lasts seconds, so the fault lands mid-push however fast uploads are
    p.repo.set_config("push_threads_count", 1)
    p.repo.set_config("storages", {"s3h": {bucket: s3_settings(endpoint, read_timeout=READ, concurrency=1)}})
    path = p.repo.create("datasets", "birds", "zoo", "strict", "s3h", bucket)
    rnd = random.Random(files)
    for i in range(files):
        write(path / f"{i:04}.bin", rnd.randbytes(700))
    p.repo.add("datasets", "birds")
    p.repo.commit("datasets", "birds")
    return p.root


def remotes_of(tmp_path: Path) -> dict[str, str]:
    out = {}
    for et in ("datasets", "labels", "models"):
        path = tmp_path / "remotes" / f"{et}.git"
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=master", str(path)], check=True)
        out[et] = str(path)
    return out


def one_line(proc: subprocess.Popen[str], timeout: float) -> tuple[str, float]:
    started = time.monotonic()
    out, err = proc.communicate(timeout=timeout)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, (proc.returncode, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-3000:]  # one error line: no urllib3 "Retrying" warning, no traceback
    assert "Retrying" not in err and "Traceback" not in err
    return lines[0], elapsed
