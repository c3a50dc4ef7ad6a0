"""pytest plugin: Azurite (Microsoft's Azure Storage emulator, from the npm registry) on loopback for the
Azure tests (``pytest_plugins = ["azurite"]``).

``azurite`` (session) runs ``azurite-blob`` on a free loopback port with a data folder of its own. The
program is found as ``$MLGIT_TEST_AZURITE`` (a path to ``azurite-blob``), on ``PATH``, or in the cache
folder ``$MLGIT_TEST_CACHE/azurite`` (default ``/tmp/mlgit-test-cache/azurite``, never ``$HOME``),
where this fixture installs it with ``npm install azurite@VERSION`` when npm is there. Skipped, with
the reason, where none of that works. ``azure_container`` (per test) is a fresh container, with the
connection string in ``AZURE_STORAGE_CONNECTION_STRING`` as ML-Git reads it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

VERSION = "3.37.0"
#: Azurite's well-known development account (public, in Microsoft's docs): not a secret
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def cache_dir() -> Path:
    return Path(os.environ.get("MLGIT_TEST_CACHE") or "/tmp/mlgit-test-cache") / "azurite"


def find_azurite(install: bool = True) -> tuple[str | None, str]:
    """(path of ``azurite-blob``, or None with the reason)."""
    env = os.environ.get("MLGIT_TEST_AZURITE")
    if env:
        return (env, "") if os.access(env, os.X_OK) else (None, f"MLGIT_TEST_AZURITE={env} is not executable")
    on_path = shutil.which("azurite-blob")
    if on_path:
        return on_path, ""
    folder = cache_dir()
    exe = folder / "node_modules" / ".bin" / "azurite-blob"
    if exe.exists():
        return str(exe), ""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None, "node/npm not installed (Azurite comes from the npm registry: npm install azurite)"
    if not install:
        return None, f"azurite not installed in {folder}"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:  # one install at a time (xdist workers)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not exe.exists():
            out = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder), f"azurite@{VERSION}"],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if out.returncode != 0 or not exe.exists():
                tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or [str(out.returncode)]
                return None, f"npm install azurite@{VERSION} failed: {tail[0]}"
    return str(exe), ""


def connection_string(port: int, key: str = KEY, host: str = "127.0.0.1") -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
        f"BlobEndpoint=http://{host}:{port}/{ACCOUNT};"
    )


@dataclass
class Azurite:
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    def service(self):  # type: ignore[no-untyped-def]
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_azurite(exe: str, folder: Path) -> Azurite:
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(folder),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Azurite(port, folder, proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"azurite-blob exited with {proc.returncode}: {err.strip()[-800:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("azurite-blob did not listen within 60s")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    try:
        import azure.storage.blob  # noqa: F401
    except ImportError:
        pytest.skip("Azure not tested: the azure extra is not installed (pip install 'mlgit[azure]')")
    exe, reason = find_azurite()
    if exe is None:
        pytest.skip(f"Azure not tested: {reason}")
    server = start_azurite(exe, tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class AzureContainer:
    server: Azurite
    name: str

    def names(self) -> set[str]:
        return set(self.server.service().get_container_client(self.name).list_blob_names())


@pytest.fixture
def azure_container(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[AzureContainer]:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-config"))  # never the user's ~/.azure
    name = f"c{uuid.uuid4().hex[:12]}"
    service = azurite.service()
    service.create_container(name)
    yield AzureContainer(azurite, name)
    try:
        service.delete_container(name)
    except Exception:  # noqa: BLE001 - a fault test may have removed it already
        pass
