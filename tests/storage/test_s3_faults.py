"""An S3 server that dies or goes silent in the middle of a push, on moto and on SeaweedFS:
the CLI ends in bounded time with one error line (no retry chatter from the SDKs), exit 1, and loses
nothing (a push publishes no version). Checkouts: test_s3_checkout_faults.py.

The faults are real: the server process is SIGKILLed (a crash, an OOM kill) or SIGSTOPped (a hung
server: the kernel still accepts connections on its socket, nobody answers), and a loopback listener
accepts connections and never answers, as a wedged proxy or load balancer does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import FILES, READ, bound, cli, one_line, workspace
from s3server import MotoProcess, S3Server, SeaweedFS, s3_settings

from mlgit import transfer


def _push_then_wait_for_objects(
    root: Path, server: S3Server, bucket: str, at_least: int
) -> subprocess.Popen[str]:
    """Start the push; return once it has stored ``at_least`` objects (so the fault lands mid-push). The client
    that looks is made first, so that its start (a second, under load) is not part of the race."""
    client = server.client()
    client.list_objects_v2(Bucket=bucket, MaxKeys=1)
    proc = cli(root, "datasets", "push", "birds")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if client.list_objects_v2(Bucket=bucket, MaxKeys=at_least).get("KeyCount", 0) >= at_least:
            return proc
        time.sleep(0.02)
    raise AssertionError(
        f"the push stored fewer than {at_least} objects before it ended (exit {proc.poll()})"
    )


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
    root = workspace(tmp_path, server, own_server.endpoint, files=FILES)
    proc = _push_then_wait_for_objects(root, server, "faults", 10)
    own_server.kill()
    line, elapsed = one_line(proc, timeout=60)
    assert "not transferred to s3h://faults at " + own_server.endpoint in line, line
    assert "cannot reach" in line and ("connection refused" in line or "connection dropped" in line), line
    assert elapsed < 15, f"{elapsed:.1f} s after the server died"
    _not_pushed(root)


def test_server_frozen_mid_push_ends_within_the_deadline(
    own_server: SeaweedFS | MotoProcess, tmp_path: Path
) -> None:
    server = own_server.server()
    root = workspace(tmp_path, server, own_server.endpoint, files=FILES)
    proc = _push_then_wait_for_objects(root, server, "faults", 10)
    os.killpg(own_server.proc.pid, signal.SIGSTOP)  # the kernel still accepts connections; nobody answers
    try:
        line, elapsed = one_line(proc, timeout=120)
    finally:
        os.killpg(own_server.proc.pid, signal.SIGCONT)
    assert "cannot reach" in line and f"no answer within {READ:g} s" in line, line
    assert elapsed < bound(READ), f"{elapsed:.1f} s after the server froze"
    _not_pushed(root)


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
    root = workspace(tmp_path, s3_bucket.server, s3_bucket.endpoint, files=1, bucket="silent-test")
    from mlgit import Repository

    repo = Repository(root)
    repo.set_config("storages", {"s3h": {"silent-test": s3_settings(silent_endpoint, read_timeout=READ)}})
    proc = cli(root, "datasets", "push", "birds")
    line, elapsed = one_line(proc, timeout=180)
    assert f"2 of 2 objects not transferred to s3h://silent-test at {silent_endpoint}" in line, line
    assert f"no answer within {READ:g} s" in line, line
    assert f"gave up after {transfer.ATTEMPTS} attempts" in line, line
    assert elapsed < bound(READ), f"{elapsed:.1f} s"
    _not_pushed(root)
