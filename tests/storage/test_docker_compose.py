"""docker/docker-compose.yml is a valid Compose v2 file (``config`` needs a client, no engine)."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from backends import COMPOSE, compose_command


def test_compose_file_is_valid_and_serves_minio_on_loopback() -> None:
    cmd, why = compose_command()
    if cmd is None:
        pytest.skip(f"`docker compose -f docker/docker-compose.yml config` not checked: {why}")
    out = subprocess.run(
        [*cmd, "-f", str(COMPOSE), "config", "--format", "yaml"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout)
    minio = config["services"]["minio"]
    assert {"minio", "init-buckets", "init-git", "airflow", "prefect"} <= set(config["services"])
    assert all(p.get("host_ip") == "127.0.0.1" for p in minio["ports"]), minio["ports"]
    assert any(p["target"] == 9000 for p in minio["ports"])
