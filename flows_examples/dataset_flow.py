"""How-to sections 2 and 3 as a flow: create a dataset, put data in it, add, commit, push.

Run it again with more files in ``source``: the dataset gets the next version (``bumpversion``);
run it again with the same files: nothing new is versioned.

    python flows_examples/dataset_flow.py      # needs a saved MLGitRepository block named "mlgit"
"""

from __future__ import annotations

from typing import Any

from common import copy_into  # flows_examples/common.py: run these files from this folder
from mlgit_prefect import mlgit_add, mlgit_commit, mlgit_create, mlgit_push
from prefect import flow


@flow(name="mlgit-dataset")
def dataset_flow(
    source: str,
    repository: str = "mlgit",
    name: str = "imagenet8",
    categories: str = "computer-vision, images",
    mutability: str = "strict",
) -> dict[str, Any]:
    """Version the files of ``source`` as dataset ``name`` (its ``data/`` folder)."""
    created = mlgit_create(repository, "datasets", name, categories=categories, mutability=mutability)
    copy_into(source, created["path"], "data")
    mlgit_add(repository, "datasets", name, bumpversion=True)
    mlgit_commit(repository, "datasets", name)
    return mlgit_push(repository, "datasets", name)


if __name__ == "__main__":
    import sys

    dataset_flow(sys.argv[1] if len(sys.argv) > 1 else ".")
