"""One Prefect flow run in its own process, against the Prefect server the test started
(``PREFECT_API_URL``): ``python prefect_run.py JOB_JSON``; prints one JSON report with the flow's
result and the artifacts of its flow run, read back from the server."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(job: dict[str, Any]) -> dict[str, Any]:
    from mlgit_prefect import (
        MLGitRepository,
        mlgit_add,
        mlgit_checkout,
        mlgit_commit,
        mlgit_create,
        mlgit_push,
    )
    from pipeline_common import DATASET, MODEL, train
    from prefect import flow, get_client, runtime, task
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    block = MLGitRepository(
        workspace=job["root"],
        storage_type="local",
        bucket="bucket",
        storage_path=job["storage_path"],
        **{f"{et}_remote": u for et, u in job["remotes"].items()},
    )

    @task
    def fit(dataset: dict[str, Any], entity: dict[str, Any]) -> dict[str, str]:
        return train(dataset["path"], dataset["tag"], entity["path"], str(runtime.flow_run.id))

    @flow(name="mlgit-many-runs")
    def pipeline() -> dict[str, Any]:
        data = mlgit_checkout(block, "datasets", DATASET)
        model = mlgit_create(block, "models", MODEL, categories="runs", mutability="mutable")
        trained = fit(data, model)
        mlgit_add(block, "models", MODEL)
        commit = mlgit_commit(block, "models", MODEL, auto_bump=True)
        push = mlgit_push(block, "models", MODEL, auto_bump=True)
        return {
            "checkout": data,
            "create": model,
            "fit": trained,
            "commit": commit,
            "push": push,
            "flow_run_id": str(runtime.flow_run.id),
        }

    out = pipeline()
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[out["flow_run_id"]]))
        )
    artifacts = [{"key": a.key, "type": a.type, "data": a.data} for a in arts]
    return {
        "kind": "prefect",
        "run_id": out["flow_run_id"],
        "state": "success",
        "started": job["started"],
        **{k: out[k] for k in ("checkout", "create", "fit", "commit", "push")},
        "artifacts": artifacts,
    }


if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    os.environ.update(job["env"])
    report = main(job)
    sys.stdout.write("\nREPORT " + json.dumps(report, default=str) + "\n")
