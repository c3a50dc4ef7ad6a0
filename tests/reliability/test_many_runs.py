"""Done-when of "many runs at once on one worker": real processes run full pipelines at once through
both integrations on ONE per-host workspace root, while another workspace keeps pushing new dataset
versions. Three Airflow DAG runs (``dag.test()``, each process with its own SQLite database) and three
Prefect flow runs (each process against one ``prefect server start`` process) each: check out the
dataset by name, create-or-reuse the model, train (the model records a digest of exactly the files
it read), add, commit (auto_bump) and push (auto_bump). Afterwards, from a fresh workspace: every
reported version exists exactly once; each model's bytes match the dataset version its lineage
names; each run's result, event and artifacts describe its own version; "latest" was the remote's
newest version when the run started."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers import make_project, write
from reliability_helpers import remote_tags

from mlgit import Repository

HERE = Path(__file__).resolve().parent / "pipelines"
sys.path.insert(0, str(HERE))
from pipeline_common import DATASET, MODEL, digest_of  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (importlib.util.find_spec("airflow") and importlib.util.find_spec("prefect")),
    reason="needs the airflow and prefect extras",
)
AIRFLOW_RUNS = PREFECT_RUNS = 3


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _report(proc: subprocess.Popen[str], what: str, timeout: float = 900) -> Any:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, f"{what} exited {proc.returncode}:\n{out[-3000:]}\n{err[-5000:]}"
    return json.loads(lines[-1][len("REPORT ") :])


def _airflow_env(home: Path, conn: dict[str, Any]) -> dict[str, str]:
    bundles = [
        {
            "name": "mlgit-runs",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(HERE / "dags"), "refresh_interval": 0},
        }
    ]
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        "AIRFLOW__OPENLINEAGE__DISABLED": "true",
        "AIRFLOW_CONN_MLGIT_DEFAULT": json.dumps(conn),
    }


def _start(script: str, job: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / script), json.dumps(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **job.get("env", {})},
    )


@pytest.mark.timeout(1500)
def test_pipelines_of_both_integrations_at_once_on_one_host_root(
    tmp_path: Path, remotes: dict[str, str], airflow_template_db: Path
) -> None:
    bucket = tmp_path / "bucket"
    publisher = make_project(tmp_path / "publisher", remotes, bucket).repo
    path = publisher.create("datasets", DATASET, "runs", "strict", "local", "bucket")
    write(path / "shard-000.csv", b"0,0,0\n" * 200)
    publisher.add("datasets", DATASET)
    publisher.commit("datasets", DATASET)
    first = publisher.push("datasets", DATASET)
    published = [{"tag": first.tag, "sha": first.sha, "version": 1, "at": time.time()}]
    root = tmp_path / "host"  # the ONE per-host workspace root of both integrations

    # Airflow: one migrated database, copied for each process
    conn = {
        "conn_type": "mlgit",
        "extra": {
            "workspace": str(root),
            "storage_type": "local",
            "bucket": "bucket",
            "storage_path": str(bucket),
            **{f"{et}_remote": url for et, url in remotes.items()},
        },
    }
    template = airflow_template_db  # migrated once per test session (tests/conftest.py)
    # Prefect: a server in its own process
    port = _port()
    prefect_env = {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "mlgit",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ui",
        ],
        env={**os.environ, **prefect_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs: list[tuple[str, subprocess.Popen[str]]] = []
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "prefect server did not start"
                time.sleep(0.25)
        pub = _start("publisher.py", {"root": str(publisher.root), "first": 1, "versions": 4, "pause": 2.0})
        for i in range(max(AIRFLOW_RUNS, PREFECT_RUNS)):
            if i < AIRFLOW_RUNS:
                home = tmp_path / f"airflow-{i}"
                home.mkdir()
                shutil.copy(template, home / "airflow.db")
                procs.append(
                    (
                        f"airflow {i}",
                        _start(
                            "airflow_run.py",
                            {
                                "env": _airflow_env(home, conn),
                                "logical_ts": 1_720_000_000 + i,
                                "model": MODEL,
                                "started": time.time(),
                            },
                        ),
                    )
                )
            if i < PREFECT_RUNS:
                procs.append(
                    (
                        f"prefect {i}",
                        _start(
                            "prefect_run.py",
                            {
                                "env": prefect_env,
                                "root": str(root),
                                "storage_path": str(tmp_path),
                                "remotes": remotes,
                                "started": time.time(),
                            },
                        ),
                    )
                )
            time.sleep(3)  # runs start while versions land
        published += _report(pub, "publisher")
        reports = [_report(p, what) for what, p in procs]
    finally:
        for _, p in procs:
            if p.poll() is None:
                p.kill()
        server.terminate()
        server.wait(timeout=60)

    (tmp_path / "reports.json").write_text(json.dumps(reports, indent=1, default=str))
    # every run succeeded, in its own run folder under the one root
    assert all(r["state"].endswith("success") for r in reports), [(r["run_id"], r["state"]) for r in reports]
    folders = {str(Path(r["checkout"]["path"]).parents[1]) for r in reports}
    assert len(folders) == len(reports) and all(f.startswith(str(root / "runs")) for f in folders)

    # every reported version exists exactly once, under the sha the run reported
    models = remote_tags(remotes["models"])
    pushed = [r["push"]["tag"] for r in reports]
    assert sorted(pushed) == sorted(models) and len(set(pushed)) == len(reports), (pushed, models)
    assert all(models[r["push"]["tag"]] == r["push"]["sha"] for r in reports)
    datasets = remote_tags(remotes["datasets"])
    assert sorted(p["tag"] for p in published) == sorted(datasets)

    verifier = make_project(tmp_path / "verifier", remotes, bucket).repo
    for r in reports:
        tag = r["push"]["tag"]
        got = verifier.checkout("models", tag, force=True)
        model = json.loads((Path(got.path) / "model.json").read_text())
        # the version describes this run: its model, its lineage, the dataset it checked out
        assert model["run"] == r["run_id"] and model == r["fit"], (tag, model, r["fit"])
        lineage = verifier.lineage("models", tag).root.dataset
        assert lineage is not None and lineage.tag == model["dataset"] == r["checkout"]["tag"]
        assert lineage.sha == datasets[lineage.tag]
        data = verifier.checkout("datasets", lineage.tag, force=True)
        assert digest_of(Path(data.path)) == model["digest"], f"{tag} was not trained on {lineage.tag}"
        assert r["commit"]["dropped"] == [] and r["push"]["created"] is True
        # "latest": the remote's newest version when the run started, or a newer one
        before = max(p["version"] for p in published if p["at"] < r["started"])
        assert r["checkout"]["version"] >= before, (r["run_id"], r["checkout"]["tag"], before)
        # the run's event / artifacts describe its own version, once
        if r["kind"] == "airflow":
            assert [e["tag"] for e in r["events"]] == [tag], r["events"]
        else:
            table = [a for a in r["artifacts"] if a["key"] == f"mlgit-push-models-{MODEL}"]
            rows = [
                row
                for a in table
                for row in (json.loads(a["data"]) if isinstance(a["data"], str) else a["data"])
            ]
            assert [row["tag"] for row in rows] == [tag], rows
            assert any(a["key"] == f"mlgit-checkout-datasets-{DATASET}" for a in r["artifacts"])
    # later runs extended the model instead of starting from an empty folder
    assert any(r["create"]["checked_out"] for r in reports)
    assert Repository(verifier.root).tags("models", MODEL, fetch=True) == sorted(
        models, key=lambda t: int(t.rsplit("__", 1)[1])
    )
