"""Files built from one storage stream: a checkout's chunks fetched many at a time by one thread.

Where the storage ``streams`` (``S3Storage`` on an endpoint our HTTP plane serves), a checkout's files
whose chunks all come from the storage are built here before the thread pool starts: their chunks are
asked in one stream (``transfer.stream_first``), each verified against its CID and its declared size,
then written at its offsets in its file's temp file; a finished file is renamed into the cache and
staged for its targets at once (mutable: staged for its first name, copied for the others). Only files
whose every chunk is theirs alone are taken (one place to write each chunk as it comes; a chunk shared
by several files would keep them all open): the rest, and any file one of whose chunks failed, are
built by the pool (``build_all``), which retries and reports.

Open files at once: those with a chunk in flight (at most the storage's ``concurrency``), as the
chunks are asked in file order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DescriptorError
from .objects import temp_name
from .transfer import Progress, Ticker, stream_first

if TYPE_CHECKING:
    from .materialize import Builder, Placement

_FLAGS = os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


class _File:
    """A file being written: its temp file, opened at its first chunk, and chunks still to come."""

    __slots__ = ("fd", "left", "target", "tmp")

    def __init__(self, target: str, chunks: int) -> None:
        self.target, self.left = target, chunks  # the cached file, or (mutable) the first name's target
        self.tmp = ""
        self.fd = -1

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def drop(self) -> None:
        """Close and remove the temp file (a file not finished)."""
        self.close()
        if self.tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)
            self.tmp = ""


def plan(builder: Builder, jobs: Mapping[str, tuple[str, Path]]) -> dict[str, list[tuple[str, int]]]:
    """The files of ``jobs`` one stream builds: not in the cache yet (strict/flexible) or with a target
    (mutable), each of their chunks absent from the local objects and met in no other place of them:
    file CID -> links."""
    if builder.storage is None or not builder.storage.streams:
        return {}
    files: dict[str, list[tuple[str, int]]] = {}
    places: dict[str, int] = {}  # chunk -> the places it is written to, among these files
    for rel in sorted(jobs):
        file_cid, target = jobs[rel]
        if file_cid in files:
            continue
        if builder.locked and os.path.exists(builder.cache.path_of(file_cid)):
            continue
        if not builder.locked and target is None:  # a mutable file goes to no cache
            continue
        files[file_cid] = links = builder.links(file_cid)
        for chunk, _ in links:
            places[chunk] = places.get(chunk, 0) + 1
    exists = builder.objects.exists
    return {
        f: links
        for f, links in files.items()
        if links and all(places[c] == 1 and not exists(c) for c, _ in links)
    }


def stream_build(
    builder: Builder,
    jobs: Mapping[str, tuple[str, Path]],
    staged: dict[str, Placement],
    progress: Progress | None,
) -> set[str]:
    """Build ``plan``'s files from one stream and stage their targets in ``staged``; the rels done."""
    from .materialize import Placement  # at run time: materialize imports this module

    files = plan(builder, jobs)
    if not files:
        return set()
    assert builder.storage is not None
    rels: dict[str, list[str]] = {}
    for rel in sorted(jobs):
        if jobs[rel][0] in files and (builder.locked or jobs[rel][1] is not None):
            rels.setdefault(jobs[rel][0], []).append(rel)
    where: dict[str, tuple[str, int, int]] = {}  # chunk -> (file, offset, size)
    state: dict[str, _File] = {}
    for file_cid, links in files.items():
        offset = 0
        for chunk, size in links:
            where[chunk] = (file_cid, offset, size)
            offset += size
        first = jobs[rels[file_cid][0]][1]
        state[file_cid] = _File(builder.cache.path_of(file_cid) if builder.locked else str(first), len(links))
    failed: set[str] = set()
    done: set[str] = set()
    tick = Ticker("checkout", progress, len(jobs))

    def take(chunk: str, data: bytes | bytearray) -> None:
        file_cid, offset, size = where[chunk]
        if file_cid in failed:
            return  # its file is left to the pool, which fetches it whole
        f = state[file_cid]
        try:
            if len(data) != size:
                raise DescriptorError(
                    f"descriptor {file_cid}: chunk {chunk} is declared {size} bytes, found {len(data)}"
                )
            if f.fd < 0:
                f.tmp = (
                    temp_name(builder.cache.folder(f.target), file_cid)
                    if builder.locked
                    else builder.temp_for(f.target)
                )
                f.fd = os.open(f.tmp, _FLAGS, 0o600)
            view = memoryview(data)
            while view:
                n = os.pwrite(f.fd, view, offset)
                view, offset = view[n:], offset + n
            f.left -= 1
            if f.left:
                return
            if builder.locked:
                os.fchmod(f.fd, 0o444)
                f.close()
                os.replace(f.tmp, f.target)
                f.tmp = ""
            else:  # staged at its temp name for the first of its names; the others are copies of it
                os.fchmod(f.fd, 0o644)
                st = os.fstat(f.fd)
                f.close()
                first = rels[file_cid][0]
                staged[first] = Placement(f.tmp, f.target, st)
                done.add(first)
                builder.built(file_cid, len(files[file_cid]), f.tmp)
                f.tmp = ""
        except BaseException:
            failed.add(file_cid)
            f.drop()
            raise
        if builder.locked:
            builder.built(file_cid, len(files[file_cid]))
        for rel in rels[file_cid]:
            if rel in done:
                continue
            placed = builder.stage(file_cid, jobs[rel][1])
            if placed is not None:
                staged[rel] = placed
            done.add(rel)
        tick(len(done))

    try:
        stream_first("checkout", builder.storage, list(where), take, None, len(where))
    finally:
        for f in state.values():
            f.drop()
    return done
