"""The ML-Git how-to, "Uploading a dataset" and "Adding data to a dataset", as an Airflow DAG.

create -> write the data -> add -> commit -> push. Each run may add batches (param ``batches``):
the files already versioned are left alone (the dataset is ``strict``) and a new version is made
only when something changed. The push emits the Asset event ``mlgit://datasets/toy-points``.

Needs the connection ``mlgit_default`` (type ``mlgit``): see integrations/airflow/README.md.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from mlgit_airflow import MLGitAddOperator, MLGitCommitOperator, MLGitCreateOperator, MLGitPushOperator

DATASET = "toy-points"


def write_batch(path: Path, seed: int, points: int = 40) -> None:
    """Points of two clouds, around (0, 0) and (3, 3): the dataset's raw data (no labels)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "x", "y"])
        for i in range(points):
            cx = 3.0 if i % 2 else 0.0
            out.writerow([f"{seed}-{i}", round(rng.gauss(cx, 1.0), 4), round(rng.gauss(cx, 1.0), 4)])
    tmp.replace(path)


@dag(
    dag_id="mlgit_howto_dataset",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"batches": Param(2, type="integer", minimum=1, description="training batches to have")},
    tags=["mlgit", "example"],
)
def mlgit_howto_dataset() -> None:
    create = MLGitCreateOperator(
        task_id="create",
        entity_type="datasets",
        name=DATASET,
        categories=["computer-vision", "points"],
        mutability="strict",
    )

    @task
    def write_data(entity: dict[str, Any]) -> list[str]:
        """New files only: a strict dataset's versioned files are read-only and never rewritten."""
        batches = int(get_current_context()["params"]["batches"])
        root = Path(entity["path"])
        wanted = {root / "data" / "val" / "val.csv": 1000}
        wanted.update({root / "data" / "train" / f"batch_{n}.csv": n for n in range(1, batches + 1)})
        written = []
        for path, seed in sorted(wanted.items()):
            if not path.exists():
                write_batch(path, seed)
                written.append(str(path.relative_to(root)))
        return written

    add = MLGitAddOperator(task_id="add", entity_type="datasets", name=DATASET)
    commit = MLGitCommitOperator(
        task_id="commit",
        entity_type="datasets",
        name=DATASET,
        message="toy points, {{ params.batches }} training batches",
        auto_bump=True,  # a run that adds data makes the next version
    )
    push = MLGitPushOperator(task_id="push", entity_type="datasets", name=DATASET)

    write_data(create.output) >> add >> commit >> push


mlgit_howto_dataset()
