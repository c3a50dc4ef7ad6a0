"""Every operator and the sensor, run for real with dag.test(): templating, metrics, fsck, the
AssetAlias push, clear failures, safe retries, two workers, and the deferrable sensor."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from airflow_dagrun import load_dag, run_dag
from airflow_helpers import TEST_DAGS, connection_json, run_folder, workspace
from test_airflow_examples import asset_events, commit_message

from mlgit import Repository


def publish(
    repo: Repository, conn: dict[str, Any], name: str, files: dict[str, str], bump: bool = False
) -> str:
    """Create (first time) / write / add / commit / push a dataset; returns its tag."""
    try:
        root = repo.entity_path("datasets", name)
    except Exception:
        root = repo.create(
            "datasets", name, categories="ops", storage_type="local", bucket=conn["storage"]["bucket"]
        )
    for rel, text in files.items():
        (root / rel).write_text(text)
    repo.add("datasets", name, bumpversion=bump)
    tag = repo.commit("datasets", name).tag
    repo.push("datasets", name)
    assert tag is not None
    return tag


def remote_tags(remote: str) -> list[str]:
    out = subprocess.run(["git", "-C", remote, "tag", "-l"], capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


def test_templated_operators_metrics_file_alias_push_fsck_and_clear_failures(
    airflow_db: Path, mlgit_conn: dict[str, Any], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run = run_dag(
        load_dag("mlgit_ops_model", TEST_DAGS),
        conf={"model": "ops-model-7", "note": "templated"},
        capfd=capfd,
    )
    states = run.task_states
    for task_id in ("create", "write", "add", "commit", "push", "fsck"):
        assert states[task_id] == "success", (task_id, states)

    tag = "ops__tests__ops-model-7__1"
    assert run.xcom("create") == {
        "entity_type": "models",
        "name": "ops-model-7",
        "path": str(run_folder(mlgit_conn["workspace"], run.dag_id, run.run_id) / "models" / "ops-model-7"),
        "version": 1,
        "storage": "local://mlgit-local",
        "created": True,
        "checked_out": None,
    }
    add = run.xcom("add")
    assert add["metrics"] == {"accuracy": 0.91, "f1": 0.875} and add["files"] == 1 and add["size"] == 256 * 64
    commit = run.xcom("commit")
    assert commit["tag"] == tag and commit["metrics"] == {"accuracy": 0.91, "f1": 0.875}
    assert commit_message(mlgit_conn["remotes"]["models"], tag).startswith(f"templated ({run.run_id})")
    push = run.xcom("push")
    assert (push["tag"], push["sha"], push["uploaded"] > 0) == (tag, commit["sha"], True)
    # the name was templated: the event went through the "mlgit" AssetAlias to the concrete asset
    assert asset_events("mlgit://models/ops-model-7")[-1] == {
        "tag": tag,
        "sha": commit["sha"],
        "version": 1,
        "metrics": {"accuracy": 0.91, "f1": 0.875},
    }
    fsck = run.xcom("fsck")
    assert fsck["entity_type"] == "models" and fsck["objects_checked"] > 0
    assert (fsck["corrupted"], fsck["fixed"], fsck["unfixable"]) == (0, [], [])

    # failures: failed at the first try (retries=2 would not help), each with its message
    expected = {
        "unknown_entity": "EntityNotFound: datasets entity 'no-such-dataset'",
        "bad_tag": "TagNotFound: datasets: no version matches 'ops__no-such-dataset__7'",
        "missing_connection": "The conn_id `mlgit_missing` isn't defined",
        "bad_entity_type": "unknown entity type 'images'; expected one of ['datasets', 'labels', 'models']",
    }
    for task_id, message in expected.items():
        assert states[task_id] == "failed", (task_id, states)
        assert run.try_numbers[task_id] == 1, task_id
        assert message in run.log_text, task_id


def test_fsck_repairs_a_corrupted_object_and_reports_it(airflow_db: Path, mlgit_conn: dict[str, Any]) -> None:
    from mlgit import Repository, runs

    ws = workspace(mlgit_conn["workspace"].parent / "seed", mlgit_conn)
    publish(ws, mlgit_conn, "fsck-me", {"a.txt": "alpha\n" * 100, "b.txt": "beta\n" * 100})
    # an earlier run on this worker left the objects in the host's shared store
    earlier = runs.prepare(mlgit_conn["workspace"], "earlier-run", mlgit_conn["remotes"]).path
    storage = mlgit_conn["storage"]
    Repository(earlier).storage_add(storage["bucket"], type="local", path=storage["storage_path"])
    Repository(earlier).checkout("datasets", "fsck-me")
    hashfs = mlgit_conn["workspace"] / "objects" / "datasets"
    victim = sorted(p for p in hashfs.rglob("*") if p.is_file())[0]
    victim.chmod(0o644)
    victim.write_bytes(b"bit rot")
    run = run_dag(load_dag("mlgit_ops_fsck", TEST_DAGS))
    assert run.state == "success", run.task_states
    result = run.xcom("fsck")
    assert result["corrupted_objects"] == [victim.name]
    assert result["fixed"] == [victim.name] and result["unfixable"] == [] and result["corrupted"] == 1
    assert victim.read_bytes() != b"bit rot"
    assert Repository(earlier).fsck("datasets").total == 0


def test_retried_commit_and_push_finish_without_duplicate_or_loss(
    airflow_db: Path, mlgit_conn: dict[str, Any], tmp_path: Path
) -> None:
    run = run_dag(load_dag("mlgit_ops_retry", TEST_DAGS))
    assert run.state == "success", run.task_states
    assert run.try_numbers["commit"] == 2 and run.try_numbers["push"] == 2
    tag = "ops__retried__1"
    assert run.xcom("commit")["tag"] == tag and run.xcom("commit")["created"] is False
    assert run.xcom("push")["tag"] == tag
    assert remote_tags(mlgit_conn["remotes"]["datasets"]) == [tag]
    # the crashed first push sent no event (the task failed); the retry sends the one event
    assert [e["tag"] for e in asset_events("mlgit://datasets/retried")] == [tag]
    # the DAG again (a rerun): the same files make the same version, no new version, no second event
    again = run_dag(load_dag("mlgit_ops_retry", TEST_DAGS))
    assert again.state == "success", again.task_states
    assert again.xcom("create")["checked_out"] == tag  # the run folder starts from the latest version
    assert (again.xcom("commit")["tag"], again.xcom("commit")["created"]) == (tag, False)
    assert (again.xcom("push")["tag"], again.xcom("push")["created"]) == (tag, False)
    assert remote_tags(mlgit_conn["remotes"]["datasets"]) == [tag]
    assert [e["tag"] for e in asset_events("mlgit://datasets/retried")] == [tag]
    assert "Airflow-Try-Number: 1" in commit_message(mlgit_conn["remotes"]["datasets"], tag)
    # nothing lost: another worker gets every file back, verified
    other = workspace(tmp_path / "other", mlgit_conn)
    got = other.checkout("datasets", tag)
    assert got.files == 3
    assert (Path(got.path) / "part-2.txt").read_text() == "part 2\n" * 1000
    assert other.fsck("datasets").total == 0


def test_producer_and_consumer_on_two_workspaces_link_through_xcom(
    airflow_db: Path, mlgit_conn: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = workspace(tmp_path / "seed", mlgit_conn)
    tag = publish(seed, mlgit_conn, "shared-data", {"one.txt": "1\n", "two.txt": "2\n"})
    a, b = tmp_path / "worker-a", tmp_path / "worker-b"
    for conn_id, folder in (("MLGIT_WORKER_A", a), ("MLGIT_WORKER_B", b)):
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id}", connection_json(folder, mlgit_conn["remotes"], mlgit_conn["storage"])
        )
    run = run_dag(load_dag("mlgit_ops_distributed", TEST_DAGS))
    assert run.state == "success", run.task_states
    assert run.xcom("checkout_on_a")["path"].startswith(str(a))
    assert run.xcom("count_on_a") == 2
    assert not (b / "datasets" / "shared-data").exists()  # B never had the dataset
    sha = seed.branch("datasets", "shared-data")[1]  # type: ignore[index]
    assert run.xcom("commit_on_b")["dataset"] == {"tag": tag, "sha": sha}
    check = workspace(tmp_path / "check", mlgit_conn)
    check.checkout("labels", "shared-labels")
    assert check.show("labels", "shared-labels")["dataset"] == {"tag": tag, "sha": sha}


def deferred_task(dag_id: str, task_id: str) -> bool:
    """Whether the task is waiting on its trigger (its resume method is set)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(TaskInstance.next_method).where(
                TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id
            )
        ).all()
        return any(rows)


@pytest.mark.timeout(300)
def test_version_sensor_pokes_then_defers_until_a_new_version_lands(
    airflow_db: Path, mlgit_conn: dict[str, Any], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    producer = workspace(tmp_path / "producer", mlgit_conn)
    publish(producer, mlgit_conn, "watched", {"v1.txt": "1\n"})

    def land_version_2_once_deferred() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not deferred_task("mlgit_ops_sensor", "deferred"):
            time.sleep(0.2)
        time.sleep(1)  # let the trigger look at least once more and find nothing
        publish(producer, mlgit_conn, "watched", {"v2.txt": "2\n"}, bump=True)  # lands even on timeout

    # configure the ORM here: models imported lazily from the thread would deadlock on the import lock
    assert not deferred_task("mlgit_ops_sensor", "deferred")
    lander = threading.Thread(target=land_version_2_once_deferred)
    lander.start()
    try:
        run = run_dag(load_dag("mlgit_ops_sensor", TEST_DAGS), capfd=capfd)
    finally:
        lander.join()
    assert run.state == "success", run.task_states
    assert run.xcom("present") == {
        "entity_type": "datasets",
        "name": "watched",
        "tag": "ops__watched__1",
        "version": 1,
    }
    assert run.xcom("deferred") == {
        "entity_type": "datasets",
        "name": "watched",
        "tag": "ops__watched__2",
        "version": 2,
    }
    assert "no version >= 2 of datasets watched yet" in run.log_text  # the trigger did the waiting
