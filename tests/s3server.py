"""pytest plugin: a real S3 server on loopback for the tests (``pytest_plugins = ["s3server"]``).

``s3_server`` (session) is a ``moto_server`` started in this process on a free loopback port, or
the real S3/MinIO named by ``MLGIT_TEST_S3_ENDPOINT`` + ``MLGIT_TEST_S3_ACCESS_KEY`` +
``MLGIT_TEST_S3_SECRET_KEY``. ``s3_bucket`` (per test) resets moto, creates a fresh bucket and points
the AWS environment (and a profile ``mlgit``) at it, in temporary files: ``$HOME`` is never read
or written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ENV_ENDPOINT = "MLGIT_TEST_S3_ENDPOINT"
ENV_ACCESS = "MLGIT_TEST_S3_ACCESS_KEY"
ENV_SECRET = "MLGIT_TEST_S3_SECRET_KEY"
ENV_REGION = "MLGIT_TEST_S3_REGION"
PROFILE = "mlgit"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    moto: bool = True

    def post(self, path: str, body: bytes = b"") -> bytes:
        """POST to moto's control API (``/moto-api/reset``, ``/moto-api/reset-auth``)."""
        req = urllib.request.Request(
            self.endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return bytes(resp.read())

    def client(self, access_key: str | None = None, secret_key: str | None = None) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session(
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=self.region,
        ).client("s3", endpoint_url=self.endpoint, config=Config(s3={"addressing_style": "path"}))


@dataclass(frozen=True)
class S3Bucket:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str
    server: S3Server

    def settings(self, profile: str | None = PROFILE) -> dict[str, Any]:
        """The ``storages.s3h.BUCKET`` entry of ``.ml-git/config.yaml`` for this bucket."""
        return s3_settings(self.endpoint, self.region, profile)

    def credentials(self) -> dict[str, str]:
        return {"aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key}

    def client(self) -> Any:
        return self.server.client()


def s3_settings(endpoint: str, region: str = "us-east-1", profile: str | None = PROFILE) -> dict[str, Any]:
    """A config entry as ``ml-git repository storage add BUCKET --endpoint-url=...`` writes it."""
    return {"aws-credentials": {"profile": profile}, "region": region, "endpoint-url": endpoint}


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    endpoint = os.environ.get(ENV_ENDPOINT)
    if endpoint:
        access, secret = os.environ.get(ENV_ACCESS), os.environ.get(ENV_SECRET)
        if not access or not secret:
            pytest.fail(f"{ENV_ENDPOINT} is set: set {ENV_ACCESS} and {ENV_SECRET} too")
        yield S3Server(endpoint.rstrip("/"), access, secret, os.environ.get(ENV_REGION, "us-east-1"), moto=False)
        return
    from moto.server import ThreadedMotoServer

    # werkzeug logs one line per request to stderr: thousands per test, burying failures
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}", "testing-access-key", "testing-secret-key")
    finally:
        server.stop()
        werkzeug.setLevel(level)


def point_aws_env_at(monkeypatch: pytest.MonkeyPatch, tmp: Path, server: S3Server) -> None:
    """Environment credentials plus a profile ``mlgit``, all in temporary files."""
    tmp.mkdir(parents=True, exist_ok=True)
    creds = tmp / "credentials"
    conf = tmp / "config"
    body = f"aws_access_key_id = {server.access_key}\naws_secret_access_key = {server.secret_key}\n"
    creds.write_text(f"[default]\n{body}\n[{PROFILE}]\n{body}")
    conf.write_text(f"[default]\nregion = {server.region}\n\n[profile {PROFILE}]\nregion = {server.region}\n")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(conf))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", server.region)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def free_port() -> int:
    """A loopback port nobody listens on (bound, then closed again at once): an endpoint that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_bucket(server: S3Server, prefix: str = "mlgit-test") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    server.client().create_bucket(Bucket=name)
    return name


def drop_bucket(server: S3Server, name: str) -> None:
    """Empty and remove a bucket on a real server (moto is reset instead)."""
    client = server.client()
    with contextlib.suppress(Exception):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys})
        client.delete_bucket(Bucket=name)


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[S3Bucket]:
    if s3_server.moto:
        s3_server.post("/moto-api/reset-auth", b"inf")  # a test may have switched authentication on
        s3_server.post("/moto-api/reset")
    point_aws_env_at(monkeypatch, tmp_path / "aws", s3_server)
    name = make_bucket(s3_server)
    try:
        yield S3Bucket(s3_server.endpoint, name, s3_server.access_key, s3_server.secret_key, s3_server.region, s3_server)
    finally:
        if s3_server.moto:
            s3_server.post("/moto-api/reset-auth", b"inf")
        else:
            drop_bucket(s3_server, name)


@contextlib.contextmanager
def moto_authentication(server: S3Server) -> Iterator[None]:
    """Make moto check signatures (it accepts any key otherwise): every key is then unknown to it."""
    if not server.moto:
        yield
        return
    server.post("/moto-api/reset-auth", b"0")
    try:
        yield
    finally:
        server.post("/moto-api/reset-auth", b"inf")
