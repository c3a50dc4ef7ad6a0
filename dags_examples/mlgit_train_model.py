"""The ML-Git how-to, "Uploading models", as two Airflow DAGs.

``mlgit_train_model``: one operator per step. The checkouts of the dataset and the labels run in
parallel; ``train`` fits a tiny nearest-centroid classifier in pure Python and returns its
metrics; ``add`` puts the metrics in the model's spec; ``commit`` links the dataset and labels
versions the checkouts produced (from their XCom). These tasks share files through the workspace
folder, so on several workers that folder must be a shared volume.

``mlgit_train_model_one_task``: the same in one ``@task`` through ``MLGitHook().get_repository()``:
nothing is shared between workers but the remotes, any worker can run it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import AssetAlias, dag, get_current_context, task
from mlgit_airflow import (
    MLGitAddOperator,
    MLGitCheckoutOperator,
    MLGitCommitOperator,
    MLGitCreateOperator,
    MLGitHook,
    MLGitPushOperator,
    mlgit_asset,
)

from mlgit import runs

DATASET = "toy-points"
LABELS = "toy-points-labels"
MODEL = "toy-centroids"


def train_centroids(dataset_dir: Path, labels_dir: Path, model_dir: Path) -> dict[str, float]:
    """Fit one centroid per class on data/train, score on data/val; write model.json; return metrics."""
    with (labels_dir / "annotations" / "labels.csv").open() as fh:
        labels = {r["id"]: int(r["label"]) for r in csv.DictReader(fh)}

    def points(pattern: str) -> list[tuple[float, float, int]]:
        out = []
        for path in sorted(dataset_dir.glob(pattern)):
            with path.open() as fh:
                out += [(float(r["x"]), float(r["y"]), labels[r["id"]]) for r in csv.DictReader(fh)]
        return out

    train, val = points("data/train/*.csv"), points("data/val/*.csv")
    centroids = {}
    for cls in (0, 1):
        members = [(x, y) for x, y, c in train if c == cls]
        centroids[cls] = (
            sum(x for x, _ in members) / len(members),
            sum(y for _, y in members) / len(members),
        )

    def predict(x: float, y: float) -> int:
        return min(centroids, key=lambda c: (x - centroids[c][0]) ** 2 + (y - centroids[c][1]) ** 2)

    accuracy = sum(predict(x, y) == c for x, y, c in val) / len(val)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.json").write_text(
        json.dumps({str(c): list(v) for c, v in centroids.items()}, indent=1)
    )
    return {"accuracy": round(accuracy, 4), "train_points": float(len(train))}


@dag(
    dag_id="mlgit_train_model",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mlgit", "example"],
)
def mlgit_train_model() -> None:
    dataset = MLGitCheckoutOperator(task_id="checkout_dataset", entity_type="datasets", ref=DATASET)
    labels = MLGitCheckoutOperator(task_id="checkout_labels", entity_type="labels", ref=LABELS)
    model = MLGitCreateOperator(
        task_id="create_model",
        entity_type="models",
        name=MODEL,
        categories=["computer-vision", "points"],
        mutability="mutable",
    )

    @task
    def train(dataset: dict[str, Any], labels: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
        metrics = train_centroids(Path(dataset["path"]), Path(labels["path"]), Path(model["path"]))
        return {"metrics": metrics}

    trained = train(dataset.output, labels.output, model.output)
    add = MLGitAddOperator(task_id="add", entity_type="models", name=MODEL, metrics=trained["metrics"])
    commit = MLGitCommitOperator(task_id="commit", entity_type="models", name=MODEL, auto_bump=True)
    push = MLGitPushOperator(task_id="push", entity_type="models", name=MODEL)
    add >> commit >> push


@dag(
    dag_id="mlgit_train_model_one_task",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mlgit", "example"],
)
def mlgit_train_model_one_task() -> None:
    @task(outlets=[AssetAlias("mlgit")])
    def checkout_train_version() -> dict[str, Any]:
        hook = MLGitHook()  # inside a task: this DAG run's own folder under the connection's workspace
        repo = hook.get_repository()
        dataset = repo.checkout("datasets", DATASET)  # the remote's latest when the run started
        labels = repo.checkout("labels", LABELS)
        # the model's latest version (whoever made it) checked out, or a new entity
        model = runs.create_or_reuse(
            repo,
            "models",
            MODEL,
            fetch=False,
            categories=["computer-vision", "points"],
            mutability="mutable",
            **hook.storage_args(),
        )
        metrics = train_centroids(Path(dataset.path), Path(labels.path), Path(model["path"]))
        repo.add("models", MODEL, metrics=metrics)
        ti = get_current_context()["ti"]
        repo.commit(
            "models",
            MODEL,
            message=f"{MODEL} trained by {ti.dag_id}/{ti.run_id}",
            dataset={"tag": dataset.tag, "sha": dataset.sha},
            labels={"tag": labels.tag, "sha": labels.sha},
            auto_bump=True,
        )
        result = repo.push(
            "models", MODEL, auto_bump=True
        ).to_dict()  # another host may take our number first
        if result["created"]:  # an Asset event only for news
            event = {k: result[k] for k in ("tag", "sha", "version", "metrics")}
            get_current_context()["outlet_events"][AssetAlias("mlgit")].add(
                mlgit_asset("models", MODEL), extra=event
            )
        return result

    checkout_train_version()


mlgit_train_model()
mlgit_train_model_one_task()
