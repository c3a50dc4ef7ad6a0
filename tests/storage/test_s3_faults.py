"""An S3 server that dies or goes silent in the middle of a push or a checkout, on moto and on SeaweedFS:
the CLI ends in bounded time with one error line (no retry chatter from the SDKs), exit 1, and loses
nothing (a push publishes no version; a checkout leaves the workspace as it was).

The faults are real: the server process is SIGKILLed (a crash, an OOM kill) or SIGSTOPped (a hung
server: the kernel still accepts connections on its socket, nobody answers), and a loopback listener
accepts connections and never answers, as a wedged proxy or load balancer does.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import make_project, write
from s3server import S3_SERVERS, MotoProcess, S3Server, SeaweedFS, point_aws_env_at, s3_settings, start_server

from mlgit import transfer


def _cli(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlgit.cli", "-C", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.fixture(params=S3_SERVERS)
def own_server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[SeaweedFS | MotoProcess]:
    """A server this test may kill or freeze (the session's servers are shared)."""
    running = start_server(request.param)
    try:
        point_aws_env_at(monkeypatch, tmp_path / "aws", running.server())
        yield running
    finally:
        if running.proc.poll() is None:
            os.killpg(running.proc.pid, signal.SIGCONT)
        running.stop(grace=0)  # thrown away: no graceful shutdown to wait for


#: the ``read-timeout`` of the storages of these tests (seconds): what a silent server costs each attempt. The
#: default (``READ_TIMEOUT``) is bounded the same way, only slower: by ``transfer.DEADLINE`` over all attempts
#: (tests/unit/test_transfer.py)
READ = 2.0
#: files of the version pushed when the server dies or freezes: 2 objects each, uploaded one at a time (a
#: PUT takes ~0.5 ms on SeaweedFS here), so the push lasts seconds and the fault lands mid-push
FILES = 3000


def _bound(read_timeout: float) -> float:
    """The most seconds a push may take to give up on a server that accepts and never answers: every attempt
    waits out the read timeout, with the longest pauses between them, and none starts after the deadline;
    plus 10 s for the CLI's start and the work before the fault."""
    pauses = sum(min(transfer.MAX_PAUSE, transfer.BACKOFF * 2**i) * 1.5 for i in range(transfer.ATTEMPTS - 1))
    return min(transfer.ATTEMPTS * read_timeout + pauses, transfer.DEADLINE + read_timeout) + 10


def _workspace(tmp_path: Path, server: S3Server, endpoint: str, files: int, bucket: str = "faults") -> Path:
    """A committed, unpushed version of ``files`` small files (two objects each) on ``endpoint``, its storage
    with a ``read-timeout`` of ``READ`` seconds and one request in flight."""
    server.client().create_bucket(Bucket=bucket)
    p = make_project(tmp_path / "ws", {}, tmp_path / "unused")
    for et, url in _remotes(tmp_path).items():
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


def _remotes(tmp_path: Path) -> dict[str, str]:
    out = {}
    for et in ("datasets", "labels", "models"):
        path = tmp_path / "remotes" / f"{et}.git"
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=master", str(path)], check=True)
        out[et] = str(path)
    return out


def _push_then_wait_for_objects(
    root: Path, server: S3Server, bucket: str, at_least: int
) -> subprocess.Popen[str]:
    """Start the push; return once it has stored ``at_least`` objects (so the fault lands mid-push). The client
    that looks is made first, so that its start (a second, under load) is not part of the race."""
    client = server.client()
    client.list_objects_v2(Bucket=bucket, MaxKeys=1)
    proc = _cli(root, "datasets", "push", "birds")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if client.list_objects_v2(Bucket=bucket, MaxKeys=at_least).get("KeyCount", 0) >= at_least:
            return proc
        time.sleep(0.02)
    raise AssertionError(
        f"the push stored fewer than {at_least} objects before it ended (exit {proc.poll()})"
    )


def _one_line(proc: subprocess.Popen[str], timeout: float) -> tuple[str, float]:
    started = time.monotonic()
    out, err = proc.communicate(timeout=timeout)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, (proc.returncode, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-3000:]  # one error line: no urllib3 "Retrying" warning, no traceback
    assert "Retrying" not in err and "Traceback" not in err
    return lines[0], elapsed


def _not_pushed(root: Path) -> None:
    from mlgit import Repository

    repo = Repository(root)
    assert repo.fsck("datasets").total == 0  # every object still in the workspace
    remote = root.parent / "remotes" / "datasets.git"
    tags = subprocess.run(
        ["git", "-C", str(remote), "tag"], capture_output=True, text=True, check=True
    ).stdout
    assert tags.strip() == "", "a version whose objects are not all stored must not be published"


def test_server_killed_mid_push_is_one_line_in_seconds(
    own_server: SeaweedFS | MotoProcess, tmp_path: Path
) -> None:
    server = own_server.server()
    root = _workspace(tmp_path, server, own_server.endpoint, files=FILES)
    proc = _push_then_wait_for_objects(root, server, "faults", 10)
    own_server.kill()
    line, elapsed = _one_line(proc, timeout=60)
    assert "not transferred to s3h://faults at " + own_server.endpoint in line, line
    assert "cannot reach" in line and ("connection refused" in line or "connection dropped" in line), line
    assert elapsed < 15, f"{elapsed:.1f} s after the server died"
    _not_pushed(root)


def test_server_frozen_mid_push_ends_within_the_deadline(
    own_server: SeaweedFS | MotoProcess, tmp_path: Path
) -> None:
    server = own_server.server()
    root = _workspace(tmp_path, server, own_server.endpoint, files=FILES)
    proc = _push_then_wait_for_objects(root, server, "faults", 10)
    os.killpg(own_server.proc.pid, signal.SIGSTOP)  # the kernel still accepts connections; nobody answers
    try:
        line, elapsed = _one_line(proc, timeout=120)
    finally:
        os.killpg(own_server.proc.pid, signal.SIGCONT)
    assert "cannot reach" in line and f"no answer within {READ:g} s" in line, line
    assert elapsed < _bound(READ), f"{elapsed:.1f} s after the server froze"
    _not_pushed(root)


def _checkout_then_wait_for_objects(root: Path, at_least: int) -> subprocess.Popen[str]:
    """Start a fresh checkout (many downloads in flight on one event loop); return once it has stored
    ``at_least`` objects in the workspace's object store (so the fault lands mid-checkout)."""
    objects = root / ".ml-git" / "datasets" / "objects"
    proc = _cli(root, "datasets", "checkout", "birds")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if objects.is_dir() and sum(len(files) for _, _, files in os.walk(objects)) >= at_least:
            return proc
        time.sleep(0.01)
    raise AssertionError(
        f"the checkout stored fewer than {at_least} objects before it ended (exit {proc.poll()})"
    )


def _fresh_workspace(tmp_path: Path, endpoint: str) -> Path:
    """Another workspace of the pushed version, its storage with a ``read-timeout`` of ``READ`` seconds and
    the default requests in flight."""
    root = tmp_path / "fresh"
    p = make_project(root, {}, tmp_path / "unused")
    for et in ("datasets", "labels", "models"):
        p.repo.remote_add(et, str(tmp_path / "remotes" / f"{et}.git"))
        p.repo.entity_init(et)
    p.repo.set_config("storages", {"s3h": {"faults": s3_settings(endpoint, read_timeout=READ)}})
    return root


def _untouched(root: Path) -> None:
    """No file of the version in the workspace, no temp file anywhere."""
    assert not (root / "datasets").exists() or not any(p.is_file() for p in (root / "datasets").rglob("*"))
    assert [p for p in root.rglob("*") if p.is_file() and ".tmp" in p.name] == []


@pytest.mark.parametrize("fault", ["killed", "frozen"])
def test_server_lost_mid_checkout_is_one_line_and_leaves_the_workspace_as_it_was(
    own_server: SeaweedFS | MotoProcess, tmp_path: Path, fault: str
) -> None:
    server = own_server.server()
    from mlgit import Repository

    # half the push tests' files: a checkout moves them in a second or more, and the fault lands after 10
    pusher = Repository(_workspace(tmp_path, server, own_server.endpoint, files=FILES // 2))
    pusher.set_config("push_threads_count", 10)  # the whole version in the bucket, many uploads in flight
    pusher.set_config("storages", {"s3h": {"faults": s3_settings(own_server.endpoint)}})
    pusher.push("datasets", "birds")
    root = _fresh_workspace(tmp_path, own_server.endpoint)
    proc = _checkout_then_wait_for_objects(root, 10)
    if fault == "killed":
        own_server.kill()
        line, elapsed = _one_line(proc, timeout=60)
        assert "cannot reach" in line and ("connection refused" in line or "connection dropped" in line), line
        assert elapsed < 15, f"{elapsed:.1f} s after the server died"
    else:
        os.killpg(own_server.proc.pid, signal.SIGSTOP)
        try:
            line, elapsed = _one_line(proc, timeout=120)
        finally:
            os.killpg(own_server.proc.pid, signal.SIGCONT)
        assert "cannot reach" in line and f"no answer within {READ:g} s" in line, line
        # the stream's requests in flight wait out one read timeout together, then the retried path's bound
        assert elapsed < _bound(READ) + READ, f"{elapsed:.1f} s after the server froze"
    assert f"not transferred from s3h://faults at {own_server.endpoint}" in line, line
    _untouched(root)


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback listener that accepts every connection and never answers (a wedged proxy)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        sock.close()


def test_endpoint_that_never_answers_fails_a_small_push_in_bounded_time(
    s3_bucket: object, silent_endpoint: str, tmp_path: Path
) -> None:
    """Issue 9: a 2-object push took 4 minutes to fail; now one read timeout per attempt, one deadline."""
    from s3server import S3Bucket

    assert isinstance(s3_bucket, S3Bucket)
    root = _workspace(tmp_path, s3_bucket.server, s3_bucket.endpoint, files=1, bucket="silent-test")
    from mlgit import Repository

    repo = Repository(root)
    repo.set_config("storages", {"s3h": {"silent-test": s3_settings(silent_endpoint, read_timeout=READ)}})
    proc = _cli(root, "datasets", "push", "birds")
    line, elapsed = _one_line(proc, timeout=180)
    assert f"2 of 2 objects not transferred to s3h://silent-test at {silent_endpoint}" in line, line
    assert f"no answer within {READ:g} s" in line, line
    assert f"gave up after {transfer.ATTEMPTS} attempts" in line, line
    assert elapsed < _bound(READ), f"{elapsed:.1f} s"
    _not_pushed(root)
