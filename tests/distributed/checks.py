"""What the distributed tests check from a fresh workspace, the same for Airflow and Prefect: the
versions the runs reported against what the shared remotes and bucket hold, and the lineage
against the bytes (the toy model is recomputed from the versions its lineage names)."""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgit import Repository

BUCKET = "mlgit-shared"
DATASET, LABELS, MODEL = "toy-points", "toy-points-labels", "toy-centroids"


def fresh_workspace(path: Path, remotes: dict[str, str], bucket: Path) -> Repository:
    """A workspace of someone else (a colleague's laptop, a checking script) on the shared remotes."""
    repo = Repository.init(path)
    for et, url in remotes.items():
        repo.remote_add(et, url)
        repo.entity_init(et)
    repo.storage_add(BUCKET, type="local", path=str(bucket))
    return repo


def remote_tags(remote: str) -> dict[str, str]:
    """tag -> metadata commit sha, as the shared remote holds them."""
    out = subprocess.run(
        [
            "git",
            "-C",
            remote,
            "for-each-ref",
            "--format=%(refname:short) %(*objectname) %(objectname)",
            "refs/tags",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tags = {}
    for line in out.splitlines():
        name, peeled, obj = (line.split() + [""])[:3]
        tags[name] = peeled or obj
    return tags


@dataclass(frozen=True)
class Reported:
    """One version a run said it made (or found already made, ``created`` False)."""

    source: str  # which run / task reported it
    entity_type: str
    tag: str
    sha: str
    created: bool


def reported(source: str, result: dict[str, Any]) -> Reported:
    return Reported(
        source, result["entity_type"], result["tag"], result["sha"], bool(result.get("created", True))
    )


def check_versions_exactly_once(remotes: dict[str, str], reports: Iterable[Reported]) -> dict[str, list[str]]:
    """Every reported version is on its remote with the reported sha; no two runs made the same
    version; the remote holds no version nobody reported (no duplicate, nothing lost)."""
    reports = list(reports)
    problems = []
    by_type: dict[str, list[str]] = {}
    for et, url in remotes.items():
        tags = remote_tags(url)
        mine = [r for r in reports if r.entity_type == et]
        made = [r.tag for r in mine if r.created]
        dupes = sorted({t for t in made if made.count(t) > 1})
        if dupes:
            problems.append(
                f"{et}: made by more than one run: {dupes} ({[r for r in mine if r.tag in dupes]})"
            )
        for r in mine:
            if tags.get(r.tag) != r.sha:
                problems.append(f"{r.source} reported {r.tag} @ {r.sha}; the remote has {tags.get(r.tag)}")
        unreported = sorted(set(tags) - {r.tag for r in mine})
        if unreported:
            problems.append(f"{et}: versions on the remote that no run reported: {unreported}")
        by_type[et] = sorted(tags)
    assert not problems, "\n".join(problems)
    return by_type


def read_points(folder: Path, pattern: str) -> list[tuple[str, float, float]]:
    rows = []
    for path in sorted(folder.glob(pattern)):
        with path.open() as fh:
            rows += [(r["id"], float(r["x"]), float(r["y"])) for r in csv.DictReader(fh)]
    return rows


def airflow_toy_model(dataset_dir: Path, labels_dir: Path, model_dir: Path) -> None:
    """dags_examples' training redone from the inputs (an oracle of its own, not the DAG's code)."""
    with (labels_dir / "annotations" / "labels.csv").open() as fh:
        labels = {r["id"]: int(r["label"]) for r in csv.DictReader(fh)}
    train = read_points(dataset_dir, "data/train/*.csv")
    want = {}
    for cls in (0, 1):
        members = [(x, y) for i, x, y in train if labels[i] == cls]
        want[str(cls)] = (
            sum(x for x, _ in members) / len(members),
            sum(y for _, y in members) / len(members),
        )
    _same_centroids(json.loads((model_dir / "model.json").read_text()), want)


def prefect_toy_model(dataset_dir: Path, labels_dir: Path, model_dir: Path) -> None:
    """flows_examples' training redone from the inputs."""
    with (labels_dir / "annotations" / "labels.csv").open() as fh:
        labels = {r["id"]: r["label"] for r in csv.DictReader(fh)}
    points = {i: (x, y) for i, x, y in read_points(dataset_dir, "data/points.csv")}
    want = {}
    for cls in sorted(set(labels.values())):
        members = [points[i] for i, c in labels.items() if c == cls]
        want[cls] = (sum(x for x, _ in members) / len(members), sum(y for _, y in members) / len(members))
    _same_centroids(json.loads((model_dir / "data" / "model.json").read_text())["centroids"], want)


def _same_centroids(stored: dict[str, Any], want: dict[str, tuple[float, float]]) -> None:
    assert sorted(stored) == sorted(want), f"model classes {sorted(stored)}, trained classes {sorted(want)}"
    for cls, (x, y) in want.items():
        got = stored[cls]
        assert abs(got[0] - x) < 1e-9 and abs(got[1] - y) < 1e-9, f"model {stored} is not the training {want}"


def check_model_lineage(
    repo: Repository, tag: str, oracle: Callable[[Path, Path, Path], None]
) -> dict[str, str]:
    """The model's bytes are what training on the dataset and labels versions its lineage names
    gives; the links' shas are the shas of those tags. Returns the lineage as {dataset, labels}."""
    model = repo.checkout("models", tag, force=True)
    assert model.dataset is not None and model.labels is not None, f"{tag} has no lineage: {model}"
    data = repo.checkout("datasets", model.dataset.tag, force=True)
    labels = repo.checkout("labels", model.labels.tag, force=True)
    assert (data.sha, labels.sha) == (model.dataset.sha, model.labels.sha), f"{tag}: lineage sha mismatch"
    try:
        oracle(Path(data.path), Path(labels.path), Path(model.path))
    except AssertionError as err:
        raise AssertionError(f"{tag} (lineage {data.tag} + {labels.tag}): {err}") from None
    return {"dataset": model.dataset.tag, "labels": model.labels.tag}


def write_labels(dataset_dir: Path, labels_dir: Path, rule: Callable[[float, float], Any]) -> int:
    """A colleague's annotation of every point of the dataset: the class is ``rule(x, y)``."""
    rows = [(i, rule(x, y)) for i, x, y in read_points(dataset_dir, "data/**/*.csv")]
    target = labels_dir / "annotations" / "labels.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "label"])
        out.writerows(sorted(rows))
    return len(rows)
