"""Every example flow, end to end, on a local folder: no S3, no git server, no account needed.

    python flows_examples/quickstart.py /tmp/mlgit-demo

Creates bare git repositories as the metadata remotes and a folder as the bucket under the given
directory, saves an ``MLGitRepository`` block named ``mlgit-demo``, then versions the toy dataset,
labels linked to it, and a model trained on both; finally downloads and checks the dataset.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dataset_flow import dataset_flow
from integrity_flow import integrity_flow
from labels_flow import labels_flow
from mlgit_prefect import MLGitRepository
from sample_data import write_points
from training_flow import training_flow


def main(base: Path) -> dict[str, object]:
    remotes = {}
    for et in ("datasets", "labels", "models"):
        remotes[et] = base / "remotes" / f"{et}.git"
        if not remotes[et].exists():
            subprocess.run(
                ["git", "init", "--quiet", "--bare", "--initial-branch=master", str(remotes[et])], check=True
            )
    MLGitRepository(
        workspace=str(base / "workspace"),
        storage_type="local",
        bucket="mlgit-datasets",
        buckets={"labels": "mlgit-labels", "models": "mlgit-models"},
        storage_path=str(base / "buckets"),
        **{f"{et}_remote": str(url) for et, url in remotes.items()},
    ).save("mlgit-demo", overwrite=True)
    sample = write_points(base / "sample")
    dataset = dataset_flow(source=str(sample / "data"), repository="mlgit-demo")
    labels = labels_flow(source=str(sample / "annotations"), dataset="imagenet8", repository="mlgit-demo")
    model = training_flow(dataset="imagenet8", labels="mscoco-captions", repository="mlgit-demo")
    check = integrity_flow(dataset="imagenet8", repository="mlgit-demo")
    return {
        "dataset": dataset["tag"],
        "labels": labels["tag"],
        "model": model["tag"],
        "lineage": {"dataset": model["dataset"], "labels": model["labels"]},
        "metrics": model["metrics"],
        "fsck_corrupted": check["fsck"]["corrupted"],
    }


if __name__ == "__main__":
    summary = main(Path(sys.argv[1] if len(sys.argv) > 1 else "mlgit-demo").resolve())
    print(json.dumps(summary, indent=2))  # noqa: T201 - a script: the terminal is its output
