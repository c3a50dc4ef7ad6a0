"""kill -9 of a push or a checkout (the CLI in its own process group, git children included) at a
random moment: the same command run again completes, fsck is clean, the storage holds every object
the version names, and no half-written object is ever visible under its key."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import Project, make_project, write
from reliability_helpers import files_sha256, remote_tags
from s3server import s3_bucket_on

from mlgit.cid import cid_of, is_cid
from mlgit.objects import HashFS

FILES, FILE_SIZE = 24, 300_000  # two chunks each: 72 objects per version


def _cli(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlgit.cli", "-C", str(root), *args],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _kill_at(proc: subprocess.Popen[bytes], delay: float) -> bool:
    """SIGKILL the command's whole process group after ``delay`` s; False if it had already finished."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def _no_half_written_object(store: Path | HashFS) -> int:
    """Every file under a CID name holds exactly that CID's bytes (temp files are not objects)."""
    paths = list(store) if isinstance(store, HashFS) else [p.name for p in store.iterdir()]
    n = 0
    for key in paths:
        if not is_cid(key):
            continue
        data = store.path(key).read_bytes() if isinstance(store, HashFS) else (store / key).read_bytes()
        if cid_of(data) != key:
            # the cache keeps whole files under the file's CID: checked by fsck, not here
            raise AssertionError(f"{key} in {store} is half-written or corrupted")
        n += 1
    return n


def _bucket_objects(p: Project, s3: Any) -> dict[str, bytes]:
    if s3 is None:
        return {f.name: f.read_bytes() for f in p.bucket.iterdir() if is_cid(f.name)}
    client = s3.client()
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket)
        for o in page.get("Contents", ())
    ]
    return {k: client.get_object(Bucket=s3.bucket, Key=k)["Body"].read() for k in keys}


def _project(root: Path, remotes: dict[str, str], bucket: Path, s3: Any) -> Project:
    p = make_project(root, remotes, bucket)
    if s3 is not None:
        p.repo.set_config(
            "storages", {"s3h": {s3.bucket: s3.settings()}, "local": {"bucket": {"path": str(bucket)}}}
        )
    return p


def _new_version(p: Project, n: int, s3: Any) -> Any:
    try:
        path = p.repo.entity_path("datasets", "ds")
    except Exception:
        path = p.repo.create(
            "datasets", "ds", "crash", "strict", "s3h" if s3 else "local", s3.bucket if s3 else "bucket"
        )
    for i in range(FILES):
        write(path / f"v{n}" / f"{i}.bin", os.urandom(FILE_SIZE))
    p.repo.add("datasets", "ds")
    return p.repo.commit("datasets", "ds", version=n)


def _check_after(p: Project, s3: Any, tag: str, sha: str) -> int:
    fsck = p.repo.fsck("datasets")
    assert fsck.total == 0, fsck
    remote = p.repo.remote_fsck("datasets", "ds", thorough=True, fix=False)
    assert remote.missing == [] and remote.corrupted == [], remote
    assert remote_tags(p.remotes["datasets"])[tag] == sha
    for key, data in _bucket_objects(p, s3).items():
        assert cid_of(data) == key, f"half-written object {key} in the bucket"
    return remote.objects_checked


def _push_trials(tmp_path: Path, remotes: dict[str, str], trials: int, s3: Any) -> dict[str, int]:
    p = _project(tmp_path / "ws", remotes, tmp_path / "bucket", s3)
    rng = random.Random(trials)
    # calibrate: how long one push takes through the CLI here (the kills land within that span)
    first = _new_version(p, 1, s3)
    start = time.monotonic()
    assert _cli(p.root, "datasets", "push", "ds").wait() == 0
    span = time.monotonic() - start
    killed = 0
    for n in range(2, trials + 2):
        res = _new_version(p, n, s3)
        proc = _cli(p.root, "datasets", "push", "ds")
        killed += _kill_at(proc, rng.uniform(0.05, span))
        _no_half_written_object(p.repo.layout.objects("datasets"))
        again = p.repo.push("datasets", "ds")  # the same command, run again, completes
        assert again.tag == res.tag
        _check_after(p, s3, res.tag, remote_tags(p.remotes["datasets"])[res.tag])
    assert remote_tags(p.remotes["datasets"])[first.tag]
    return {"trials": trials, "killed": killed}


def _checkout_trials(tmp_path: Path, remotes: dict[str, str], trials: int, s3: Any) -> dict[str, int]:
    src = _project(tmp_path / "src", remotes, tmp_path / "bucket", s3)
    res = _new_version(src, 1, s3)
    src.repo.push("datasets", "ds")
    expected = files_sha256(Path(res.path))
    rng = random.Random(trials)
    killed = 0
    span = 0.0
    for n in range(trials + 1):
        p = _project(tmp_path / f"ws{n}", remotes, tmp_path / "bucket", s3)
        start = time.monotonic()
        proc = _cli(p.root, "datasets", "checkout", "crash__ds__1")
        if n == 0:  # calibration run
            assert proc.wait() == 0
            span = time.monotonic() - start
        else:
            killed += _kill_at(proc, rng.uniform(0.05, span))
            _no_half_written_object(p.repo.layout.objects("datasets"))
            out = p.repo.checkout("datasets", "crash__ds__1")  # the same command, run again, completes
            assert files_sha256(Path(out.path)) == expected
        fsck = p.repo.fsck("datasets")
        assert fsck.total == 0, fsck
        assert p.repo.status("datasets", "ds").clean
    return {"trials": trials, "killed": killed}


@pytest.mark.parametrize("kind", ["local", "s3-moto", "s3-seaweedfs"])
def test_push_killed_then_run_again(
    tmp_path: Path, remotes: dict[str, str], request: pytest.FixtureRequest, kind: str
) -> None:
    s3 = s3_bucket_on(request, kind.removeprefix("s3-")) if kind != "local" else None
    out = _push_trials(tmp_path, remotes, 3 if kind == "local" else 1, s3)
    assert out["trials"] >= 1


def test_checkout_killed_then_run_again(tmp_path: Path, remotes: dict[str, str]) -> None:
    out = _checkout_trials(tmp_path, remotes, 3, None)
    assert out["trials"] == 3


@pytest.mark.slow
@pytest.mark.parametrize(
    ("verb", "kind", "trials"),
    [
        pytest.param("push", "local", 25, id="push-local-25"),
        pytest.param("push", "s3-moto", 12, id="push-s3-12"),
        pytest.param("push", "s3-seaweedfs", 12, id="push-seaweedfs-12"),
        pytest.param("checkout", "local", 25, id="checkout-local-25"),
        pytest.param("checkout", "s3-moto", 10, id="checkout-s3-10"),
        pytest.param("checkout", "s3-seaweedfs", 10, id="checkout-seaweedfs-10"),
    ],
)
def test_long_kill_trials(
    tmp_path: Path, remotes: dict[str, str], request: pytest.FixtureRequest, verb: str, kind: str, trials: int
) -> None:
    s3 = s3_bucket_on(request, kind.removeprefix("s3-")) if kind != "local" else None
    run = _push_trials if verb == "push" else _checkout_trials
    out = run(tmp_path, remotes, trials, s3)
    print(f"FIGURE kill {verb} {kind}: {out}")  # collected into FIGURES.md (run with -s)
    assert out["killed"] >= trials // 2, out  # most kills landed while the command was running
