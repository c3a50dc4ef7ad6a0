"""pytest plugin: a real OpenSSH server on loopback for the SFTP tests (``pytest_plugins = ["sftpserver"]``).

``sftp_server`` (session) runs Debian's ``sshd -D -f <own config>`` on a free loopback port with a host
key and a user key generated here; its SFTP sessions start in a folder of the test's own (``root``), so
a storage's folder is a plain subfolder of it and ``$HOME`` is never touched. ``sftp_bucket`` (per
test) is a fresh folder there. Skipped, with the reason, where ``sshd`` is not installed
(``apt-get install openssh-server``).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


def sshd_unavailable() -> str | None:
    """Why an OpenSSH server cannot run here, or None."""
    if _sshd() is None:
        return "sshd is not installed (apt-get install openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is not installed (apt-get install openssh-client)"
    return None


def _sshd() -> str | None:
    for c in SSHD_CANDIDATES:
        if os.access(c, os.X_OK):
            return c
    return shutil.which("sshd")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path, kind: str = "ed25519") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    return path


@dataclass
class SFTPServer:
    host: str
    port: int
    username: str
    private_key: Path  # authorized
    known_hosts: Path  # holds the server's host key
    root: Path  # where SFTP sessions start: storage folders live here
    process: subprocess.Popen[bytes] | None = None
    config: Path | None = None

    def settings(self, **extra: Any) -> dict[str, Any]:
        """ML-Git's ``storages.sftph.FOLDER`` keys for this server (+ ours in ``extra``)."""
        return {
            "endpoint-url": self.host,
            "username": self.username,
            "private-key": str(self.private_key),
            "port": self.port,
            "known-hosts": str(self.known_hosts),
            **extra,
        }

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def start(self) -> None:
        assert self.config is not None
        sshd = _sshd()
        assert sshd is not None
        self.process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"sshd exited with {self.process.returncode}: {err.strip()[-800:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                    if s.recv(4).startswith(b"SSH"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("sshd did not answer within 15s")


def start_sshd(base: Path) -> SFTPServer:
    """An sshd of the test's own under ``base``: host key, authorized user key, SFTP root folder."""
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    host_key = keygen(base / "host_ed25519")
    user_key = keygen(base / "user_ed25519")
    (base / "authorized_keys").write_text((base / "user_ed25519.pub").read_text())
    os.chmod(base / "authorized_keys", 0o600)
    root = base / "root"
    root.mkdir()
    port = _free_port()
    host = "127.0.0.1"
    pub = (base / "host_ed25519.pub").read_text().split()
    known = base / "known_hosts"
    known.write_text(f"[{host}]:{port} {pub[0]} {pub[1]}\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation folder, as root only
    config = base / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"ListenAddress {host}:{port}",
                f"HostKey {host_key}",
                f"PidFile {base / 'sshd.pid'}",
                f"AuthorizedKeysFile {base / 'authorized_keys'}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "LogLevel ERROR",
                f"Subsystem sftp internal-sftp -d {root}",
                "",
            ]
        )
    )
    server = SFTPServer(host, port, getpass.getuser(), user_key, known, root, config=config)
    server.start()
    return server


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SFTPServer]:
    reason = sshd_unavailable()
    if reason:
        pytest.skip(f"SFTP not tested: {reason}")
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class SFTPBucket:
    server: SFTPServer
    name: str

    @property
    def path(self) -> Path:
        return self.server.root / self.name


@pytest.fixture
def sftp_bucket(sftp_server: SFTPServer) -> Iterator[SFTPBucket]:
    if sftp_server.process is None or sftp_server.process.poll() is not None:
        sftp_server.start()  # a fault test stopped it
    bucket = SFTPBucket(sftp_server, f"bucket-{uuid.uuid4().hex[:10]}")
    bucket.path.mkdir()
    yield bucket
    shutil.rmtree(bucket.path, ignore_errors=True)
