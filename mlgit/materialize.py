"""Whole files in the workspace from their descriptors and chunks.

Chunks stream from the local object store when it has them, else from the storage (each one
verified against its CID), straight into a temp file beside the destination, renamed when whole:
peak memory is one chunk per worker, and checkout writes each byte once. Strict and flexible
files go to the cache and are hardlinked, read-only, into the workspace; mutable files are
private copies.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .errors import ObjectNotFound
from .objects import HashFS, descriptor_chunks, temp_name
from .storage.base import Storage
from .transfer import Progress, TransferReport, _raise_failed, fetch_verified, run_pool
from .workspace import make_read_only

#: chunks of one file fetched ahead of the one being written (memory: AHEAD x 256 KiB per file)
AHEAD = 4


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
        self._ahead: ThreadPoolExecutor | None = None

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

    def _chunks(self, file_cid: str) -> Iterator[bytes]:
        """A file's chunks in order; a file of several is fetched ``AHEAD`` chunks ahead on a shared
        pool (one stream per file would leave the link idle when a checkout has few large files)."""
        links = descriptor_chunks(self.objects, file_cid)
        if len(links) < 2 or self.storage is None:
            for chunk_cid, _size in links:
                yield self._chunk(chunk_cid)
            return
        with self._lock:
            if self._ahead is None:
                self._ahead = ThreadPoolExecutor(max_workers=16, thread_name_prefix="mlgit-ahead")
        window: deque[Future[bytes]] = deque()
        todo = iter(links)
        try:
            for chunk_cid, _size in itertools.islice(todo, AHEAD):
                window.append(self._ahead.submit(self._chunk, chunk_cid))
            while window:
                data = window.popleft().result()
                for chunk_cid, _size in itertools.islice(todo, 1):
                    window.append(self._ahead.submit(self._chunk, chunk_cid))
                yield data
        finally:
            for fut in window:
                fut.cancel()

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.shutdown(wait=True, cancel_futures=True)
            self._ahead = None

    def _write(self, file_cid: str, target: str, mode: int) -> None:
        tmp = temp_name(self._folder(target), os.path.basename(target))
        try:
            with open(tmp, "wb") as fh:
                for data in self._chunks(file_cid):
                    fh.write(data)
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

    try:
        report: TransferReport = run_pool("checkout", sorted(jobs), one, threads, progress, fail_limit)
    finally:
        builder.close()
    where = builder.storage.where() if builder.storage else str(builder.objects.root)
    _raise_failed(report, "checkout", len(jobs), where)
    return stats
