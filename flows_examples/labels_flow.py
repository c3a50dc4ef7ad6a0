"""How-to section 4 as a flow: labels linked to the dataset version they annotate.

The flow checks the dataset out first; ``mlgit_commit`` then links that very version (tag and sha)
in the labels' spec, with no ``dataset=`` argument.
"""

from __future__ import annotations

from typing import Any

from common import copy_into  # flows_examples/common.py: run these files from this folder
from mlgit_prefect import mlgit_add, mlgit_checkout, mlgit_commit, mlgit_create, mlgit_push
from prefect import flow


@flow(name="mlgit-labels")
def labels_flow(
    source: str,
    dataset: str,
    repository: str = "mlgit",
    name: str = "mscoco-captions",
    categories: str = "computer-vision, captions",
    dataset_version: int | None = None,
) -> dict[str, Any]:
    """Version the annotation files of ``source`` as labels ``name``, linked to ``dataset``."""
    mlgit_checkout(repository, "datasets", dataset, version=dataset_version)
    created = mlgit_create(repository, "labels", name, categories=categories, mutability="mutable")
    copy_into(source, created["path"], "annotations")
    mlgit_add(repository, "labels", name, bumpversion=True)
    mlgit_commit(repository, "labels", name)  # links the dataset checked out above
    return mlgit_push(repository, "labels", name)


if __name__ == "__main__":
    import sys

    labels_flow(sys.argv[1], sys.argv[2])
