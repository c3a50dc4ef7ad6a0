"""``fsck``: verify every local object, cached file and locked workspace file; repair what can be."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import index as idx
from .. import spec as specs
from ..atomic import remove_stale_temps
from ..cid import cid_of, hash_file
from ..errors import MetadataError, MLGitError
from ..materialize import Builder
from ..results import FsckResult
from ..safety import refuse_symlinked_parents
from ..storage import Storage
from ..transfer import download
from ..workspace import list_entities

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)


def fsck(ctx: Context, et: str, fix: bool = True) -> FsckResult:
    """Verify every local object, cached file and locked workspace file; repair what can be repaired.

    Corrupted objects are removed and fetched again from the storage; a corrupted cache entry is
    removed (the cache is rebuilt on demand); a corrupted workspace file of a strict/flexible
    entity is rebuilt from the local objects or the storage.
    """

    if not ctx.metadata(et).exists:
        raise MetadataError(
            f"The {et} doesn't have been initialized (no {ctx.metadata(et).path}); run: ml-git {et} init"
        )
    objects, cache = ctx.layout.objects(et), ctx.layout.cache(et)
    if fix:
        for folder in (objects.root, cache.root, ctx.layout.tmp_dir):  # mlgit's own folders only
            if folder.is_dir():
                remove_stale_temps(folder)  # leftovers of writes killed mid-way
    bad_objects, bad_cache, bad_work, fixed, unfixable = [], [], [], [], []
    checked = 0
    for cid in list(objects):
        checked += 1
        try:
            ok = cid_of(objects.path(cid).read_bytes()) == cid
        except OSError:
            ok = False
        if not ok:
            bad_objects.append(cid)
            if fix:  # --no-fix only reports: the store is left as it was
                objects.remove(cid)
    for cid in list(cache):
        checked += 1
        if hash_file(cache.path(cid)).cid != cid:
            bad_cache.append(cid)
            if fix:
                cache.remove(cid)
    threads = ctx.threads
    storages: dict[str, Storage | None] = {}

    def storage_for(uri: str) -> Storage | None:
        if uri not in storages:
            try:
                storages[uri] = ctx.storage(uri)
            except MLGitError as exc:
                log.info("fsck: storage %s unavailable: %s", uri, exc)
                storages[uri] = None
        return storages[uri]

    entities = {}
    for ename, epath in list_entities(ctx.layout.entity_root(et)).items():
        try:
            entities[ename] = (epath, specs.load(specs.spec_file(epath, ename), et, ename))
        except MLGitError as exc:
            log.info("fsck: skipping %s: %s", ename, exc)
    try:
        if fix and bad_objects:
            remaining = set(bad_objects)
            for uri in sorted({body["manifest"]["storage"] for _, body in entities.values()}):
                storage = storage_for(uri)
                if storage is None or not remaining:
                    continue
                try:
                    download(storage, objects, remaining, threads)
                except MLGitError as exc:
                    log.info("fsck: could not restore objects from %s: %s", uri, exc)
                remaining = {c for c in remaining if not objects.exists(c)}
            fixed += [c for c in bad_objects if c not in remaining]
            unfixable += sorted(remaining)
        for ename, (epath, body) in entities.items():
            mutability = body.get("mutability", "strict")
            if mutability == "mutable":
                continue
            index, _ = ctx.store.staged(et, ename)
            changed = False
            for rel, entry in index.items():
                target = epath / rel
                if entry.status in (idx.UNLOCKED, idx.BARE) or not target.exists():
                    continue
                if entry.cid not in bad_cache and idx.matches_file(target, entry):
                    continue
                if entry.cid not in bad_cache and hash_file(target).cid == entry.cid:
                    index[rel], changed = idx.Entry.from_stat(entry.cid, target.stat()), True
                    continue
                bad_work.append(f"{ename}/{rel}")
                if not fix:
                    continue
                try:
                    storage = storage_for(body["manifest"]["storage"])
                    refuse_symlinked_parents(ctx.root, target.parent)  # never rebuilt through a symlink
                    builder = Builder(objects, cache, mutability, storage, ctx.layout.tmp_dir)
                    st = builder.build(entry.cid, target)
                    assert st is not None
                    index[rel], changed = idx.Entry.from_stat(entry.cid, st), True
                    fixed.append(f"{ename}/{rel}")
                except (MLGitError, OSError) as exc:
                    unfixable.append(f"{ename}/{rel}")
                    log.info("fsck: cannot restore %s/%s: %s", ename, rel, exc)
            if changed:
                ctx.store.save_staged(et, ename, index)
    finally:
        for storage in storages.values():
            if storage is not None:
                storage.close()
    if fix:
        fixed += bad_cache  # removed: rebuilt from objects or storage when next needed
    return FsckResult(et, checked, bad_objects, bad_cache, bad_work, fixed, unfixable)
