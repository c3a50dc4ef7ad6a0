"""Whole files in the workspace from their descriptors and chunks.

Chunks stream from the local object store when it has them, else from the storage (each one
verified against its CID), straight into a temp file beside the destination, renamed when whole:
peak memory is one chunk per worker, and checkout writes each byte once. Strict and flexible
files go to the cache and are hardlinked, read-only, into the workspace; mutable files are
private copies.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path

from .errors import ObjectNotFound
from .objects import HashFS, descriptor_chunks, temp_name
from .storage.base import Storage
from .transfer import Progress, TransferReport, _raise_failed, fetch_verified, run_pool
from .workspace import make_read_only


class Builder:
    """Puts files at their targets; safe to call from many threads."""

    def __init__(
        self, objects: HashFS, cache: HashFS, mutability: str, storage: Storage | None = None
    ) -> None:
        self.objects, self.cache, self.storage = objects, cache, storage
        self.locked = mutability != "mutable"
        self._dirs: set[str] = set()
        self._lock = threading.Lock()
        self.fetched = 0  # chunks that came from the storage

    def _folder(self, path: str) -> str:
        folder = os.path.dirname(path)
        if folder not in self._dirs:
            os.makedirs(folder, exist_ok=True)
            with self._lock:
                self._dirs.add(folder)
        return folder

    def _chunk(self, cid: str) -> bytes:
        if self.objects.exists(cid):
            return self.objects.get(cid, verify=True)
        if self.storage is None:
            raise ObjectNotFound(
                f"chunk {cid} is not in the local object store {self.objects.root} and no storage was given"
            )
        data = fetch_verified(self.storage, cid)
        with self._lock:
            self.fetched += 1
        return data

    def _write(self, file_cid: str, target: str, mode: int) -> None:
        tmp = temp_name(self._folder(target), os.path.basename(target))
        try:
            with open(tmp, "wb") as fh:
                for chunk_cid, _size in descriptor_chunks(self.objects, file_cid):
                    fh.write(self._chunk(chunk_cid))
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def build(self, file_cid: str, target: Path | None) -> os.stat_result | None:
        """Put file ``file_cid`` at ``target`` (or only in the cache when ``target`` is None)."""
        if not self.locked:
            if target is None:
                return None
            self._write(file_cid, str(target), 0o644)
            return os.stat(target)
        cached = self.cache.path(file_cid)
        if not cached.exists():
            self._write(file_cid, str(cached), 0o444)
        if target is None:
            return None
        dest = str(target)
        tmp = temp_name(self._folder(dest), target.name)
        try:
            os.link(cached, tmp)
        except FileExistsError:
            os.unlink(tmp)
            os.link(cached, tmp)
        except OSError:
            shutil.copyfile(cached, tmp)
        os.replace(tmp, dest)
        make_read_only(dest)
        return os.stat(dest)


def build_all(
    builder: Builder,
    jobs: Mapping[str, tuple[str, Path]],
    threads: int,
    progress: Progress | None = None,
    fail_limit: int | None = None,
) -> dict[str, os.stat_result]:
    """Build every ``rel -> (file_cid, target)`` on a pool; the stats of what was built."""
    stats: dict[str, os.stat_result] = {}

    def one(rel: str) -> None:
        st = builder.build(*jobs[rel])
        if st is not None:
            stats[rel] = st

    report: TransferReport = run_pool("checkout", sorted(jobs), one, threads, progress, fail_limit)
    where = builder.storage.where() if builder.storage else str(builder.objects.root)
    _raise_failed(report, "checkout", len(jobs), where)
    return stats
