"""The backends the conformance suite runs over, each a real server or folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from s3server import free_port

from mlgit.storage.base import Storage
from mlgit.storage.local import LocalStorage

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker" / "docker-compose.yml"


@dataclass
class Backend:
    """A storage under test and how to make broken variants of it."""

    name: str
    storage: Storage
    #: the same storage but pointed at a bucket that does not exist
    missing_bucket: Callable[[], Storage]
    #: the ``storages.<scheme>.<bucket>`` config that opens it, where the test needs it
    settings: dict[str, Any] | None = None


def docker_unavailable() -> str | None:
    """Why MinIO-in-Docker tests cannot run here, or None when a Docker engine answers."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    try:
        out = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`docker info` failed: {exc}"
    if out.returncode != 0:
        lines = (out.stderr or out.stdout).strip().splitlines()
        return f"`docker info` failed: {lines[-1] if lines else out.returncode}"
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=15)
    if compose.returncode != 0:
        return "the docker compose plugin is missing (`docker compose version` failed)"
    return None


@pytest.fixture(scope="session")
def minio_docker() -> Iterator[tuple[str, str, str]]:
    """MinIO from docker/docker-compose.yml (endpoint, access key, secret key); skipped without Docker."""
    reason = docker_unavailable()
    if reason:
        pytest.skip(f"MinIO in Docker not tested: {reason}")
    port = free_port()
    env = {**os.environ, "MINIO_PORT": str(port), "COMPOSE_PROJECT_NAME": f"mlgit-test-{port}"}
    compose = ["docker", "compose", "-f", str(COMPOSE)]
    subprocess.run([*compose, "up", "-d", "--wait", "minio"], check=True, env=env, timeout=300)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{endpoint}/minio/health/live", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        yield endpoint, "minioadmin", "minioadmin"
    finally:
        subprocess.run([*compose, "down", "-v"], env=env, timeout=120)


def local_backend(tmp_path: Path) -> Backend:
    root = tmp_path / "bucket"
    root.mkdir()
    return Backend(
        "local", LocalStorage("bucket", root), lambda: LocalStorage("gone", tmp_path / "no-such-folder")
    )


def sftp_backend(bucket: Any) -> Backend:
    """An ``sftpserver.SFTPBucket`` as a backend (a folder on a real sshd)."""
    from mlgit.storage.sftp import SFTPStorage

    settings = bucket.server.settings()
    return Backend(
        "sftph",
        SFTPStorage.from_config(bucket.name, settings),
        lambda: SFTPStorage.from_config(bucket.name + "-missing", settings),
        settings,
    )


def azure_backend(container: Any) -> Backend:
    """An ``azurite.AzureContainer`` as a backend (a container on a real Azurite)."""
    from mlgit.storage.azure import AzureStorage

    conn = container.server.connection_string
    return Backend(
        "azureblobh",
        AzureStorage(container.name, connection_string=conn),
        lambda: AzureStorage(container.name + "-missing", connection_string=conn),
        {},
    )
