"""Local content-addressed stores in ML-Git's hashfs layout: ``hashfs/<c5:7>/<c7:9>/<cid>``.

Writes are atomic (temp file in the same folder + rename), so a crash never leaves a
half-written object under its key.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .cid import cid_of, is_cid, parse_descriptor, require_cid
from .errors import CorruptObject

if TYPE_CHECKING:
    from .cid import FileObjects


def temp_name(folder: str | os.PathLike[str], name: str) -> str:
    """A temp file in ``folder``, named after the writing process so that a leftover of a killed
    process can be told apart from one being written (``remove_stale_temps``). ``folder`` is one of
    mlgit's own (under ``.ml-git/``), never a user's: no user file can be taken for a temp file."""
    return f"{folder}/.tmp-{os.getpid()}-{threading.get_ident()}-{name[:120]}"


#: where temp files of writes into the workspace go (same filesystem, so the rename is atomic)
TMP_DIR = ".ml-git/tmp"


def temp_folder_for(folder: str | os.PathLike[str], tmp_dir: str | os.PathLike[str] | None = None) -> str:
    """The folder for the temp file of a write into ``folder``: ``folder`` itself when it is mlgit's
    own (under ``.ml-git/``, or outside any workspace, e.g. a bucket), else the workspace's
    ``.ml-git/tmp`` (``tmp_dir``, or found above ``folder``) when it is on the same filesystem."""
    folder = os.fspath(folder)
    if tmp_dir is None:
        parts = Path(folder).parts
        if ".ml-git" in parts:
            return folder
        for up in [Path(folder), *Path(folder).parents]:
            if os.path.isfile(up / ".ml-git" / "config.yaml"):
                tmp_dir = up / TMP_DIR
                break
        else:
            return folder
    tmp_dir = os.fspath(tmp_dir)
    os.makedirs(tmp_dir, exist_ok=True)
    if os.stat(tmp_dir).st_dev != os.stat(folder).st_dev:
        return folder  # another filesystem (a mount inside the workspace): a rename cannot cross it
    return tmp_dir


def atomic_write(path: Path, data: bytes, mode: int | None = None, beside: bool = False) -> None:
    """Write ``path`` whole or not at all; ``beside``: the temp file goes in ``path``'s folder (mlgit's own)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path.parent if beside else temp_folder_for(path.parent), path.name)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with _suppress(OSError):
            os.unlink(tmp)
        raise


_TEMP = re.compile(r"\.tmp-(\d+)-\d+-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(root: str | os.PathLike[str]) -> int:
    """Delete temp files left under ``root`` by processes that are gone (killed mid-write)."""
    removed = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            m = _TEMP.match(name)
            if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                with _suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed


_suppress = contextlib.suppress  # kept for readability at call sites: _suppress(OSError)


class HashFS:
    """A folder of objects keyed by CID, laid out as ML-Git lays out ``objects/`` and ``cache/``.

    Hot paths use plain strings and remember the folders they made: on 5,000 small files this
    halves the syscalls of an add.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._base = os.path.join(str(root), "hashfs")
        self._dirs: set[str] = set()

    def _p(self, cid: str) -> str:
        if not is_cid(cid):  # a key from a manifest, index or descriptor is never a path of its own
            require_cid(cid, f"object store {self.root}")
        return f"{self._base}/{cid[5:7]}/{cid[7:9]}/{cid}"

    def path(self, cid: str) -> Path:
        return Path(self._p(cid))

    def exists(self, cid: str) -> bool:
        return os.path.exists(self._p(cid))

    def _folder(self, target: str) -> str:
        folder = target.rpartition("/")[0]
        if folder not in self._dirs:
            os.makedirs(folder, exist_ok=True)
            self._dirs.add(folder)
        return folder

    def put(self, cid: str, data: bytes) -> bool:
        """Store bytes under their CID (temp file + rename); False when the object was already there."""
        target = self._p(cid)
        if os.path.exists(target):
            return False
        tmp = temp_name(self._folder(target), cid)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            with _suppress(OSError):
                os.unlink(tmp)
            raise
        os.close(fd)
        os.replace(tmp, target)
        return True

    def get(self, cid: str, verify: bool = True) -> bytes:
        with open(self._p(cid), "rb") as fh:
            data = fh.read()
        if verify and cid_of(data) != cid:
            raise CorruptObject(f"object {cid} in {self.root} does not match its CID (local store corrupted)")
        return data

    def remove(self, cid: str) -> None:
        with _suppress(OSError):
            os.unlink(self._p(cid))

    def link_from(self, cid: str, src: str | os.PathLike[str]) -> Path:
        """Keep ``src`` (a whole file) under ``cid``: hardlinked when possible (a link appears
        atomically, whole), copied through a temp file otherwise."""
        target = self._p(cid)
        if os.path.exists(target):
            return Path(target)
        folder = self._folder(target)
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
        os.makedirs(self._base, exist_ok=True)
        tmp = temp_name(self._base, "adopt")
        try:
            fo = write(tmp)
            os.chmod(tmp, 0o444)
            target = self._p(fo.cid)
            if os.path.exists(target):
                os.unlink(tmp)
            else:
                self._folder(target)
                os.replace(tmp, target)
        except BaseException:
            with _suppress(OSError):
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

    def __init__(self, objects: HashFS, cache: HashFS, block_size: int = 256 * 1024) -> None:
        self.objects, self.cache = objects, cache
        self._chunks: dict[str, tuple[str, int, int]] = {}
        self._block = block_size

    def register(self, file_cid: str) -> list[str]:
        """The keys (descriptor + chunks) of a whole file; chunks absent from ``objects/`` are
        mapped to their place in the cached file when the cache has it."""
        links = descriptor_chunks(self.objects, file_cid)
        cached = self.cache._p(file_cid)
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
        if cid_of(data) != cid:
            raise CorruptObject(
                f"chunk {cid} of cached file {path} does not match its CID: the file changed after add "
                "(run fsck, then add again)"
            )
        return data

    @property
    def root(self) -> Path:
        return self.objects.root
