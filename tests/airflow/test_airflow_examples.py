"""Every example DAG, run for real with dag.test() on local storage and bare git remotes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from airflow_dagrun import load_dag, run_dag
from airflow_helpers import EXAMPLES, workspace

from mlgit import Repository

DATASET_TAG_1 = "computer-vision__points__toy-points__1"
DATASET_TAG_2 = "computer-vision__points__toy-points__2"
LABELS_TAG_1 = "computer-vision__points__toy-points-labels__1"
MODEL_TAG_1 = "computer-vision__points__toy-centroids__1"


def verifier(tmp_path: Path, conn: dict[str, Any]) -> Repository:
    """Another workspace on the same remotes and bucket: what a colleague sees after the pushes."""
    return workspace(tmp_path / "verifier", conn)


def commit_message(remote: str, tag: str) -> str:
    """The full message of the metadata commit a tag points at, read from the remote."""
    out = subprocess.run(
        ["git", "-C", remote, "log", "-1", "--format=%B", tag], capture_output=True, text=True, check=True
    )
    return out.stdout


def asset_events(uri: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == uri)
        ).all()
        return [dict(r.extra or {}) for r in rows]


def queued_for(dag_id: str, uri: str) -> bool:
    """Whether the scheduler would start `dag_id` for the last event of `uri` (asset-triggered run)."""
    from airflow.models.asset import AssetDagRunQueue, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return (
            session.scalars(
                select(AssetDagRunQueue)
                .join(AssetModel, AssetDagRunQueue.asset_id == AssetModel.id)
                .where(AssetModel.uri == uri, AssetDagRunQueue.target_dag_id == dag_id)
            ).first()
            is not None
        )


def ol_complete(events: list[dict[str, Any]], job: str) -> dict[str, Any]:
    found = [e for e in events if e.get("eventType") == "COMPLETE" and e["job"]["name"] == job]
    assert found, f"no OpenLineage COMPLETE event for {job}: {[e['job']['name'] for e in events]}"
    return found[-1]


def test_examples_parse_without_import_errors() -> None:
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(dag_folder=EXAMPLES, bundle_path=EXAMPLES, bundle_name="mlgit-examples")
    assert bag.import_errors == {}
    assert set(bag.dags) == {
        "mlgit_howto_dataset",
        "mlgit_howto_labels",
        "mlgit_train_model",
        "mlgit_train_model_one_task",
        "mlgit_on_new_dataset",
    }


def test_howto_dags_version_dataset_labels_model_with_lineage_metrics_and_asset_events(
    airflow_db: Path, mlgit_conn: dict[str, Any], tmp_path: Path, openlineage_events: Any
) -> None:
    remotes = mlgit_conn["remotes"]
    before = len(asset_events("mlgit://datasets/toy-points"))

    # 1. the dataset: create / write / add / commit / push
    ds = run_dag(load_dag("mlgit_howto_dataset", EXAMPLES))
    assert ds.state == "success", ds.task_states
    assert ds.xcom("create")["created"] is True
    assert sorted(ds.xcom("write_data")) == [
        "data/train/batch_1.csv",
        "data/train/batch_2.csv",
        "data/val/val.csv",
    ]
    assert ds.xcom("add")["files"] == 3
    commit = ds.xcom("commit")
    assert (commit["tag"], commit["version"], commit["created"]) == (DATASET_TAG_1, 1, True)
    push = ds.xcom("push")
    assert push["tag"] == DATASET_TAG_1 and push["sha"] == commit["sha"] and push["uploaded"] > 0
    events = asset_events("mlgit://datasets/toy-points")
    assert len(events) == before + 1
    assert events[-1] == {"tag": DATASET_TAG_1, "sha": commit["sha"], "version": 1, "metrics": {}}
    assert queued_for("mlgit_on_new_dataset", "mlgit://datasets/toy-points")
    message = commit_message(remotes["datasets"], DATASET_TAG_1)
    assert "toy points, 2 training batches" in message
    assert f"Airflow-Run-Id: {ds.run_id}" in message and "Airflow-Task-Id: commit" in message

    # 2. the labels, linked to the dataset version the checkout produced
    lb = run_dag(load_dag("mlgit_howto_labels", EXAMPLES))
    assert lb.state == "success", lb.task_states
    assert lb.xcom("checkout_dataset")["tag"] == DATASET_TAG_1
    assert lb.xcom("commit")["dataset"] == {"tag": DATASET_TAG_1, "sha": commit["sha"]}

    # 3. the model, with metrics and both links
    tr = run_dag(load_dag("mlgit_train_model", EXAMPLES))
    assert tr.state == "success", tr.task_states
    metrics = tr.xcom("train")["metrics"]
    assert metrics["accuracy"] > 0.8 and metrics["train_points"] == 80.0
    model = tr.xcom("commit")
    assert model["tag"] == MODEL_TAG_1
    assert model["metrics"] == metrics
    assert model["dataset"] == {"tag": DATASET_TAG_1, "sha": commit["sha"]}
    assert model["labels"] == {"tag": LABELS_TAG_1, "sha": lb.xcom("commit")["sha"]}
    assert asset_events("mlgit://models/toy-centroids")[-1]["metrics"] == metrics

    # what a colleague sees in the remotes: the specs as ML-Git writes them
    other = verifier(tmp_path, mlgit_conn)
    other.checkout("models", MODEL_TAG_1)
    spec = other.show("models", "toy-centroids")
    assert spec["dataset"] == {"tag": DATASET_TAG_1, "sha": commit["sha"]}
    assert spec["labels"]["tag"] == LABELS_TAG_1
    assert spec["metrics"] == metrics
    lineage = other.lineage("models", MODEL_TAG_1)
    assert [n.tag for n in lineage.upstream] == [DATASET_TAG_1, LABELS_TAG_1]

    # OpenLineage: the model's commit read the dataset and labels versions, wrote the model version
    ol = ol_complete(openlineage_events(), "mlgit_train_model.commit")
    inputs = {(d["namespace"], d["name"]): d["facets"]["version"]["datasetVersion"] for d in ol["inputs"]}
    assert inputs == {
        ("mlgit://datasets", "toy-points"): DATASET_TAG_1,
        ("mlgit://labels", "toy-points-labels"): LABELS_TAG_1,
    }
    [out] = ol["outputs"]
    assert (out["namespace"], out["name"], out["facets"]["version"]["datasetVersion"]) == (
        "mlgit://models",
        "toy-centroids",
        MODEL_TAG_1,
    )

    # 4. the asset-scheduled DAG checks out the pushed version
    nd = run_dag(load_dag("mlgit_on_new_dataset", EXAMPLES))
    assert nd.state == "success", nd.task_states
    assert nd.xcom("pushed_version")["tag"] == DATASET_TAG_1
    assert nd.xcom("checkout")["tag"] == DATASET_TAG_1
    assert nd.xcom("fsck")["corrupted"] == 0

    # 5. adding data makes version 2, and its event names it
    ds2 = run_dag(load_dag("mlgit_howto_dataset", EXAMPLES), conf={"batches": 3})
    assert ds2.state == "success", ds2.task_states
    assert ds2.xcom("write_data") == ["data/train/batch_3.csv"]
    assert ds2.xcom("commit")["tag"] == DATASET_TAG_2
    assert asset_events("mlgit://datasets/toy-points")[-1]["tag"] == DATASET_TAG_2
    nd2 = run_dag(load_dag("mlgit_on_new_dataset", EXAMPLES))
    assert nd2.xcom("checkout")["tag"] == DATASET_TAG_2 and nd2.xcom("checkout")["files"] == 4


def test_train_in_one_task_versions_the_model_from_a_fresh_worker(
    airflow_db: Path, mlgit_conn: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_helpers import connection_json

    assert run_dag(load_dag("mlgit_howto_dataset", EXAMPLES)).state == "success"
    assert run_dag(load_dag("mlgit_howto_labels", EXAMPLES)).state == "success"
    # another worker: its own empty workspace, the same remotes and bucket
    fresh = tmp_path / "worker-2"
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLGIT_DEFAULT", connection_json(fresh, mlgit_conn["remotes"], mlgit_conn["storage"])
    )
    run = run_dag(load_dag("mlgit_train_model_one_task", EXAMPLES))
    assert run.state == "success", run.task_states
    result = run.xcom("checkout_train_version")
    assert result["tag"] == MODEL_TAG_1 and result["path"].startswith(str(fresh))
    assert result["dataset"]["tag"] == DATASET_TAG_1 and result["labels"]["tag"] == LABELS_TAG_1
    assert asset_events("mlgit://models/toy-centroids")[-1]["tag"] == MODEL_TAG_1
