"""``local://NAME``: a folder used as a bucket. Objects sit flat under their CID, as in S3."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..atomic import atomic_write
from ..cid import require_cid
from ..errors import ConfigError, CorruptObject, ObjectNotFound, StorageNotFound
from ..safety import read_regular
from .base import MAX_OBJECT, Storage


def check_bucket_folder(path: Path, workspace: Path, where: str) -> Path:
    """Refuse a bucket folder that is the workspace, or lies in its ``.ml-git`` or an entity type
    folder: objects there are taken for data files (and added), or removed by a checkout or an fsck."""
    folder, root = Path(os.path.realpath(path)), Path(os.path.realpath(workspace))
    owned = [root / ".ml-git", root / "datasets", root / "labels", root / "models"]
    if folder == root or any(folder == d or d in folder.parents for d in owned):
        raise ConfigError(
            f"storage {where}: the bucket folder {path} is the workspace {root} or inside its .ml-git or an "
            "entity folder; expected a folder of its own (e.g. beside the workspace)"
        )
    return path


class LocalStorage(Storage):
    scheme = "local"

    def __init__(self, bucket: str, path: str | os.PathLike[str]) -> None:
        self.bucket = bucket
        self.root = Path(path)

    def _key_path(self, key: str) -> Path:
        return self.root / require_cid(key, f"storage {self.where()}")

    def check(self) -> None:
        if not self.root.is_dir():
            raise StorageNotFound(
                f"storage folder {self.root} of {self.where()} does not exist "
                f"(create it, or run: ml-git repository storage add {self.bucket} --type=local --path=DIR)"
            )

    def put(self, key: str, data: bytes) -> None:
        self.check()
        atomic_write(self._key_path(key), data, beside=True)  # a bucket folder is mlgit's own

    def get(self, key: str) -> bytes:
        path = self._key_path(key)

        def refuse(found: str) -> CorruptObject:
            return CorruptObject(
                f"object {key} in {self.where()} ({path}): expected a regular file of at most {MAX_OBJECT} "
                f"bytes, found {found}"
            )

        try:  # a FIFO or a device planted under a key must not block or stream forever
            return read_regular(path, MAX_OBJECT, refuse)
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


__all__ = ["LocalStorage"]
