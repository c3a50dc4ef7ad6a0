"""MLGitCheckoutOperator(sample=...): the files ML-Git 2.9.9 selected, from a dict or rendered template text.

Fast operator tests (no DAG run): ``repository()`` is patched to return a real workspace on the
fixture ML-Git wrote, so the checkout itself is real."""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest import mock

import pytest
import yaml
from airflow_helpers import ROOT
from mlgit_airflow import MLGitCheckoutOperator
from mlgit_airflow._entities import MLGitInputError

from mlgit import InvalidSample, Repository

DATA = ROOT / "tests" / "data"
FIXTURE = DATA / "mlgit-2.9.9"
EXPECTED = yaml.safe_load((DATA / "sampling" / "expected.yaml").read_text())["selected"]
TAG = "vision__wildlife__birds__2"


@pytest.fixture
def fixture_repo(tmp_path: Path) -> Repository:
    import subprocess

    repo = Repository.init(tmp_path / "ws")
    for et in ("datasets", "labels", "models"):
        bare = tmp_path / f"{et}.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(FIXTURE / f"{et}.bundle"), str(bare)], check=True)
        repo.remote_add(et, str(bare))
        repo.entity_init(et)
    shutil.copytree(FIXTURE / "bucket", tmp_path / "bucket")
    repo.set_config("storages", {"s3h": {"mlgit-fixture": {"path": str(tmp_path / "bucket")}}})
    return repo


def _files(path: str) -> list[str]:
    root = Path(path)
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix != ".spec" and p.name != "README.md"
    )


@pytest.mark.parametrize(
    ("sample", "case"),
    [
        pytest.param({"group": "1:3", "seed": "1"}, "group 1:3 seed=1", id="dict"),
        pytest.param('{"random": "2:5", "seed": "42"}', "random 2:5 seed=42", id="json-text"),
        pytest.param("{'range': '2:all'}", "range 2:all seed=1", id="python-text"),
    ],
)
def test_checkout_operator_samples_as_mlgit(fixture_repo: Repository, sample: object, case: str) -> None:
    op = MLGitCheckoutOperator(task_id="checkout", entity_type="dataset", ref=TAG, sample=sample)
    assert "sample" in op.template_fields
    with mock.patch.object(MLGitCheckoutOperator, "repository", return_value=fixture_repo):
        xcom = op.run_verb({})  # type: ignore[arg-type]
    assert _files(xcom["path"]) == EXPECTED[TAG][case] and xcom["tag"] == TAG


def test_checkout_operator_refuses_a_bad_sample(fixture_repo: Repository) -> None:
    with mock.patch.object(MLGitCheckoutOperator, "repository", return_value=fixture_repo):
        op = MLGitCheckoutOperator(task_id="c", entity_type="datasets", ref=TAG, sample="group 1:3")
        with pytest.raises(MLGitInputError, match="sample: expected a mapping"):
            op.run_verb({})  # type: ignore[arg-type]
        op = MLGitCheckoutOperator(
            task_id="c", entity_type="datasets", ref=TAG, sample={"group": "3:2", "seed": "1"}
        )
        with pytest.raises(InvalidSample, match="AMOUNT"):
            op.run_verb({})  # type: ignore[arg-type]
