"""The backends the conformance suite runs over, each a real server or folder."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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


def compose_command() -> tuple[list[str] | None, str]:
    """The Compose v2 client (``docker compose`` or a v2 ``docker-compose``), or None and why not.

    docker/docker-compose.yml uses Compose v2's format (top-level ``name``, ``up --wait``), which
    Compose v1 (``docker-compose`` 1.x) rejects.
    """
    why = "no docker client on PATH"
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) is None:
            continue
        try:
            out = subprocess.run([*cmd, "version", "--short"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = f"`{' '.join(cmd)} version` failed: {exc}"
            continue
        version = out.stdout.strip().lstrip("v")
        if out.returncode == 0 and version[:1].isdigit() and int(version.split(".")[0]) >= 2:
            return cmd, ""
        why = (
            f"`{' '.join(cmd)}` is Compose {version}: the file needs Compose v2"
            if out.returncode == 0
            else f"no Compose v2 client (`{' '.join(cmd)} version` failed)"
        )
    return None, why


def docker_unavailable() -> str | None:
    """Why MinIO-in-Docker tests cannot run here, or None when a Docker engine and Compose v2 answer.

    Checked before pytest-docker's ``docker_services`` is asked for: without an engine it errors
    instead of skipping.
    """
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    try:
        out = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`docker info` failed: {exc}"
    if out.returncode != 0:
        lines = (out.stderr or out.stdout).strip().splitlines()
        return f"no Docker engine answers (`docker info`: {lines[-1] if lines else out.returncode})"
    cmd, why = compose_command()
    return why if cmd is None else None


def _minio_live(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(f"{endpoint}/minio/health/live", timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def minio_docker(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """MinIO from docker/docker-compose.yml through pytest-docker's ``docker_services``
    (endpoint, access key, secret key); skipped, with the reason, where no engine runs."""
    reason = docker_unavailable()
    if reason:
        pytest.skip(f"MinIO in Docker not tested: {reason}")
    services = request.getfixturevalue("docker_services")
    endpoint = f"http://127.0.0.1:{services.port_for('minio', 9000)}"
    services.wait_until_responsive(lambda: _minio_live(endpoint), timeout=60, pause=0.5)
    return endpoint, "minioadmin", "minioadmin"


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
