"""``<type> fetch TAG``: bring a version's objects (descriptors and chunks) into the local object
store without touching the workspace, as ML-Git's fetch does; a later checkout then reads no network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import index as idx
from ..cid import parse_descriptor
from ..transfer import Progress, download

if TYPE_CHECKING:
    from ..repository import Repository
    from ..sampling import Sample


def fetch(
    repo: Repository,
    et: str,
    ref: str,
    version: int | None = None,
    progress: Progress | None = None,
    sample: Sample | Mapping[str, Any] | None = None,
) -> tuple[str, int]:
    """(tag, objects downloaded); with ``sample`` only the files a sampled checkout would take."""
    from .. import sampling

    tag, name = repo._resolve_ref(et, ref, version)
    body, manifest, _, _ = repo._read_version(et, tag, name)
    if sample is not None:
        manifest = sampling.apply(sample, manifest, tag)
    objects = repo._objects(et)
    threads = int(repo.config["push_threads_count"])
    storage = repo._storage(body["manifest"]["storage"])
    try:
        files = set(manifest.values())
        got = len(download(storage, objects, files, threads, progress).done)
        chunks = {c for cid in files for c, _ in parse_descriptor(objects.get(cid))}
        got += len(download(storage, objects, chunks, threads, progress).done)
    finally:
        storage.close()
    return tag, got


def version_descriptors(repo: Repository, et: str, name: str) -> dict[str, set[str]]:
    """storage URI -> the file CIDs (descriptors) every version of ``name`` names there."""
    storages: dict[str, set[str]] = {}
    for tag in repo.metadata(et).tags(name):
        body, manifest, _, _ = repo._read_version(et, tag, name)
        storages.setdefault(str(body["manifest"]["storage"]), set()).update(manifest.values())
    return storages


def restore_descriptors(repo: Repository, et: str, name: str) -> int:
    """ML-Git's ``remote-fsck --thorough``: download the descriptors of every version of ``name``
    the local store lacks; returns how many were restored."""
    storages = version_descriptors(repo, et, name)
    objects = repo._objects(et)
    got = 0
    for uri, cids in storages.items():
        lacking = {c for c in cids if not objects.exists(c)}
        if not lacking:
            continue
        storage = repo._storage(uri)
        try:
            got += len(download(storage, objects, lacking, int(repo.config["push_threads_count"])).done)
        finally:
            storage.close()
    return got


def missing_descriptors(repo: Repository, et: str, fix: bool = True) -> tuple[list[str], list[str]]:
    """(missing, restored): descriptors the entities' indexes name that the local store lacks (a
    file removed from ``objects/``), downloaded again from each entity's storage when ``fix``."""
    from .. import spec as specs
    from ..errors import MLGitError
    from ..workspace import list_entities

    objects = repo._objects(et)
    missing: list[str] = []
    restored: list[str] = []
    for name, path in list_entities(repo.root / et).items():
        index, _ = repo._staged(et, name)
        lacking = sorted(
            {e.cid for e in index.values() if e.status != idx.BARE and not objects.exists(e.cid)}
        )
        if not lacking:
            continue
        missing += lacking
        if not fix:
            continue
        try:
            body = specs.load(specs.spec_file(path, name), et, name)
            storage = repo._storage(body["manifest"]["storage"])
        except MLGitError:
            continue
        try:
            download(storage, objects, lacking, int(repo.config["push_threads_count"]))
        except MLGitError:
            pass
        finally:
            storage.close()
        restored += [c for c in lacking if objects.exists(c)]
    return missing, restored
