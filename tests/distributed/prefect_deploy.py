"""What a user runs once against a Prefect server to deploy the example flows (run as a script by
the distributed tests: ``python prefect_deploy.py SETTINGS.json``; prints the deployment ids).

The ``mlgit`` block's workspace is ``~/mlgit``: each worker host resolves it in its own home, so
every host has a workspace root of its own while the block is shared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlgit_prefect import MLGitRepository
from prefect import flow
from prefect.events import DeploymentEventTrigger

EXAMPLES = Path(__file__).resolve().parents[2] / "flows_examples"


def main(settings: dict) -> dict[str, str]:
    MLGitRepository(
        workspace="~/mlgit",
        storage_type="local",
        bucket="mlgit-shared",
        storage_path=settings["storage_path"],
        **{f"{et}_remote": url for et, url in settings["remotes"].items()},
    ).save("mlgit", overwrite=True)
    pool, sample = settings["pool"], settings["sample"]
    names = {"name": "toy-points", "categories": "computer-vision, points"}
    plans = {
        "dataset": ("dataset_flow.py:dataset_flow", {"source": f"{sample}/data", **names}, None),
        "labels": (
            "labels_flow.py:labels_flow",
            {
                "source": f"{sample}/annotations",
                "dataset": "toy-points",
                "name": "toy-points-labels",
                "categories": "computer-vision, points",
            },
            None,
        ),
        "training": (
            "training_flow.py:training_flow",
            {
                "dataset": "toy-points",
                "labels": "toy-points-labels",
                "name": "toy-centroids",
                "categories": "computer-vision, points",
            },
            None,
        ),
        # runs whenever a push materializes a new dataset version, and checks out exactly that one
        "on-new-dataset": (
            "integrity_flow.py:integrity_flow",
            {"dataset": "toy-points"},
            DeploymentEventTrigger(
                expect={"prefect.asset.materialization.succeeded"},
                match={"prefect.resource.id": "mlgit://datasets/toy-points"},
                parameters={"dataset": "toy-points", "version": "{{ event.payload.version }}"},
            ),
        ),
    }
    ids = {}
    for key, (entrypoint, parameters, trigger) in plans.items():
        loaded = flow.from_source(source=str(EXAMPLES), entrypoint=entrypoint)
        ids[key] = str(
            loaded.deploy(  # type: ignore[attr-defined]
                name=f"dist-{key}",
                work_pool_name=pool,
                parameters=parameters,
                triggers=[trigger] if trigger else None,
                print_next_steps=False,
            )
        )
    return ids


if __name__ == "__main__":
    print(json.dumps(main(json.loads(Path(sys.argv[1]).read_text()))))
