"""Whole files in the workspace from their descriptors and chunks.

Chunks stream from the local object store when it has them, else from the storage (each one
verified against its CID), straight into a temp file under ``.ml-git/tmp``: peak memory is one chunk
per worker, and checkout writes each byte once. Strict and flexible files go to the cache and are
hardlinked, read-only, into the workspace; mutable files are private copies.

A checkout stages every file first (``build_all``) and renames them into the workspace only once all
of them were built and verified (``Staged.place``): a version refused for one bad object leaves the
workspace as it was (the previous version's files, no new file, no new folder).
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
from typing import Any, NamedTuple

from .bounds import check_checkout
from .cid import cid_matches, parse_descriptor
from .errors import DescriptorError, ObjectNotFound
from .objects import HashFS, descriptor_chunks, temp_folder_for, temp_name
from .safety import clone_or_copy, mode_protects
from .storage.base import Storage
from .streaming import stream_build
from .transfer import (
    Progress,
    TransferReport,
    fetch_verified,
    offset_progress,
    pool_size,
    raise_failed,
    run_pool,
)
from .workspace import make_read_only

#: chunks of one file fetched ahead of the one being written (memory: AHEAD x 256 KiB per file)
AHEAD = 4


class Placement(NamedTuple):
    """A file built whole at ``tmp`` (verified), to be renamed to ``target``; ``st`` is its stat."""

    tmp: str
    target: str
    st: os.stat_result


class Builder:
    """Puts files at their targets; safe to call from many threads.

    Every descriptor is checked before its chunks are read (CIDs, sizes); every chunk must have the
    size its descriptor declares; a chunk met twice (in one file or in two) is read back from where
    it was first written instead of being fetched again, and a file met twice is built once.
    """

    def __init__(
        self,
        objects: HashFS,
        cache: HashFS,
        mutability: str,
        storage: Storage | None = None,
        tmp_dir: Path | None = None,
        pushed: bool = False,
        shared: bool = False,
        verified: dict[str, bytes] | None = None,
    ) -> None:
        self.objects, self.cache, self.storage = objects, cache, storage
        #: descriptors' bytes already verified against their CID (by the download that stored them): parsed
        #: from here, not read back from the store
        self._verified = verified if verified is not None else {}
        self.locked = mutability != "mutable"
        self.tmp_dir = tmp_dir  # the workspace's .ml-git/tmp: temp files of workspace writes
        self.pushed = pushed  # the version's data is in the storage: the cache never holds the only copy
        self.shared = shared  # the cache is shared with other workspaces (run folders): never linked writable
        self._dirs: set[str] = set()
        self._tmp_dirs: dict[str, str] = {}
        self._lock = threading.Lock()
        self._tmp_lock = threading.Lock()
        self._file_locks: dict[str, threading.Lock] = {}
        self._links: dict[str, list[tuple[str, int]]] = {}
        self._seen: dict[str, tuple[str, int, int]] = {}  # chunk -> (file, offset, size) already written
        self._written: dict[str, str] = {}  # mutable: file -> the first target written with it
        #: cached files built here from the storage or the objects (so not the only copy of their data)
        self._built: set[str] = set()
        self.fetched = 0  # chunks that came from the storage
        self._ahead: ThreadPoolExecutor | None = None
        self._serial = itertools.count()  # temp names of staged files: many wait for their rename at once

    def _folder(self, path: str) -> str:
        folder = os.path.dirname(path)
        if folder not in self._dirs:
            os.makedirs(folder, exist_ok=True)
            with self._lock:
                self._dirs.add(folder)
        return folder

    def temp_for(self, target: str) -> str:
        """A temp name for ``target``, unique while many staged files wait for their rename. The target's
        folder is not made here (a refused checkout leaves no new folder), except when the temp file must
        go beside it (``.ml-git/tmp`` on another filesystem)."""
        folder = os.path.dirname(target)
        name = f"{next(self._serial)}-{os.path.basename(target)}"
        if self.tmp_dir is None:
            return temp_name(self._folder(target), name)
        tmp_folder = self._tmp_dirs.get(folder)
        if tmp_folder is None:
            # once per folder: the pool's workers take the files of one folder together (sorted jobs),
            # and each of them used to look the folder up itself (~8 syscalls each, 1,000s per checkout)
            with self._tmp_lock:
                tmp_folder = self._tmp_dirs.get(folder)
                if tmp_folder is None:
                    tmp_folder = self._tmp_dirs[folder] = temp_folder_for(folder, self.tmp_dir)
        if tmp_folder == folder:
            self._folder(target)
        return temp_name(tmp_folder, name)

    def links(self, file_cid: str) -> list[tuple[str, int]]:
        """The checked chunks of ``file_cid`` (read once)."""
        found = self._links.get(file_cid)
        if found is None:
            data = self._verified.pop(file_cid, None)
            if data is None:
                found = descriptor_chunks(self.objects, file_cid)
            else:
                found = parse_descriptor(data, f"descriptor {file_cid}")
            self._links[file_cid] = found
        return found

    def _reuse(self, cid: str) -> bytes | None:
        where = self._seen.get(cid)
        if where is None:
            return None
        path, offset, size = where
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read(size)
        except OSError:
            return None
        return data if cid_matches(cid, data) else None

    def _chunk(self, cid: str) -> bytes:
        if self.objects.exists(cid):
            return self.objects.get(cid, verify=True)
        data = self._reuse(cid)
        if data is not None:
            return data
        if self.storage is None:
            raise ObjectNotFound(
                f"chunk {cid} is not in the local object store {self.objects.root} and no storage was given"
            )
        data = fetch_verified(self.storage, cid)
        with self._lock:
            self.fetched += 1
        return data

    def _fetched(self, links: list[tuple[str, int]]) -> Iterator[bytes]:
        """The bytes of each distinct chunk of ``links``, in order. A file of several chunks from the
        storage has ``AHEAD`` of them fetched ahead on a shared pool (one stream per file would leave
        the link idle when a checkout has few large files)."""
        firsts = list(dict.fromkeys(cid for cid, _ in links))
        if len(firsts) < 2 or self.storage is None:
            yield from (self._chunk(cid) for cid in firsts)
            return
        with self._lock:
            if self._ahead is None:
                self._ahead = ThreadPoolExecutor(max_workers=16, thread_name_prefix="mlgit-ahead")
            ahead = self._ahead
        window: deque[Future[bytes]] = deque()
        todo = iter(firsts)
        try:
            window.extend(ahead.submit(self._chunk, cid) for cid in itertools.islice(todo, AHEAD))
            while window:
                data = window.popleft().result()
                window.extend(ahead.submit(self._chunk, cid) for cid in itertools.islice(todo, 1))
                yield data
        finally:
            for fut in window:
                fut.cancel()

    def close(self) -> None:
        """Stop the read-ahead pool (``build_all`` calls it when the checkout ends)."""
        if self._ahead is not None:
            self._ahead.shutdown(wait=True, cancel_futures=True)
            self._ahead = None

    def _write(self, file_cid: str, target: str | None, mode: int, tmp: str) -> os.stat_result:
        """Write file ``file_cid`` whole at ``tmp``, then rename it to ``target`` (when given); its stat."""
        here: dict[str, tuple[int, int]] = {}
        links = self.links(file_cid)
        fetched = self._fetched(links)
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
            try:
                offset = 0
                for chunk_cid, size in links:
                    if chunk_cid in here:  # repeated in this file: copy it from where it was written
                        data = os.pread(fd, here[chunk_cid][1], here[chunk_cid][0])
                    else:
                        data = next(fetched)
                    if len(data) != size:
                        raise DescriptorError(
                            f"descriptor {file_cid}: chunk {chunk_cid} is declared {size} bytes, found {len(data)}"
                        )
                    here.setdefault(chunk_cid, (offset, size))
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    offset += size
                os.fchmod(fd, mode)
                st = os.fstat(fd)
            finally:
                os.close(fd)
            if target is not None:
                os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        with self._lock:
            for chunk_cid, (off, size) in here.items():
                self._seen.setdefault(chunk_cid, (target or tmp, off, size))
        return st

    def built(self, file_cid: str, chunks: int, tmp: str | None = None) -> None:
        """``file_cid`` was built from ``chunks`` chunks of the storage (``streaming``): into the cache,
        or (mutable) at ``tmp``, which other names of it are copied from."""
        with self._lock:
            if tmp is None:
                self._built.add(file_cid)
            else:
                self._written[file_cid] = tmp
            self.fetched += chunks

    def _file_lock(self, file_cid: str) -> threading.Lock:
        with self._lock:
            return self._file_locks.setdefault(file_cid, threading.Lock())

    def _own_copy(self, file_cid: str, cached: str) -> bool:
        """True when the workspace file must not share the cached file's inode: this process can write
        through a link (root: 0444 does not stop it) and the cache is shared with other workspaces, or
        may hold the only copy of the data (not pushed, not built here from the storage). The mode is
        looked at last: a checkout of pushed data into its own cache needs no syscall here."""
        if not (self.shared or (not self.pushed and file_cid not in self._built)):
            return False
        return not mode_protects(cached)

    def build(self, file_cid: str, target: Path | None) -> os.stat_result | None:
        """Put file ``file_cid`` at ``target`` now (or only in the cache when ``target`` is None)."""
        staged = self.stage(file_cid, target)
        if staged is None:
            return None
        os.makedirs(os.path.dirname(staged.target), exist_ok=True)
        os.replace(staged.tmp, staged.target)
        with self._lock:
            if self._written.get(file_cid) == staged.tmp:
                self._written[file_cid] = staged.target
        return staged.st

    def stage(self, file_cid: str, target: Path | None) -> Placement | None:
        """Build file ``file_cid`` whole and verified in a temp file waiting to be renamed to ``target``
        (strict/flexible: into the cache too); only into the cache when ``target`` is None."""
        if not self.locked:
            if target is None:
                return None
            dest = str(target)
            tmp = self.temp_for(dest)
            with self._file_lock(file_cid):  # one file listed under many names is built once, then copied
                first = self._written.get(file_cid)
                if first is None:
                    st = self._write(file_cid, None, 0o644, tmp)
                    self._written[file_cid] = tmp
                else:
                    st = clone_or_copy(first, tmp, 0o644)
            return Placement(tmp, dest, st)
        cached = self.cache.path_of(file_cid)
        with self._file_lock(file_cid):  # one file listed under many names is built once
            if not os.path.exists(cached):
                self._write(file_cid, cached, 0o444, temp_name(self.cache.folder(cached), file_cid))
                with self._lock:
                    self._built.add(file_cid)
        if target is None:
            return None
        dest = str(target)
        tmp = self.temp_for(dest)
        if self._own_copy(file_cid, cached):
            # read-only from its creation: no chmod, no stat after
            return Placement(tmp, dest, clone_or_copy(cached, tmp, 0o444))
        try:
            os.link(cached, tmp)
        except FileExistsError:
            os.unlink(tmp)
            os.link(cached, tmp)
        except OSError:
            shutil.copyfile(cached, tmp)
        try:
            st = os.stat(tmp)
            if st.st_mode & 0o222:  # a cached file made writable meanwhile (a link shares its inode)
                make_read_only(tmp)
                st = os.stat(tmp)
            return Placement(tmp, dest, st)
        except BaseException:
            os.unlink(tmp)
            raise


class Staged:
    """The files of a checkout, built and verified in temp files, not yet in the workspace."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self.files: dict[str, Placement] = {}

    @property
    def stats(self) -> dict[str, os.stat_result]:
        return {rel: p.st for rel, p in self.files.items()}

    def place(self, threads: int = 1) -> None:
        """Rename every staged file to its target (a rename does not change the file's stat), on
        ``threads`` workers each taking one slice (renames wait on the filesystem's journal: done one by
        one they cost a large checkout seconds that the pool's workers used to overlap)."""
        files = sorted(self.files.values(), key=lambda p: p.target)
        folder = self.builder._folder

        def run(part: list[Placement]) -> None:
            for placed, p in enumerate(part):
                try:
                    folder(p.target)
                    os.replace(p.tmp, p.target)
                except BaseException:
                    self.discard(part[placed:])
                    raise

        workers = max(1, min(threads, len(files) // 256))  # a small checkout: no threads to start
        if workers == 1:
            run(files)
            return
        size = -(-len(files) // workers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlgit-place") as pool:
            done = [pool.submit(run, files[i : i + size]) for i in range(0, len(files), size)]
        for fut in done:
            fut.result()  # the first failure, after every slice ran (the others are placed or discarded)

    def discard(self, files: list[Placement] | None = None) -> None:
        """Remove the temp files (a refused checkout): the workspace keeps what it had."""
        for p in self.files.values() if files is None else files:
            try:
                os.unlink(p.tmp)
            except FileNotFoundError:
                pass


def build_all(
    builder: Builder,
    jobs: Mapping[str, tuple[str, Path]],
    threads: int,
    progress: Progress | None = None,
    fail_limit: int | None = None,
) -> Staged:
    """Build every ``rel -> (file_cid, target)`` on a pool into temp files; nothing is in the workspace
    until the caller places them (``Staged.place``). On any failure nothing staged is left behind."""
    staged = Staged(builder)

    def one(rel: str) -> None:
        p = builder.stage(*jobs[rel])
        if p is not None:
            staged.files[rel] = p

    try:
        try:
            done = stream_build(builder, jobs, staged.files, progress)
            rest = sorted(rel for rel in jobs if rel not in done)
            workers = pool_size(threads, builder.storage)
            report: TransferReport = run_pool(
                "checkout", rest, one, workers, offset_progress(progress, len(done), len(jobs)), fail_limit
            )
            report.done[:0] = sorted(done)
        finally:
            builder.close()
        where = builder.storage.where() if builder.storage else str(builder.objects.root)
        raise_failed(report, "checkout", len(jobs), where)
    except BaseException:
        staged.discard()
        raise
    return staged


def check_bounds(
    builder: Builder,
    tag: str,
    body: Mapping[str, Any],
    files: int,
    jobs: Mapping[str, tuple[str, Path]],
    dest: Path,
) -> None:
    """Every descriptor of ``jobs`` checked, and the checkout refused before any write when it would
    write more than the spec declares or the disk holds (``bounds.check_checkout``)."""
    sizes: dict[str, int] = {}
    new_bytes = 0
    for cid in sorted({cid for cid, _ in jobs.values()}):
        cached = builder.cache.path(cid)
        if builder.locked and cached.exists():
            sizes[cid] = cached.stat().st_size
        else:
            sizes[cid] = sum(size for _, size in builder.links(cid))
            new_bytes += sizes[cid]
    if not builder.locked:
        new_bytes = sum(sizes[cid] for cid, _ in jobs.values())
    check_checkout(tag, body, files, jobs, sizes.__getitem__, new_bytes, dest)
