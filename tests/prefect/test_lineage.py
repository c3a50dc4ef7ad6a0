"""mlgit_commit's links: found in the flow run, passed in, ambiguous, or turned off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlgit_prefect import MLGitRepository, mlgit_add, mlgit_checkout, mlgit_commit
from prefect import flow

from mlgit import InvalidName, Repository

DS1, DS2 = "cv__points__1", "cv__points__2"


@pytest.fixture
def one_folder(local_block: str) -> str:
    """The block with ``run_folders`` off: the flows below run in the workspace folder the test stages in."""
    name = f"{local_block}-one-folder"
    block = MLGitRepository.load(local_block)
    block.model_copy(update={"run_folders": False}).save(name, overwrite=True)  # type: ignore[attr-defined]
    return name


@pytest.fixture
def two_datasets(one_folder: str, sample: Path) -> Repository:
    """Datasets ``points`` (versions 1 and 2) and ``other`` pushed, and a labels entity staged in the workspace."""
    repo = MLGitRepository.load(one_folder).get_repository()
    for name, versions in (("points", 2), ("other", 1)):
        path = repo.create("datasets", name, categories="cv", storage_type="local", bucket="mlgit-datasets")
        for v in range(1, versions + 1):
            (path / f"part{v}.csv").write_bytes(
                (sample / "data" / "points.csv").read_bytes() + str(v).encode()
            )
            repo.add("datasets", name, bumpversion=v > 1)
            repo.commit("datasets", name)
            repo.push("datasets", name)
    labels = repo.create(
        "labels", "marks", categories="cv", mutability="mutable", storage_type="local", bucket="mlgit-labels"
    )
    (labels / "labels.csv").write_bytes((sample / "annotations" / "labels.csv").read_bytes())
    return repo


def commit_labels(block: str, checkouts: list[tuple[str, int | None]], **commit: Any) -> Any:
    @flow
    def labels_flow() -> dict[str, Any]:
        taken = [mlgit_checkout(block, "datasets", name, version=version) for name, version in checkouts]
        mlgit_add(block, "labels", "marks")
        if commit.pop("pass_first", False):
            commit["dataset"] = taken[0]
        return mlgit_commit(block, "labels", "marks", **commit)

    return labels_flow(return_state=True)


def test_the_version_checked_out_in_this_flow_run_is_linked(
    one_folder: str, two_datasets: Repository
) -> None:
    state = commit_labels(one_folder, [("points", 1)])
    result = state.result()
    assert result["dataset"] == {"tag": DS1, "sha": two_datasets.metadata("datasets").tag_sha(DS1)}
    assert two_datasets.show("labels", "marks")["dataset"]["tag"] == DS1  # not the latest: what the flow took


def test_a_later_checkout_of_the_same_dataset_wins(one_folder: str, two_datasets: Repository) -> None:
    result = commit_labels(one_folder, [("points", 1), ("points", 2)]).result()
    assert result["dataset"]["tag"] == DS2


def test_a_checkout_result_passed_in_is_used_as_is(one_folder: str, two_datasets: Repository) -> None:
    result = commit_labels(one_folder, [("points", 1), ("other", None)], pass_first=True).result()
    assert result["dataset"]["tag"] == DS1


def test_two_datasets_checked_out_and_none_named_is_refused(
    one_folder: str, two_datasets: Repository
) -> None:
    state = commit_labels(one_folder, [("points", 2), ("other", None)])
    assert state.is_failed()
    with pytest.raises(InvalidName, match=r"found 2 \(other, points\); pass dataset=NAME"):
        state.result()
    named = commit_labels(one_folder, [("points", 2), ("other", None)], dataset="other").result()
    assert named["dataset"]["tag"] == "cv__other__1"


def test_auto_lineage_off_links_nothing(one_folder: str, two_datasets: Repository) -> None:
    result = commit_labels(one_folder, [("points", 1)], auto_lineage=False).result()
    assert result["dataset"] is None and "dataset" not in two_datasets.show("labels", "marks")
