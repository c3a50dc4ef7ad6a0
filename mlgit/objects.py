"""Local content-addressed stores in ML-Git's hashfs layout: ``hashfs/<c5:7>/<c7:9>/<cid>``.

Writes are atomic (temp file in the same folder + rename), so a crash never leaves a
half-written object under its key.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import (
    TMP_DIR,
    atomic_write,
    refuse_symlinked_state,
    remove_stale_temps,
    temp_folder_for,
    temp_name,
)
from .cid import cid_matches, is_cid, parse_descriptor, require_cid
from .errors import CorruptObject

if TYPE_CHECKING:
    from .cid import FileObjects


class HashFS:
    """A folder of objects keyed by CID, laid out as ML-Git lays out ``objects/`` and ``cache/``.

    Hot paths use plain strings and remember the folders they made: on 5,000 small files this
    halves the syscalls of an add. Before its first write, a store under a workspace's ``.ml-git/``
    refuses a symlink on its way there (a cache folder swapped for one by another task on the worker);
    each folder it makes is checked as it is made.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._base = os.path.join(str(root), "hashfs")
        self._dirs: set[str] = set()
        self._checked: set[Path] = set()  # folders on the way to the store's objects, seen not to be symlinks

    def path_of(self, cid: str) -> str:
        """Where ``cid`` is (or goes) in this store, as a string (hot paths: no Path object per object)."""
        if not is_cid(cid):  # a key from a manifest, index or descriptor is never a path of its own
            require_cid(cid, f"object store {self.root}")
        return f"{self._base}/{cid[5:7]}/{cid[7:9]}/{cid}"

    def path(self, cid: str) -> Path:
        return Path(self.path_of(cid))

    def exists(self, cid: str) -> bool:
        return os.path.exists(self.path_of(cid))

    def folder(self, target: str) -> str:
        """The folder of ``target`` (a path in this store), made once per store object."""
        folder = target.rpartition("/")[0]
        if folder not in self._dirs:
            self._make(folder)
        return folder

    def _make(self, folder: str) -> None:
        """Make ``folder`` and its missing parents, each only once its parent was made here or looked at:
        one that exists already is refused when it (or a folder above it, below the workspace) is a
        symlink. A new folder costs one mkdir (``os.makedirs`` also stats its parent)."""
        parent = folder.rpartition("/")[0]
        if parent and parent not in self._dirs:
            self._make(parent)
        try:
            os.mkdir(folder)
        except FileExistsError:
            refuse_symlinked_state(f"{folder}/-", self._checked)
        self._dirs.add(folder)

    def put(self, cid: str, data: bytes, absent: bool = False) -> bool:
        """Store bytes under their CID (temp file + rename); False when the object was already there.
        ``absent``: the caller just saw it missing (no second look; a copy written meanwhile by another
        process has the same bytes, and the rename replaces it whole)."""
        target = self.path_of(cid)
        if not absent and os.path.exists(target):
            return False
        tmp = temp_name(self.folder(target), cid)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.close(fd)
        os.replace(tmp, target)
        return True

    def get(self, cid: str, verify: bool = True) -> bytes:
        with open(self.path_of(cid), "rb") as fh:
            data = fh.read()
        if verify and not cid_matches(cid, data):
            raise CorruptObject(f"object {cid} in {self.root} does not match its CID (local store corrupted)")
        return data

    def remove(self, cid: str) -> None:
        path = self.path_of(cid)
        refuse_symlinked_state(path, self._checked)  # a store folder swapped for a symlink: nothing deleted
        with contextlib.suppress(OSError):
            os.unlink(path)

    def link_from(self, cid: str, src: str | os.PathLike[str]) -> Path:
        """Keep ``src`` (a whole file) under ``cid``: hardlinked when possible (a link appears
        atomically, whole), copied through a temp file otherwise."""
        target = self.path_of(cid)
        if os.path.exists(target):
            return Path(target)
        folder = self.folder(target)
        try:
            os.link(src, target)
        except FileExistsError:
            pass
        except OSError:
            tmp = temp_name(folder, cid)
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
        return Path(target)

    def adopt(self, write: Callable[[str], FileObjects]) -> FileObjects:
        """Keep the file that ``write(tmp)`` writes (and hashes) under its CID; a copy of its own."""
        self.folder(f"{self._base}/adopt")
        tmp = temp_name(self._base, "adopt")
        try:
            fo = write(tmp)
            os.chmod(tmp, 0o444)
            target = self.path_of(fo.cid)
            if os.path.exists(target):
                os.unlink(tmp)
            else:
                self.folder(target)
                os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return fo

    def __iter__(self) -> Iterator[str]:
        base = self.root / "hashfs"
        if not base.is_dir():
            return
        for _dirpath, _dirs, files in os.walk(base):
            for name in files:
                if is_cid(name):
                    yield name
                # temp files of interrupted writes are never reported as objects


def descriptor_chunks(store: HashFS, file_cid: str) -> list[tuple[str, int]]:
    return parse_descriptor(store.get(file_cid), f"descriptor {file_cid}")


class LocalObjects:
    """What a push can read locally: the object store, plus the chunks of whole files in the cache.

    ``add`` of a strict/flexible file keeps only its descriptor in ``objects/``: the file itself
    is in the cache (hardlinked, read-only), so its chunks are cut from it when pushed instead of
    being written twice. Every chunk read here is verified against its CID.
    """

    def __init__(self, objects: HashFS, cache: HashFS) -> None:
        self.objects, self.cache = objects, cache
        self._chunks: dict[str, tuple[str, int, int]] = {}

    def register(self, file_cid: str) -> list[str]:
        """The keys (descriptor + chunks) of a whole file; chunks absent from ``objects/`` are
        mapped to their place in the cached file when the cache has it."""
        links = descriptor_chunks(self.objects, file_cid)
        cached = self.cache.path_of(file_cid)
        offset = 0
        for chunk_cid, size in links:
            if (
                chunk_cid not in self._chunks
                and not self.objects.exists(chunk_cid)
                and os.path.exists(cached)
            ):
                self._chunks[chunk_cid] = (cached, offset, size)
            offset += size
        return [file_cid, *(c for c, _ in links)]

    def exists(self, cid: str) -> bool:
        return cid in self._chunks or self.objects.exists(cid)

    def get(self, cid: str, verify: bool = True) -> bytes:
        where = self._chunks.get(cid)
        if where is None or self.objects.exists(cid):
            return self.objects.get(cid, verify)
        path, offset, size = where
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(size)
        if not cid_matches(cid, data):
            raise CorruptObject(
                f"chunk {cid} of cached file {path} does not match its CID: the file changed after add "
                "(run fsck, then add again)"
            )
        return data

    @property
    def root(self) -> Path:
        return self.objects.root


__all__ = [
    "TMP_DIR",
    "HashFS",
    "LocalObjects",
    "atomic_write",
    "descriptor_chunks",
    "remove_stale_temps",
    "temp_folder_for",
    "temp_name",
]
