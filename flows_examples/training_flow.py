"""How-to section 5 as a flow: train on a dataset and its labels, version the model with metrics and lineage.

The model is a nearest-centroid classifier in plain Python (no ML library needed): what matters
here is the versioning around it. The model's spec gets ``dataset: {tag, sha}``,
``labels: {tag, sha}`` (from the checkouts in this flow run) and ``metrics``.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Any

from mlgit_prefect import mlgit_add, mlgit_checkout, mlgit_commit, mlgit_create, mlgit_push
from prefect import flow, task


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@task
def train(dataset_path: str, labels_path: str, model_path: str) -> dict[str, float]:
    """Fit class centroids on ``data/points.csv`` + ``annotations/labels.csv``; write ``data/model.json``."""
    points = {
        r["id"]: (float(r["x"]), float(r["y"])) for r in _read(Path(dataset_path) / "data" / "points.csv")
    }
    labels = {r["id"]: r["label"] for r in _read(Path(labels_path) / "annotations" / "labels.csv")}
    sums: dict[str, list[float]] = {}
    for pid, label in labels.items():
        x, y = points[pid]
        acc = sums.setdefault(label, [0.0, 0.0, 0.0])
        acc[0], acc[1], acc[2] = acc[0] + x, acc[1] + y, acc[2] + 1
    centroids = {label: (sx / n, sy / n) for label, (sx, sy, n) in sorted(sums.items())}

    def predict(p: tuple[float, float]) -> str:
        return min(centroids, key=lambda c: (p[0] - centroids[c][0]) ** 2 + (p[1] - centroids[c][1]) ** 2)

    truth = list(labels.items())
    hits = sum(predict(points[pid]) == label for pid, label in truth)
    per_class = [
        sum(predict(points[p]) == lab for p, lab in truth if lab == c) / sum(lab == c for _, lab in truth)
        for c in centroids
    ]
    model = Path(model_path) / "data" / "model.json"
    body = json.dumps({"kind": "nearest-centroid", "centroids": centroids}, indent=2, sort_keys=True) + "\n"
    if not (model.is_file() and model.read_text() == body):  # an identical model is not a new version
        model.parent.mkdir(parents=True, exist_ok=True)
        model.write_text(body)
    return {"accuracy": round(hits / len(truth), 4), "recall": round(sum(per_class) / len(per_class), 4)}


@task
def write_metrics_csv(metrics: dict[str, float]) -> str:
    """The how-to's metrics file: the names in the header, the values in the next line."""
    path = Path(tempfile.mkdtemp(prefix="mlgit-metrics-")) / "metrics.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(metrics))
        writer.writerow([metrics[k] for k in metrics])
    return str(path)


@flow(name="mlgit-training")
def training_flow(
    dataset: str,
    labels: str,
    repository: str = "mlgit",
    name: str = "imagenet-model",
    categories: str = "computer-vision, images",
    metrics_from_csv: bool = False,
) -> dict[str, Any]:
    """Check out ``dataset`` and ``labels``, train, and version model ``name`` with metrics and lineage."""
    data = mlgit_checkout(repository, "datasets", dataset)
    annotations = mlgit_checkout(repository, "labels", labels)
    created = mlgit_create(repository, "models", name, categories=categories, mutability="mutable")
    metrics = train(data["path"], annotations["path"], created["path"])
    if metrics_from_csv:
        mlgit_add(repository, "models", name, bumpversion=True, metrics_file=write_metrics_csv(metrics))
    else:
        mlgit_add(repository, "models", name, bumpversion=True, metrics=metrics)
    # auto_bump: runs on other workers may take the next number first; this run then takes the one after
    mlgit_commit(repository, "models", name, message=f"train {name} on {dataset} + {labels}", auto_bump=True)
    return mlgit_push(repository, "models", name, auto_bump=True)


if __name__ == "__main__":
    import sys

    training_flow(sys.argv[1], sys.argv[2])
