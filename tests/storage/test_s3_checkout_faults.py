"""An S3 server that dies or goes silent in the middle of a checkout (many downloads in flight on one event
loop), on moto and on SeaweedFS: the CLI ends in bounded time with one error line, exit 1, and leaves the
workspace as it was. A module of its own: its tests start, kill and freeze servers of their own (an xdist
unit apart from the push faults)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from faults import FILES, READ, bound, cli, one_line, workspace
from helpers import make_project
from s3server import MotoProcess, SeaweedFS, s3_settings


def _checkout_then_wait_for_objects(root: Path, at_least: int) -> subprocess.Popen[str]:
    """Start a fresh checkout (many downloads in flight on one event loop); return once it has stored
    ``at_least`` objects in the workspace's object store (so the fault lands mid-checkout)."""
    objects = root / ".ml-git" / "datasets" / "objects"
    proc = cli(root, "datasets", "checkout", "birds")
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
    pusher = Repository(workspace(tmp_path, server, own_server.endpoint, files=FILES // 2))
    pusher.set_config("push_threads_count", 10)  # the whole version in the bucket, many uploads in flight
    pusher.set_config("storages", {"s3h": {"faults": s3_settings(own_server.endpoint)}})
    pusher.push("datasets", "birds")
    root = _fresh_workspace(tmp_path, own_server.endpoint)
    proc = _checkout_then_wait_for_objects(root, 10)
    if fault == "killed":
        own_server.kill()
        line, elapsed = one_line(proc, timeout=60)
        assert "cannot reach" in line and ("connection refused" in line or "connection dropped" in line), line
        assert elapsed < 15, f"{elapsed:.1f} s after the server died"
    else:
        os.killpg(own_server.proc.pid, signal.SIGSTOP)
        try:
            line, elapsed = one_line(proc, timeout=120)
        finally:
            os.killpg(own_server.proc.pid, signal.SIGCONT)
        assert "cannot reach" in line and f"no answer within {READ:g} s" in line, line
        # the stream's requests in flight wait out one read timeout together, then the retried path's bound
        assert elapsed < bound(READ) + READ, f"{elapsed:.1f} s after the server froze"
    assert f"not transferred from s3h://faults at {own_server.endpoint}" in line, line
    _untouched(root)
