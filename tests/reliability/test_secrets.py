"""Storage keys passed by code never land in logs (DEBUG, every logger of ours), specs, config, the
workspace, git history, results (what XCom / Prefect would carry) or exception messages."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import make_project, write
from s3server import moto_authentication

from mlgit import MLGitError, Repository

ACCESS = "AKIAMLGITRELIABILITY7"
SECRET = "s3cr3t-Rel1ability-9f8e7d6c5b4a3210"


def _leaks(text: str, secrets: tuple[str, ...]) -> list[str]:
    return [s for s in secrets if s in text]


def _tree_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def test_keys_appear_nowhere(
    tmp_path: Path, remotes: dict[str, str], s3_bucket: Any, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = (ACCESS, SECRET, s3_bucket.secret_key)
    creds = {s3_bucket.bucket: {"aws_access_key_id": ACCESS, "aws_secret_access_key": SECRET}}
    caplog.set_level(logging.DEBUG)
    p = make_project(tmp_path / "ws", remotes, tmp_path / "bucket")
    p.repo.set_config("storages", {"s3h": {s3_bucket.bucket: s3_bucket.settings()}})
    repo = Repository(p.root, storage_credentials=creds)
    path = repo.create("datasets", "ds", "sec", "strict", "s3h", s3_bucket.bucket)
    write(path / "a.bin", b"a" * 300_000)
    results: list[dict[str, Any]] = [
        repo.add("datasets", "ds").to_dict(),
        repo.commit("datasets", "ds").to_dict(),
        repo.push("datasets", "ds").to_dict(),
    ]
    other = make_project(tmp_path / "ws2", remotes, tmp_path / "bucket")
    other.repo.set_config("storages", {"s3h": {s3_bucket.bucket: s3_bucket.settings()}})
    other_repo = Repository(other.root, storage_credentials=creds)
    results.append(other_repo.checkout("datasets", "ds").to_dict())
    results.append(other_repo.fsck("datasets").to_dict())
    results.append(other_repo.remote_fsck("datasets", "ds", thorough=True).to_dict())
    errors = []
    with moto_authentication(s3_bucket.server):  # every key refused: the error must not quote it
        write(path / "b.bin", b"b" * 10)
        repo.add("datasets", "ds")
        repo.commit("datasets", "ds", version=2)
        for call in (
            lambda: repo.push("datasets", "ds"),
            lambda: other_repo.remote_fsck("datasets", "ds", thorough=True),
        ):
            with pytest.raises(MLGitError) as info:
                call()
            errors.append(f"{info.value!r} {info.value} {info.value.__cause__!r}")
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("mlgit"))
    assert caplog.records and not _leaks(ours, secrets)
    everything = "\n".join(f"{r.name}: {r.getMessage()}" for r in caplog.records)
    assert not _leaks(everything, (SECRET, s3_bucket.secret_key))  # botocore, urllib3 too
    assert not _leaks(json.dumps(results), secrets)
    assert not _leaks("\n".join(errors), secrets), errors
    assert not _leaks(_tree_text(p.root) + _tree_text(other.root), secrets)  # specs, config, index, metadata
    for url in remotes.values():
        history = subprocess.run(
            ["git", "-C", url, "log", "--all", "-p", "--format=%B"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert not _leaks(history, secrets)
