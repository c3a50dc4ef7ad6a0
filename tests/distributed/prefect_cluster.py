"""Prefect 3 as users deploy it on several machines, on loopback: ``prefect server start`` on
PostgreSQL (asyncpg), a ``process`` work pool, deployments of the example flows, and two
``prefect worker start`` processes, each a "host" with its own working directory and home (the
``mlgit`` block's ``~/mlgit`` workspace resolves in it).

Flow results are persisted as JSON to a folder both hosts share (``PREFECT_LOCAL_STORAGE_PATH``):
that is how a result, and the tag + sha in it, reaches another host. The tests talk to the server
over HTTP only; nothing here imports Prefect.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from dist_helpers import PG_HOST, PG_PORT, PG_USER, Servers, base_env, free_port, git_env, wait_for

HERE = Path(__file__).resolve().parent
PREFECT = [sys.executable, "-m", "prefect"]
POOL = "mlgit-pool"
HOSTS = ("host-a", "host-b")
#: flow runs a worker runs at once (None: Prefect's default, no --limit): each flow run works in its
#: own run folder under the host's workspace root.
WORKER_LIMIT: int | None = None
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class PrefectCluster:
    base: Path
    database: str
    remotes: dict[str, str]
    bucket: Path
    servers: Servers
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    deployments: dict[str, str] = field(default_factory=dict)
    homes: dict[str, Path] = field(default_factory=dict)
    startup_seconds: float = 0.0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def configure(self) -> None:
        home = self.base / "prefect-home"
        env = base_env()
        env.update(git_env(self.base / "home"))
        env.update(
            {
                "PREFECT_HOME": str(home),
                "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
                "PREFECT_API_URL": self.api,
                "PREFECT_API_DATABASE_CONNECTION_URL": (
                    f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}"
                ),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_UI_ENABLED": "false",
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
                "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
                "PREFECT_RESULTS_DEFAULT_SERIALIZER": "json",
                "PREFECT_LOCAL_STORAGE_PATH": str(self.base / "shared-results"),
                "PREFECT_WORKER_QUERY_SECONDS": "1",
                "PREFECT_WORKER_PREFETCH_SECONDS": "5",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env = env

    def start(self, sample: Path) -> None:
        """The server; then the pool as a user makes it (``prefect work-pool create --type process``) with a
        work queue per host; then, at once, the workers and the deployments. Each worker polls its own queue
        and the pool's default one: a run sent to a host's queue runs on that host (the queues exist before
        any worker starts: a worker that asks for a queue not there yet never polls)."""
        start = time.monotonic()
        self.configure()
        argv = [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port), "--no-ui"]
        self.servers.start("prefect-server", argv, self.env)
        wait_for(
            "the Prefect server",
            lambda: self.get("/health") is True,
            240,
            interval=0.25,
            alive=self.servers.check_alive,
        )
        made = subprocess.run(
            [*PREFECT, "work-pool", "create", POOL, "--type", "process"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if made.returncode != 0 or not self._pool_exists():
            raise AssertionError(f"creating the work pool failed:\n{made.stdout}\n{made.stderr}")
        for host in HOSTS:
            self.request("POST", f"/work_pools/{POOL}/queues", json={"name": host})
        for host in HOSTS:
            self.start_worker(host)
        settings = self.base / "deploy.json"
        settings.write_text(
            json.dumps(
                {
                    "remotes": self.remotes,
                    "storage_path": str(self.bucket.parent),
                    "pool": POOL,
                    "sample": str(sample),
                }
            )
        )
        out = subprocess.run(
            [sys.executable, str(HERE / "prefect_deploy.py"), str(settings)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if out.returncode != 0:
            raise AssertionError(f"deploying the flows failed:\n{out.stdout}\n{out.stderr}")
        self.deployments = json.loads(out.stdout.strip().splitlines()[-1])
        self.startup_seconds = time.monotonic() - start

    def start_worker(self, host: str) -> None:
        workdir = self.base / host
        workdir.mkdir(parents=True, exist_ok=True)
        env = dict(self.env)
        env.update(git_env(workdir / "home"))
        self.homes[host] = workdir / "home"
        argv = [*PREFECT, "worker", "start", "--pool", POOL, "--name", host, "--type", "process"]
        argv += ["--work-queue", host, "--work-queue", "default"]  # its own runs, and any host's
        if WORKER_LIMIT is not None:
            argv += ["--limit", str(WORKER_LIMIT)]
        self.servers.start(f"worker-{host}", argv, env, cwd=workdir, wave=1)

    def _pool_exists(self) -> bool:
        response = httpx.get(f"{self.api}/work_pools/{POOL}", timeout=60)
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return response.json()["type"] == "process"

    # -- REST -------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.api}{path}", timeout=60, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def run_deployment(self, key: str, parameters: dict[str, Any] | None = None, host: str | None = None) -> str:
        """A flow run of deployment ``key``, on ``host`` (its queue), or on whichever host polls first."""
        body: dict[str, Any] = {"parameters": parameters or {}}
        if host is not None:
            body["work_queue_name"] = host
        return str(
            self.request("POST", f"/deployments/{self.deployments[key]}/create_flow_run", json=body)["id"]
        )

    def flow_run(self, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/flow_runs/{run_id}"))

    def flow_runs_of(self, key: str) -> list[dict[str, Any]]:
        body = {"deployments": {"id": {"any_": [self.deployments[key]]}}}
        return list(self.request("POST", "/flow_runs/filter", json=body))

    def wait_runs(self, run_ids: list[str], timeout: float) -> dict[str, float]:
        """Wait until every flow run is final; fail with the failed runs' logs. Returns each run's
        seconds from creation to end."""

        pending = list(run_ids)

        def finished() -> bool:  # one request a poll while the first pending run is not final
            while pending and self.flow_run(pending[0])["state_type"] in FINAL:
                pending.pop(0)
            return not pending

        wait_for(f"flow runs {run_ids}", finished, timeout, interval=0.5, alive=self.servers.check_alive)
        failed = [self.describe_failure(r) for r in run_ids if self.flow_run(r)["state_type"] != "COMPLETED"]
        if failed:
            raise AssertionError("\n\n".join(failed))
        out = {}
        for r in run_ids:
            run = self.flow_run(r)
            out[r] = round(_ts(run["end_time"]) - _ts(run["created"]), 1)
        return out

    def describe_failure(self, run_id: str) -> str:
        run = self.flow_run(run_id)
        logs = self.request(
            "POST", "/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200}
        )
        text = "\n".join(f"  {entry['message']}" for entry in logs)[-4000:]
        return f"flow run {run['name']} ({run_id}): {run['state_type']} {run['state_name']}\n{text}"

    def result(self, run_id: str) -> Any:
        """A flow run's return value, read from the persisted result the run wrote (shared storage)."""
        data = self.flow_run(run_id)["state"]["data"]
        path = Path(self.env["PREFECT_LOCAL_STORAGE_PATH"]) / data["storage_key"]
        return json.loads(path.read_text())  # the JSON serializer writes the value alone

    def events(self, event: str, resource_id: str) -> list[dict[str, Any]]:
        body = {
            "filter": {
                "event": {"name": [event]},
                "resource": {"id": [resource_id]},
                "occurred": {"since": "2000-01-01T00:00:00Z"},
            },
            "limit": 50,
        }
        return list(self.request("POST", "/events/filter", json=body)["events"])


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
