"""Plumbing of the distributed tests: server processes in their own process groups, a PostgreSQL
database and a Redis db number per test session, free ports, polling.

Nothing here imports Airflow or Prefect: the servers and workers run as separate processes, as
they do on real hosts, and the tests talk to them over HTTP only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

PG_HOST = os.environ.get("MLGIT_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("MLGIT_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("MLGIT_TEST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("MLGIT_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("MLGIT_TEST_REDIS_PORT", "6379"))

T = TypeVar("T")


def reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git_env(home: Path) -> dict[str, str]:
    """A git identity and a HOME of the test's own: the servers never read or write the real $HOME."""
    gitconfig = home / "gitconfig"
    gitconfig.parent.mkdir(parents=True, exist_ok=True)
    gitconfig.write_text("[init]\n\tdefaultBranch = master\n")
    env = {
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"] = "mlgit distributed tests"
        env[f"GIT_{role}_EMAIL"] = "tests@mlgit.invalid"
    return env


def base_env() -> dict[str, str]:
    """The parent's environment minus what would point a server at another test's state."""
    drop = ("AIRFLOW", "PREFECT_", "GIT_", "MLGIT_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh database ``<prefix>_<random>`` on the test PostgreSQL, dropped at the end."""
    import psycopg2

    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def require_services(*services: tuple[str, str, int]) -> None:
    missing = [f"{what} at {host}:{port}" for what, host, port in services if not reachable(host, port)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (the distributed tests use real servers)")


def session_pids(sid: int) -> list[int]:
    """Every live process of session ``sid`` (each server starts its own session)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:  # state, ppid, pgrp, session
            pids.append(int(entry.name))
    return pids


def _default_sigint() -> None:
    """Children get SIGINT at its default even when this process inherited it ignored (a background
    job of a non-interactive shell does). Prefect's worker turns SIGTERM into a SIGINT to itself:
    with SIGINT ignored it would not stop before a second SIGTERM (its SIGKILL)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Server:
    """One long-running process (and its children) started in a session of its own."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    wave: int = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def terminate(self) -> None:
        """SIGTERM to the whole process group."""
        if session_pids(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def kill(self) -> None:
        for pid in session_pids(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


@dataclass
class Servers:
    """The processes a test session started; ``stop_all`` ends them and reports any leftover."""

    logs: Path
    started: list[Server] = field(default_factory=list)
    stop_seconds: dict[str, float] = field(default_factory=dict)

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None, wave: int = 0
    ) -> Server:
        """Start ``argv`` in a session of its own; a higher ``wave`` is stopped first."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_default_sigint,
            )
        server = Server(name, proc, log, wave)
        self.started.append(server)
        return server

    def check_alive(self) -> None:
        dead = [s for s in self.started if not s.alive()]
        if dead:
            report = "\n\n".join(f"--- {s.name} exited {s.proc.returncode}:\n{s.tail()}" for s in dead)
            raise AssertionError(f"server processes died:\n{report}")

    def stop_all(self, grace: float = 30.0) -> list[int]:
        """Stop in waves, the last started first (workers before the servers they report to, which
        they flush to on their way out): SIGTERM to every group of a wave at once, SIGKILL to what
        is left after ``grace`` seconds. Records the seconds each group took to go away; returns
        the pids still alive afterwards (should be none)."""
        for wave in sorted({s.wave for s in self.started}, reverse=True):
            start = time.monotonic()
            pending = [s for s in self.started if s.wave == wave]
            for server in pending:
                server.terminate()
            while pending and time.monotonic() - start < grace:
                for server in [s for s in pending if not session_pids(s.proc.pid)]:
                    self.stop_seconds[server.name] = round(time.monotonic() - start, 1)
                    pending.remove(server)
                time.sleep(0.1)
            for server in pending:
                self.stop_seconds[server.name] = round(time.monotonic() - start, 1)
                server.kill()
        for server in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.proc.wait(timeout=5)
        return [pid for s in self.started for pid in session_pids(s.proc.pid)]


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    interval: float = 1.0,
    alive: Callable[[], None] | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        if alive is not None:
            alive()
        try:
            last = probe()
        except Exception as err:  # a server still starting refuses connections: keep polling
            last = err
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)
