"""Airflow 3 as users deploy it on several machines, on loopback: the metadata DB on PostgreSQL,
``airflow api-server``, ``scheduler``, ``dag-processor``, ``triggerer``, and the CeleryExecutor with
Redis as broker and two ``airflow celery worker`` processes. Each worker is a "host": its own Celery
hostname, queue, log server port and mlgit workspace root (its own ``AIRFLOW_CONN_MLGIT_DEFAULT``,
as each machine has its own environment). The triggerer is a third host with a workspace of its own.

Only the metadata remotes and the bucket are shared, as on real machines. The tests talk to the
cluster through the REST API only; nothing here imports Airflow.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from dist_helpers import (
    PG_HOST,
    PG_PORT,
    PG_USER,
    REDIS_HOST,
    REDIS_PORT,
    Servers,
    base_env,
    free_port,
    git_env,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "dags_examples"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
LOCAL_SETTINGS = Path(__file__).resolve().parent / "airflow_local_settings.py"
AIRFLOW = [sys.executable, "-m", "airflow"]

#: Celery processes per worker: tasks of several runs at once on one host, each run in its own run
#: folder under the host's workspace root.
WORKER_CONCURRENCY = 2
#: host -> the Celery queues its worker serves. The one-operator-per-step example DAGs pass files
#: through the workspace, so every task of a run must run on one host: ``airflow_local_settings.py``
#: routes them to host_a's queue. Single-task DAGs go to ``default``, served by both.
HOSTS = {"host_a": "host_a,default", "host_b": "host_b,default"}
TERMINAL = {"success", "failed", "upstream_failed", "skipped", "removed"}


def connection_json(workspace: Path, remotes: dict[str, str], bucket: Path) -> str:
    extra: dict[str, Any] = {"workspace": str(workspace)}
    extra.update({f"{et}_remote": url for et, url in remotes.items()})
    extra.update({"storage_type": "local", "bucket": "mlgit-shared", "storage_path": str(bucket)})
    return json.dumps({"conn_type": "mlgit", "extra": extra})


@dataclass
class AirflowCluster:
    base: Path
    database: str
    remotes: dict[str, str]
    bucket: Path
    servers: Servers
    port: int = field(default_factory=free_port)
    redis_db: int = field(default_factory=lambda: secrets.randbelow(15) + 1)
    env: dict[str, str] = field(default_factory=dict)
    workspaces: dict[str, Path] = field(default_factory=dict)
    startup_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(self) -> None:
        home = self.base / "airflow-home"
        (home / "config").mkdir(parents=True, exist_ok=True)
        shutil.copy(LOCAL_SETTINGS, home / "config" / "airflow_local_settings.py")
        bundles = [
            {
                "name": name,
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(path), "refresh_interval": 0},
            }
            for name, path in (("mlgit-examples", EXAMPLES), ("mlgit-dist-tests", TEST_DAGS))
        ]
        db = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}"
        env = base_env()
        env.update(git_env(self.base / "home"))
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
                "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
                # the result backend goes through SQLAlchemy 2.1: the driver must be named
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{db}",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}",
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": f"{self.database}:",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                # a cold api-server answers the first task slowly on a busy machine
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
                "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                # the DAG files do not change during a session: parsed once, not again every 30 s
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__OPENLINEAGE__DISABLED": "True",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_local_settings.host_name",
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env = env

    def host_env(self, host: str) -> dict[str, str]:
        """The environment of one machine: its own workspace root and log server port."""
        workspace = self.base / host / "mlgit"
        self.workspaces[host] = workspace
        env = dict(self.env)
        env["AIRFLOW_CONN_MLGIT_DEFAULT"] = connection_json(workspace, self.remotes, self.bucket)
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        env["MLGIT_TEST_HOST"] = host
        return env

    def start(self) -> None:
        start = time.monotonic()
        self.configure()
        migrate = self.servers.start("db-migrate", [*AIRFLOW, "db", "migrate"], self.env)
        if migrate.proc.wait(timeout=600) != 0:
            raise AssertionError(f"airflow db migrate failed:\n{migrate.tail()}")
        self.servers.started.remove(migrate)
        self.servers.start(
            "api-server",
            [*AIRFLOW, "api-server", "-H", "127.0.0.1", "-p", str(self.port), "-w", "1"],
            self.env,
        )
        self.servers.start("scheduler", [*AIRFLOW, "scheduler"], self.env, wave=1)
        self.servers.start("dag-processor", [*AIRFLOW, "dag-processor"], self.env, wave=1)
        self.servers.start("triggerer", [*AIRFLOW, "triggerer"], self.host_env("triggerer"), wave=1)
        for host, queues in HOSTS.items():
            argv = [
                *AIRFLOW,
                "celery",
                "worker",
                "-H",
                f"{host}@mlgit",
                "-q",
                queues,
                "-c",
                str(WORKER_CONCURRENCY),
            ]
            self.servers.start(f"worker-{host}", argv, self.host_env(host), wave=2)
        wait_for(
            "the api-server",
            lambda: self.get("/api/v2/monitor/health"),
            240,
            interval=0.25,
            alive=self.servers.check_alive,
        )
        self.startup_seconds = time.monotonic() - start

    # -- REST -------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 240) -> None:
        def parsed() -> bool:
            found = {d["dag_id"] for d in self.get("/api/v2/dags", limit=100)["dags"]}
            errors = self.get("/api/v2/importErrors")["import_errors"]
            if errors:
                raise AssertionError(f"DAG import errors: {errors}")
            return set(dag_ids) <= found

        wait_for(f"DAGs {dag_ids} parsed", parsed, timeout, interval=1, alive=self.servers.check_alive)

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> str:
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf or {}}
        return str(self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"))

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100)["dag_runs"])

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        tis = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]
        return {ti["task_id"]: ti for ti in tis}

    def wait_runs(self, runs: list[tuple[str, str]], timeout: float) -> dict[tuple[str, str], float]:
        """Wait until every (dag_id, run_id) is finished; fail with the failed tasks' logs. Returns
        each run's seconds from queued to end, as Airflow recorded them."""

        pending = list(runs)

        def finished() -> bool:  # one request a poll while the first pending run is not finished
            while pending and self.run(*pending[0])["state"] in ("success", "failed"):
                pending.pop(0)
            return not pending

        wait_for(f"runs {runs}", finished, timeout, interval=0.5, alive=self.servers.check_alive)
        failed = []
        for key in runs:
            run = self.run(*key)
            if run["state"] != "success":
                failed.append(self.describe_failure(*key))
        if failed:
            raise AssertionError("\n\n".join(failed))
        return {key: _seconds(self.run(*key)) for key in runs}

    def describe_failure(self, dag_id: str, run_id: str) -> str:
        lines = [f"run {dag_id}/{run_id} did not succeed"]
        for task_id, ti in self.task_instances(dag_id, run_id).items():
            lines.append(f"  {task_id}: {ti['state']} on {ti.get('hostname')}")
            if ti["state"] in ("failed", "up_for_retry"):
                lines.append(self.log(dag_id, run_id, task_id, max(ti["try_number"], 1))[-3000:])
        return "\n".join(lines)

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        try:
            content = self.get(path, full_content=True)["content"]
        except AssertionError as err:
            return str(err)
        return "\n".join(
            str(line.get("event", line)) if isinstance(line, dict) else str(line) for line in content
        )

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.get(path, deserialize=True)["value"]

    def clear(self, dag_id: str, run_id: str, task_ids: list[str]) -> None:
        body = {"dag_run_id": run_id, "task_ids": task_ids, "dry_run": False, "only_failed": False}
        self.request("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", json=body)

    def asset_events(self, uri: str) -> list[dict[str, Any]]:
        """Every Asset event for ``uri``, whichever outlet or alias emitted it."""
        events = self.get("/api/v2/assets/events", limit=100)["asset_events"]
        return [e for e in events if e["uri"] == uri]


def _seconds(run: dict[str, Any]) -> float:
    from datetime import datetime

    start = datetime.fromisoformat(run["queued_at"] or run["start_date"])
    end = datetime.fromisoformat(run["end_date"])
    return round((end - start).total_seconds(), 1)


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
