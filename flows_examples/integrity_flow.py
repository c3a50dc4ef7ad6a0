"""How-to sections 6 and 7 as a flow: download a dataset version, then check the local store."""

from __future__ import annotations

from typing import Any

from mlgit_prefect import mlgit_checkout, mlgit_fsck
from prefect import flow


@flow(name="mlgit-download-and-check")
def integrity_flow(dataset: str, repository: str = "mlgit", version: int | None = None) -> dict[str, Any]:
    """Check out ``dataset`` (latest, or ``version``) and verify every object, cached file and locked file."""
    checkout = mlgit_checkout(repository, "datasets", dataset, version=version)
    fsck = mlgit_fsck(repository, "datasets")
    return {"checkout": checkout, "fsck": fsck}


if __name__ == "__main__":
    import sys

    integrity_flow(sys.argv[1])
