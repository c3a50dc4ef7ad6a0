"""The ML-Git how-to, "Uploading labels associated to a dataset", as an Airflow DAG.

checkout the dataset -> create the labels -> annotate -> add -> commit -> push. The commit links
the dataset version the checkout task produced (its XCom tag + sha): the labels' spec gets
``dataset: {tag, sha}`` exactly as ``ml-git labels commit --dataset=...`` writes it.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import dag, task
from mlgit_airflow import (
    MLGitAddOperator,
    MLGitCheckoutOperator,
    MLGitCommitOperator,
    MLGitCreateOperator,
    MLGitPushOperator,
)

DATASET = "toy-points"
LABELS = "toy-points-labels"


@dag(
    dag_id="mlgit_howto_labels",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mlgit", "example"],
)
def mlgit_howto_labels() -> None:
    dataset = MLGitCheckoutOperator(task_id="checkout_dataset", entity_type="datasets", ref=DATASET)
    labels = MLGitCreateOperator(
        task_id="create_labels",
        entity_type="labels",
        name=LABELS,
        categories=["computer-vision", "points"],
        mutability="mutable",
    )

    @task
    def annotate(dataset: dict[str, Any], labels: dict[str, Any]) -> int:
        """The annotator of this toy: a point belongs to class 1 when x + y > 3."""
        rows = []
        for path in sorted(Path(dataset["path"]).glob("data/**/*.csv")):
            with path.open() as fh:
                rows += [(r["id"], int(float(r["x"]) + float(r["y"]) > 3.0)) for r in csv.DictReader(fh)]
        target = Path(labels["path"]) / "annotations" / "labels.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["id", "label"])
            out.writerows(sorted(rows))
        return len(rows)

    add = MLGitAddOperator(task_id="add", entity_type="labels", name=LABELS)
    commit = MLGitCommitOperator(task_id="commit", entity_type="labels", name=LABELS, auto_bump=True)
    push = MLGitPushOperator(task_id="push", entity_type="labels", name=LABELS)

    annotate(dataset.output, labels.output) >> add >> commit >> push


mlgit_howto_labels()
