"""The how-to as Prefect flows, run for real against local storage and bare git remotes."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mlgit_prefect import MLGitRepository, mlgit_checkout
from prefect import flow
from prefect_reads import (
    DATASET,
    DS_TAG,
    LABELS,
    LB_TAG,
    MD_TAG,
    MODEL,
    SECRET,
    HowtoWorld,
    as_text,
    asset_events,
    flow_run_artifacts,
    flow_run_logs,
    run,
    task_runs,
)

from mlgit import CorruptObject, Repository


def fresh_workspace(block: str, tmp_path: Path, name: str) -> Repository:
    """Another worker: a new workspace on the same remotes and bucket."""
    other = MLGitRepository.load(block).model_copy(update={"workspace": str(tmp_path / name)})
    return other.get_repository()


def test_the_howto_flows_version_dataset_labels_and_model_with_lineage_and_metrics(
    howto_world: HowtoWorld, tmp_path: Path
) -> None:
    runs, local_block, remotes, sample = (
        howto_world.runs,
        howto_world.block,
        howto_world.remotes,
        howto_world.sample,
    )
    dataset, labels, model = (runs[k][0] for k in ("dataset", "labels", "model"))

    assert {k: dataset[k] for k in ("entity_type", "name", "version", "tag", "files", "created")} == {
        "entity_type": "datasets",
        "name": DATASET,
        "version": 1,
        "tag": DS_TAG,
        "files": 1,
        "created": True,
    }
    assert dataset["size"] == (sample / "data" / "points.csv").stat().st_size and dataset["uploaded"] >= 2
    assert labels["tag"] == LB_TAG and labels["dataset"] == {"tag": DS_TAG, "sha": dataset["sha"]}
    assert model["tag"] == MD_TAG
    assert model["dataset"] == {"tag": DS_TAG, "sha": dataset["sha"]}
    assert model["labels"] == {"tag": LB_TAG, "sha": labels["sha"]}
    assert model["metrics"] == {"accuracy": 1.0, "recall": 1.0}

    # what another worker sees from the remotes: specs with lineage and metrics, objects in the bucket
    repo = fresh_workspace(local_block, tmp_path, "elsewhere")
    got = repo.checkout("models", MODEL)
    spec = repo.show("models", MODEL)
    assert spec["dataset"] == {"tag": DS_TAG, "sha": dataset["sha"]}
    assert spec["labels"] == {"tag": LB_TAG, "sha": labels["sha"]}
    assert spec["metrics"] == {"accuracy": 1.0, "recall": 1.0}
    assert json.loads((Path(got.path) / "data" / "model.json").read_text())["kind"] == "nearest-centroid"
    assert repo.metrics("models", MODEL) == {MD_TAG: {"accuracy": 1.0, "recall": 1.0}}
    lineage = repo.lineage("models", MD_TAG)
    assert [(n.entity_type, n.tag) for n in lineage.upstream] == [("datasets", DS_TAG), ("labels", LB_TAG)]

    # the metadata commit (as pushed to the remote) leads back to the run that made it
    flow_run_id = runs["model"][1]
    commit_task = next(t for t in task_runs(flow_run_id) if t.name.startswith("mlgit_commit"))
    message = subprocess.run(
        ["git", "--git-dir", remotes["models"], "log", "-1", "--format=%B", MD_TAG],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert message.splitlines()[0] == f"train {MODEL} on {DATASET} + {LABELS}"
    assert f"Prefect-Flow-Run: {flow_run_id}\nPrefect-Task-Run: {commit_task.id}" in message


def test_push_leaves_a_table_a_lineage_summary_and_an_asset_with_metadata(howto_world: HowtoWorld) -> None:
    runs = howto_world.runs
    model, flow_run_id = runs["model"]

    arts = {a.key: a for a in flow_run_artifacts(flow_run_id) if a.key}
    table = json.loads(arts["mlgit-push-models-imagenet-model"].data)
    assert table == [
        {
            "entity_type": "models",
            "name": MODEL,
            "version": 1,
            "tag": MD_TAG,
            "sha": model["sha"],
            "files": 1,
            "size": model["size"],
            "uploaded": model["uploaded"],
            "metrics": "accuracy=1, recall=1",
            "dataset": DS_TAG,
            "labels": LB_TAG,
        }
    ]
    summary = arts["mlgit-lineage-models-imagenet-model"].data
    assert f"| version | models | {MODEL} | 1 | `{MD_TAG}` |" in summary
    assert f"| upstream | datasets | {DATASET} | 1 | `{DS_TAG}` |" in summary
    assert f"| upstream | labels | {LABELS} | 1 | `{LB_TAG}` |" in summary
    assert str(flow_run_id) in summary

    events = asset_events(f"mlgit://models/{MODEL}", flow_run_id)
    assert len(events) == 1 and events[0].event == "prefect.asset.materialization.succeeded"
    assert events[0].payload == {
        "tag": MD_TAG,
        "sha": model["sha"],
        "version": 1,
        "metrics": {"accuracy": 1.0, "recall": 1.0},
    }
    upstream = {r.id for r in events[0].related if r.role == "asset"}
    assert upstream == {f"mlgit://datasets/{DATASET}", f"mlgit://labels/{LABELS}"}
    ds_events = asset_events(f"mlgit://datasets/{DATASET}", runs["dataset"][1])
    assert ds_events[0].payload["tag"] == DS_TAG and ds_events[0].payload["metrics"] == {}

    for _, run_id in runs.values():  # the credentials block travelled through every task
        logs = "\n".join(flow_run_logs(run_id))
        assert "mlgit push: push" in logs and SECRET not in logs
        assert SECRET not in as_text([a.data for a in flow_run_artifacts(run_id)])
    assert SECRET not in as_text([r for r, _ in runs.values()])


def test_new_data_makes_the_next_version_and_a_rerun_makes_none(
    examples: Callable[[str], ModuleType], sample: Path, local_block: str, tmp_path: Path
) -> None:
    dataset_flow = examples("dataset_flow").dataset_flow
    first, _ = run(dataset_flow, source=str(sample / "data"), repository=local_block)
    (sample / "data" / "more.csv").write_text("id,x,y\n99,1.0,1.0\n")
    second, _ = run(dataset_flow, source=str(sample / "data"), repository=local_block)
    again, _ = run(dataset_flow, source=str(sample / "data"), repository=local_block)

    assert (first["version"], second["version"], second["files"], second["created"]) == (1, 2, 2, True)
    assert again["tag"] == second["tag"] and again["created"] is False and again["uploaded"] == 0
    repo = fresh_workspace(local_block, tmp_path, "elsewhere")
    assert repo.tags("datasets", DATASET) == [DS_TAG, DS_TAG[:-1] + "2"]


def test_metrics_from_the_howto_csv_file(
    examples: Callable[[str], ModuleType], howto_world: HowtoWorld
) -> None:
    assert howto_world.runs["model"][0]["version"] == 1
    # retrain from the CSV path: same model, same metrics -> the same version, nothing duplicated
    model, _ = run(
        examples("training_flow").training_flow,
        dataset=DATASET,
        labels=LABELS,
        repository=howto_world.block,
        metrics_from_csv=True,
    )
    assert model["tag"] == MD_TAG and model["created"] is False
    assert model["metrics"] == {"accuracy": 1.0, "recall": 1.0}


def test_download_and_check_flow(
    examples: Callable[[str], ModuleType], howto_world: HowtoWorld, tmp_path: Path
) -> None:
    local_block, sample = howto_world.block, howto_world.sample
    other = MLGitRepository.load(local_block).model_copy(update={"workspace": str(tmp_path / "downloader")})
    other.save("downloader-" + local_block)
    result, _ = run(
        examples("integrity_flow").integrity_flow, dataset=DATASET, repository="downloader-" + local_block
    )
    checkout, fsck = result["checkout"], result["fsck"]
    assert checkout["tag"] == DS_TAG and checkout["downloaded"] >= 2
    assert (Path(checkout["path"]) / "data" / "points.csv").read_bytes() == (
        sample / "data" / "points.csv"
    ).read_bytes()
    assert fsck["corrupted"] == 0 and fsck["objects_checked"] >= 2 and fsck["unfixable"] == []


def test_fsck_repairs_from_the_bucket_and_fails_when_it_cannot(
    examples: Callable[[str], ModuleType], sample: Path, local_block: str, tmp_path: Path
) -> None:
    integrity_flow = examples("integrity_flow").integrity_flow
    run(examples("dataset_flow").dataset_flow, source=str(sample / "data"), repository=local_block)
    objects = sorted(p for p in (tmp_path / "workspace" / "objects" / "datasets").rglob("*") if p.is_file())
    assert objects, "the dataset's objects are in the host's shared object store"
    victim = objects[0]
    victim.chmod(0o644)
    victim.write_bytes(b"bit rot")

    result, _ = run(integrity_flow, dataset=DATASET, repository=local_block)
    assert result["fsck"]["corrupted"] == 1 and result["fsck"]["fixed"] == [victim.name]
    assert victim.read_bytes() != b"bit rot"

    victim.chmod(0o644)
    victim.write_bytes(b"bit rot again")
    (tmp_path / "buckets" / "mlgit-datasets" / victim.name).unlink()  # and the bucket lost it too
    state = integrity_flow(dataset=DATASET, repository=local_block, return_state=True)
    assert state.is_failed()
    with pytest.raises(CorruptObject, match=r"fsck datasets: 1 corrupted item\(s\) could not be repaired"):
        state.result()


def test_the_quickstart_script_runs_every_example(
    examples: Callable[[str], ModuleType], prefect_api: str, tmp_path: Path
) -> None:
    summary = examples("quickstart").main(tmp_path / "demo")
    assert summary["model"] == MD_TAG and summary["lineage"]["dataset"]["tag"] == DS_TAG
    assert summary["lineage"]["labels"]["tag"] == LB_TAG and summary["fsck_corrupted"] == 0
    assert summary["metrics"] == {"accuracy": 1.0, "recall": 1.0}


def test_tasks_submitted_at_once_on_a_fresh_worker_set_the_workspace_up_once(
    howto_world: HowtoWorld, tmp_path: Path
) -> None:
    local_block = howto_world.block
    fresh = MLGitRepository.load(local_block).model_copy(update={"workspace": str(tmp_path / "fresh-worker")})
    fresh.save("fresh-" + local_block)

    @flow
    def all_at_once() -> list[dict[str, Any]]:
        refs = [("datasets", DATASET), ("labels", LABELS), ("models", MODEL)] * 2
        futures = [mlgit_checkout.submit("fresh-" + local_block, et, ref) for et, ref in refs]
        return [f.result() for f in futures]

    state = all_at_once(return_state=True)
    assert state.is_completed(), state.message
    assert sorted({r["tag"] for r in state.result()}) == sorted([DS_TAG, LB_TAG, MD_TAG])
