"""``<type> export TAG BUCKET``: copy every object of a version to another bucket (ML-Git's export).

The objects come from the local store when it has them, else from the version's own storage; each
is verified against its CID before it is written to the target.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cid import parse_descriptor
from ..objects import LocalObjects
from ..storage import Storage, open_storage
from ..transfer import Progress, fetch_verified, upload

if TYPE_CHECKING:
    from ..repository import Repository


class _Mixed:
    """Local objects first, the version's storage for the rest (a Source for ``upload``)."""

    def __init__(self, local: LocalObjects, remote: Storage) -> None:
        self.local, self.remote = local, remote

    @property
    def root(self) -> Path:
        return self.local.root

    def exists(self, cid: str) -> bool:
        return True

    def get(self, cid: str, verify: bool = True) -> bytes:
        if self.local.exists(cid):
            return self.local.get(cid, verify)
        return fetch_verified(self.remote, cid)


def target_storage(
    repo: Repository, bucket: str, profile: str | None, region: str | None, endpoint: str | None
) -> Storage:
    """``bucket`` as configured in the project (any type), else an S3 bucket from the options."""
    storages: dict[str, Any] = dict(repo.config.get("storages") or {})
    for scheme, section in storages.items():
        if bucket in (section or {}):
            return open_storage(f"{scheme}://{bucket}", storages, repo.root)
    settings = {"aws-credentials": {"profile": profile}, "region": region, "endpoint-url": endpoint}
    return open_storage(f"s3h://{bucket}", {"s3h": {bucket: settings}}, repo.root)


def export(
    repo: Repository,
    et: str,
    tag: str,
    bucket: str,
    profile: str | None = None,
    region: str | None = None,
    endpoint: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Returns how many objects were written to the target (the rest were there already)."""
    tag, name = repo._resolve_ref(et, tag, None)
    body, manifest, _, _ = repo._read_version(et, tag, name)
    source_storage = repo._storage(body["manifest"]["storage"])
    target = target_storage(repo, bucket, profile, region, endpoint)
    try:
        source = _Mixed(LocalObjects(repo._objects(et), repo._cache(et)), source_storage)
        keys: set[str] = set()
        for cid in set(manifest.values()):
            if repo._objects(et).exists(cid):
                keys.update(source.local.register(cid))  # chunks read from the cached file when there
            else:
                keys.add(cid)
                keys.update(c for c, _ in parse_descriptor(source.get(cid)))
        threads = int(repo.config["push_threads_count"])
        return len(upload(target, source, keys, threads, progress).done)
    finally:
        target.close()
        source_storage.close()
