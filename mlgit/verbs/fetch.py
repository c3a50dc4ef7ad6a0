"""``<type> fetch TAG``: bring a version's objects (descriptors and chunks) into the local object
store without touching the workspace, as ML-Git's fetch does; a later checkout then reads no network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import index as idx
from ..cid import parse_descriptor
from ..transfer import Progress, download

if TYPE_CHECKING:
    from ..context import Context
    from ..sampling import Sample


def fetch(
    ctx: Context,
    et: str,
    ref: str,
    version: int | None = None,
    progress: Progress | None = None,
    sample: Sample | Mapping[str, Any] | None = None,
) -> tuple[str, int]:
    """(tag, objects downloaded); with ``sample`` only the files a sampled checkout would take."""
    from .. import sampling

    tag, name = ctx.store.resolve_ref(et, ref, version)
    body, manifest, _, _ = ctx.store.read_version(et, tag, name)
    if sample is not None:
        manifest = sampling.apply(sample, manifest, tag)
    objects = ctx.layout.objects(et)
    threads = ctx.threads
    storage = ctx.storage(body["manifest"]["storage"])
    try:
        files = set(manifest.values())
        got = len(download(storage, objects, files, threads, progress).done)
        chunks = {c for cid in files for c, _ in parse_descriptor(objects.get(cid))}
        got += len(download(storage, objects, chunks, threads, progress).done)
    finally:
        storage.close()
    return tag, got


def version_descriptors(ctx: Context, et: str, name: str) -> dict[str, set[str]]:
    """storage URI -> the file CIDs (descriptors) every version of ``name`` names there."""
    storages: dict[str, set[str]] = {}
    for tag in ctx.metadata(et).tags(name):
        body, manifest, _, _ = ctx.store.read_version(et, tag, name)
        storages.setdefault(str(body["manifest"]["storage"]), set()).update(manifest.values())
    return storages


def restore_descriptors(ctx: Context, et: str, name: str) -> int:
    """ML-Git's ``remote-fsck --thorough``: download the descriptors of every version of ``name``
    the local store lacks; returns how many were restored."""
    storages = version_descriptors(ctx, et, name)
    objects = ctx.layout.objects(et)
    got = 0
    for uri, cids in storages.items():
        lacking = {c for c in cids if not objects.exists(c)}
        if not lacking:
            continue
        storage = ctx.storage(uri)
        try:
            got += len(download(storage, objects, lacking, ctx.threads).done)
        finally:
            storage.close()
    return got


def missing_descriptors(ctx: Context, et: str, fix: bool = True) -> tuple[list[str], list[str]]:
    """(missing, restored): descriptors the entities' indexes name that the local store lacks (a
    file removed from ``objects/``), downloaded again from each entity's storage when ``fix``."""
    from .. import spec as specs
    from ..errors import MLGitError
    from ..workspace import list_entities

    objects = ctx.layout.objects(et)
    missing: list[str] = []
    restored: list[str] = []
    for name, path in list_entities(ctx.root / et).items():
        index, _ = ctx.store.staged(et, name)
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
            storage = ctx.storage(body["manifest"]["storage"])
        except MLGitError:
            continue
        try:
            download(storage, objects, lacking, ctx.threads)
        except MLGitError:
            pass
        finally:
            storage.close()
        restored += [c for c in lacking if objects.exists(c)]
    return missing, restored
