"""``local://NAME``: a folder used as a bucket. Objects sit flat under their CID, as in S3."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..cid import is_cid
from ..errors import ObjectNotFound, StorageError, StorageNotFound
from ..objects import atomic_write
from .base import Storage


class LocalStorage(Storage):
    scheme = "local"

    def __init__(self, bucket: str, path: str | os.PathLike[str]) -> None:
        self.bucket = bucket
        self.root = Path(path)

    def _key_path(self, key: str) -> Path:
        if not key or "/" in key or "\\" in key or key.startswith(".") or "\0" in key:
            raise StorageError(f"invalid object key {key!r} for storage {self.where()} (expected a CID)")
        return self.root / key

    def check(self) -> None:
        if not self.root.is_dir():
            raise StorageNotFound(
                f"storage folder {self.root} of {self.where()} does not exist "
                f"(create it, or run: ml-git repository storage add {self.bucket} --type=local --path=DIR)"
            )

    def put(self, key: str, data: bytes) -> None:
        self.check()
        atomic_write(self._key_path(key), data)

    def get(self, key: str) -> bytes:
        try:
            return self._key_path(key).read_bytes()
        except FileNotFoundError:
            self.check()
            raise ObjectNotFound(f"object {key} not found in {self.where()} ({self.root})") from None

    def exists(self, key: str) -> bool:
        return self._key_path(key).is_file()

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        self.check()
        with os.scandir(self.root) as it:
            for entry in it:
                if entry.name.startswith(prefix) and not entry.name.startswith(".") and entry.is_file():
                    yield entry.name

    def missing(self, keys: Iterable[str]) -> set[str]:
        self.check()
        return {k for k in keys if not self._key_path(k).is_file()}

    def delete(self, key: str) -> None:
        try:
            self._key_path(key).unlink()
        except FileNotFoundError:
            pass

    def where(self) -> str:
        return f"local://{self.bucket}"


__all__ = ["LocalStorage", "is_cid"]
