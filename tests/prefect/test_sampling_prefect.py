"""mlgit_checkout(sample=...) in a flow: the files ML-Git 2.9.9's sampling selected from the same version."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import DATA, sampling_files
from mlgit_prefect import MLGitRepository, mlgit_checkout
from prefect import flow

from mlgit import InvalidSample

EXPECTED = yaml.safe_load((DATA / "sampling" / "expected.yaml").read_text())["selected"]["sampling__many__1"]


def _files(path: str) -> list[str]:
    root = Path(path)
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix != ".spec" and p.relative_to(root).as_posix() != "README.md"
    )  # the spec and README.md are metadata, not sampled data


def test_mlgit_checkout_samples_as_mlgit(local_block: str) -> None:
    repo = MLGitRepository.load(local_block).get_repository()
    path = repo.create(
        "datasets", "many", categories="sampling", storage_type="local", bucket="mlgit-datasets"
    )
    for rel, data in sampling_files().items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    repo.add("datasets", "many")
    repo.commit("datasets", "many")
    repo.push("datasets", "many")

    @flow
    def sampled() -> list[dict]:
        return [
            mlgit_checkout(local_block, "datasets", "many", sample={"group": "2:5", "seed": "7"}, force=True),
            mlgit_checkout(
                local_block, "datasets", "many", sample={"random": "3:10", "seed": "7"}, force=True
            ),
        ]

    group, rnd = sampled()
    assert group["files"] == len(EXPECTED["group 2:5 seed=7"])
    assert _files(rnd["path"]) == EXPECTED["random 3:10 seed=7"]

    @flow
    def bad() -> dict:
        return mlgit_checkout(local_block, "datasets", "many", sample={"group": "1:2"})

    state = bad(return_state=True)
    assert state.is_failed()
    with pytest.raises(InvalidSample, match="a seed is needed"):
        state.result()
