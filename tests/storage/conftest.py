"""pytest-docker's settings for the MinIO-in-Docker backend: the project's compose file, MinIO alone,
on a free loopback port, under a project name of its own (parallel runs never share containers)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from backends import COMPOSE, compose_command
from s3server import free_port


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
