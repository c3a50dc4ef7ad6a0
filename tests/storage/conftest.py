"""pytest-docker's settings for the MinIO-in-Docker backend: the project's compose file, MinIO alone,
on a free loopback port, under a project name of its own (parallel runs never share containers)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from backends import COMPOSE, compose_command
from s3server import S3_SERVERS, MotoProcess, SeaweedFS, free_port, point_aws_env_at, start_server


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(COMPOSE)


@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    cmd, _ = compose_command()
    return " ".join(cmd or ["docker", "compose"])


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"mlgit-test-{os.getpid()}"


@pytest.fixture(scope="session")
def docker_setup() -> Iterator[list[str]]:
    """Only the MinIO service (the file also holds Airflow and Prefect), published on a free port."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINIO_PORT", str(free_port()))
        mp.setenv("MINIO_CONSOLE_PORT", str(free_port()))
        yield ["up -d --wait minio"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down -v"]


@pytest.fixture
def gets(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(path, thread name) of every GetObject our HTTP plane signs from now on: the stream and the
    thread pool alike build each request's head with ``HttpData.head_of``."""
    import threading

    from mlgit.storage.s3_http import HttpData

    seen: list[tuple[str, str]] = []
    real = HttpData.head_of

    def counted(self: HttpData, op: str, method: str, path: str, *args: object) -> bytes:
        if op == "GetObject":
            seen.append((path, threading.current_thread().name))
        return real(self, op, method, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(HttpData, "head_of", counted)
    return seen


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
