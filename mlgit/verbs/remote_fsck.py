"""``remote-fsck``: every object an entity's committed versions name must be in its storage.

As ML-Git's ``remote-fsck``: objects missing from the bucket are re-uploaded from the local
object store. With ``thorough`` each bucket object is also downloaded and checked against its
CID; a corrupted one is replaced from a good local copy. What cannot be repaired is reported.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..cid import cid_matches, is_cid, parse_descriptor
from ..errors import CorruptObject, ManifestError, MLGitError, ObjectNotFound
from ..names import check_name
from ..objects import LocalObjects
from ..results import ToDict
from ..storage import Storage
from ..transfer import fetch_verified, retry, run_pool

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteFsckResult(ToDict):
    """What ``remote_fsck`` found in the storage for one entity (keys are CIDs)."""

    entity_type: str
    name: str
    versions: list[str]  # the tags checked
    objects_checked: int  # descriptors + chunks named by those versions
    missing: list[str]  # not in the storage
    corrupted: list[str]  # in the storage, but not matching their CID (thorough only)
    fixed: list[str]  # uploaded again from the local object store
    unfixable: list[str]  # missing/corrupted and no good local copy (or a descriptor that could not be read)
    thorough: bool = False
    storages: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.corrupted)

    def summary(self) -> str:
        """One line for a log: what was checked and found (the integrations log it after each run)."""
        return (
            f"{self.entity_type}/{self.name}: {self.objects_checked} objects checked in {len(self.versions)} "
            f"version(s), {len(self.missing)} missing, {len(self.corrupted)} corrupted, {len(self.fixed)} fixed"
        )


def _local(objects: LocalObjects, cid: str) -> bytes | None:
    """The local copy of ``cid`` (an object, or a chunk cut from a cached file) when it is there and whole."""
    try:
        return objects.get(cid, verify=True) if objects.exists(cid) else None
    except (CorruptObject, OSError):
        return None


def _chunks(descriptor: bytes, cid: str) -> list[str]:
    try:
        links = [h for h, _ in parse_descriptor(descriptor)]
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(
            f"descriptor {cid}: expected {{'Links': [{{'Hash', 'Size'}}]}} ({exc!r})"
        ) from exc
    bad = [h for h in links if not is_cid(h)]
    if bad:
        raise ManifestError(f"descriptor {cid}: expected chunk CIDs, found {bad[0]!r}")
    return links


def remote_fsck(
    ctx: Context, et: str, name: str, thorough: bool = False, fix: bool = True
) -> RemoteFsckResult:
    """Check (and with ``fix`` repair) the storage objects of every version of ``et`` ``name``."""
    check_name(name)
    md = ctx.metadata(et)
    md.fetch()
    tags = md.tags(name)
    objects = LocalObjects(ctx.layout.objects(et), ctx.layout.cache(et))
    threads = ctx.threads
    by_storage: dict[str, set[str]] = {}
    for tag in tags:
        body, manifest, _, _ = ctx.store.read_version(et, tag, name)
        by_storage.setdefault(str(body["manifest"]["storage"]), set()).update(manifest.values())
    missing: set[str] = set()
    corrupted: set[str] = set()
    fixed: set[str] = set()
    unfixable: set[str] = set()
    checked = 0
    for uri, file_cids in sorted(by_storage.items()):
        storage = ctx.storage(uri)
        try:
            keys, m, c, f, u = _check_storage(storage, objects, file_cids, thorough, fix, threads)
        finally:
            storage.close()
        checked += len(keys)
        missing |= m
        corrupted |= c
        fixed |= f
        unfixable |= u
    return RemoteFsckResult(
        et,
        name,
        tags,
        checked,
        sorted(missing),
        sorted(corrupted),
        sorted(fixed),
        sorted(unfixable),
        thorough,
        sorted(by_storage),
    )


def _check_storage(
    storage: Storage, objects: LocalObjects, file_cids: set[str], thorough: bool, fix: bool, threads: int
) -> tuple[set[str], set[str], set[str], set[str], set[str]]:
    where = storage.where()
    storage.check()
    for cid in sorted(file_cids):  # chunks that live only inside cached files (strict/flexible add)
        try:
            objects.register(cid)
        except (MLGitError, OSError, ValueError, KeyError, TypeError):
            pass  # no (good) local descriptor: read from the storage below
    absent = retry(lambda: storage.missing(sorted(file_cids)), f"listing {where}")
    keys: set[str] = set(file_cids)
    missing: set[str] = set(absent)
    corrupted: set[str] = set()
    unfixable: set[str] = set()
    lock = threading.Lock()

    # descriptors: from the local store, else from the storage (verified), to learn the chunks
    def chunks_of(cid: str) -> None:
        data = _local(objects, cid)
        if data is None and cid not in absent:
            try:
                data = fetch_verified(storage, cid)
            except CorruptObject:
                with lock:
                    corrupted.add(cid)
                return
            except ObjectNotFound:
                with lock:
                    missing.add(cid)
                return
        if data is None:
            return  # missing remotely and locally: reported below, its chunks cannot be known
        try:
            links = _chunks(data, cid)
        except ManifestError as exc:
            log.warning("remote-fsck: %s", exc)
            with lock:
                unfixable.add(cid)
            return
        with lock:
            keys.update(links)

    report = run_pool("remote-fsck", sorted(file_cids), chunks_of, threads, None, None)
    if report.failed:
        first = next(iter(report.failed.items()))
        raise MLGitError(
            f"remote-fsck: could not read {len(report.failed)} descriptor(s) from {where} "
            f"(first: {first[0]}: {first[1]})"
        )
    chunk_keys = sorted(keys - file_cids)
    missing |= retry(lambda: storage.missing(chunk_keys), f"listing {where}") if chunk_keys else set()

    if thorough:

        def verify(cid: str) -> None:
            try:
                data = retry(lambda: storage.get(cid), f"download {cid}")
            except ObjectNotFound:
                with lock:
                    missing.add(cid)
                return
            if not cid_matches(cid, data):
                with lock:
                    corrupted.add(cid)

        present = sorted(keys - missing - corrupted)
        report = run_pool("remote-fsck", present, verify, threads, None, None)
        if report.failed:
            first = next(iter(report.failed.items()))
            raise MLGitError(
                f"remote-fsck: could not read {len(report.failed)} object(s) from {where} "
                f"(first: {first[0]}: {first[1]})"
            )

    fixed: set[str] = set()
    broken = sorted(missing | corrupted)
    if fix and broken:

        def repair(cid: str) -> None:
            data = _local(objects, cid)
            if data is None:
                with lock:
                    unfixable.add(cid)
                return
            retry(lambda: storage.put(cid, data), f"upload {cid}")
            with lock:
                fixed.add(cid)

        report = run_pool("remote-fsck", broken, repair, threads, None, None)
        unfixable.update(report.failed)
        for cid, err in report.failed.items():
            log.warning("remote-fsck: could not upload %s to %s: %s", cid, where, err)
    elif broken:
        unfixable.update(c for c in broken if _local(objects, c) is None)
    for cid in sorted(unfixable):
        log.warning("remote-fsck: %s in %s cannot be repaired from %s", cid, where, objects.root)
    return keys, missing, corrupted, fixed, unfixable


__all__ = ["RemoteFsckResult", "remote_fsck"]
