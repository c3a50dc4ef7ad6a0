"""The quick-start demo: a dataset, labels linked to it, and a model with metrics linked to both,
on the embedded default (local storage and bare git remotes in one folder). Returns what it did;
the CLI prints it."""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import EntityNotFound, GitIdentityMissing
from .repository import Repository
from .results import Lineage, VersionResult
from .verbs.setup import StorageSpec, WorkspaceSetup


@dataclass(frozen=True)
class DemoResult:
    workspace: Path
    versions: list[VersionResult]
    lineage: Lineage
    metrics: dict[str, dict[str, float]]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def run(folder: Path) -> DemoResult:
    folder = folder.resolve()
    rng = random.Random(7)
    remotes = {}
    for et in ("datasets", "labels", "models"):
        remotes[et] = folder / "remotes" / f"{et}.git"
        if not remotes[et].exists():
            subprocess.run(["git", "init", "-q", "--bare", str(remotes[et])], check=True)
    wanted = WorkspaceSetup(
        remotes={et: str(url) for et, url in remotes.items()},
        storages=[StorageSpec("demo-bucket", "local", path=str(folder / "bucket"))],
    )
    repo = Repository.setup(folder / "workspace", wanted)
    for et in remotes:
        try:
            repo.metadata(et).check_identity()
        except GitIdentityMissing:  # a fresh machine: sign the demo's own commits, locally only
            repo.metadata(et).git("config", "user.name", "mlgit demo")
            repo.metadata(et).git("config", "user.email", "demo@mlgit.invalid")
    done: list[VersionResult] = []

    def version(
        et: str, name: str, cats: str, mutability: str, files: dict[str, bytes], **commit: object
    ) -> None:
        try:
            path = repo.entity_path(et, name)
        except EntityNotFound:
            path = repo.create(et, name, cats, mutability, "local", "demo-bucket")
        for rel, data in files.items():
            target = path / rel
            if not target.exists():
                _write(target, data)
        metrics = commit.pop("metrics", None)
        repo.add(et, name, metrics=metrics)  # type: ignore[arg-type]
        repo.commit(et, name, auto_bump=True, **commit)  # type: ignore[arg-type]
        done.append(repo.push(et, name))

    images = {f"data/img_{i:03d}.bin": rng.randbytes(4096) for i in range(50)}
    version("datasets", "birds", "vision, demo", "strict", images)
    boxes = {"boxes.json": b'{"img_000.bin": [1, 2, 30, 40]}\n'}
    version("labels", "birds-boxes", "vision, demo", "mutable", boxes, dataset="birds")
    weights = {"weights.bin": rng.randbytes(300_000)}
    version(
        "models",
        "birdnet",
        "vision, demo",
        "mutable",
        weights,
        metrics={"accuracy": 0.91, "f1": 0.88},
        dataset="birds",
        labels="birds-boxes",
    )
    return DemoResult(repo.root, done, repo.lineage("models", "birdnet"), repo.metrics("models", "birdnet"))
