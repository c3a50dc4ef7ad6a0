"""Local content-addressed stores in ML-Git's hashfs layout: ``hashfs/<c5:7>/<c7:9>/<cid>``.

Writes are atomic (temp file in the same folder + rename), so a crash never leaves a
half-written object under its key.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .cid import cid_of, is_cid, parse_descriptor
from .errors import CorruptObject


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


class HashFS:
    """A folder of objects keyed by CID, laid out as ML-Git lays out ``objects/`` and ``cache/``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, cid: str) -> Path:
        return self.root / "hashfs" / cid[5:7] / cid[7:9] / cid

    def exists(self, cid: str) -> bool:
        return self.path(cid).exists()

    def put(self, cid: str, data: bytes) -> bool:
        """Store bytes under their CID; False when the object was already there."""
        target = self.path(cid)
        if target.exists():
            return False
        atomic_write(target, data)
        return True

    def get(self, cid: str, verify: bool = True) -> bytes:
        data = self.path(cid).read_bytes()
        if verify and cid_of(data) != cid:
            raise CorruptObject(f"object {cid} in {self.root} does not match its CID (local store corrupted)")
        return data

    def remove(self, cid: str) -> None:
        with _suppress():
            self.path(cid).unlink()

    def link_from(self, cid: str, src: Path) -> Path:
        """Keep ``src`` (a whole file) under ``cid``: hardlinked when possible, copied otherwise."""
        target = self.path(cid)
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{os.getpid()}-{id(src)}-{cid}")
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, target)
        return target

    def __iter__(self) -> Iterator[str]:
        base = self.root / "hashfs"
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if is_cid(name):
                    yield name
                # temp files of interrupted writes are never reported as objects

    def file_cid_of(self, cid: str) -> str:
        """Recompute a whole file's CID from its content (for the cache's integrity check)."""
        from .cid import hash_file

        return hash_file(self.path(cid)).cid


def descriptor_chunks(store: HashFS, file_cid: str) -> list[tuple[str, int]]:
    return parse_descriptor(store.get(file_cid))


def assemble(objects: HashFS, file_cid: str, target: Path) -> None:
    """Write a whole file from its descriptor and chunks (verified), atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk_cid, _size in descriptor_chunks(objects, file_cid):
                fh.write(objects.get(chunk_cid, verify=True))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise
