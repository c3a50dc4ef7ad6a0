"""``Layout``: where a workspace keeps what (one owner for every path under ``.ml-git/``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import config as cfg
from .errors import EntityNotFound
from .names import check_name, entity_type
from .objects import TMP_DIR, HashFS
from .workspace import find_entity


class Layout:
    """Paths of one workspace: type folders, object store, cache, index and HEAD files."""

    def __init__(self, root: Path, config: Callable[[], Mapping[str, Any]]) -> None:
        self.root = root
        self._config = config  # read lazily: the config may name shared objects/cache folders

    @property
    def tmp_dir(self) -> Path:
        return self.root / TMP_DIR

    def entity_root(self, et: str) -> Path:
        """``<root>/<type>``: the folder holding the type's entity folders."""
        return self.root / et

    def type_dir(self, et: str) -> Path:
        return self.root / cfg.MLGIT_DIR / et

    def metadata_dir(self, et: str) -> Path:
        return self.type_dir(et) / "metadata"

    def objects(self, et: str) -> HashFS:
        return HashFS(self._shared_dir(et, "objects_path") or self.type_dir(et) / "objects")

    def cache(self, et: str) -> HashFS:
        return HashFS(self._shared_dir(et, "cache_path") or self.type_dir(et) / "cache")

    def shared_cache(self, et: str) -> bool:
        """Whether the type's cache is a folder shared with other workspaces (``cache_path``)."""
        return self._shared_dir(et, "cache_path") is not None

    def _shared_dir(self, et: str, key: str) -> Path | None:
        """ML-Git's centralized ``objects_path`` / ``cache_path`` of an entity type, when configured."""
        value = (self._config().get(et) or {}).get(key)
        return self.root / str(value) if value else None

    def index_dir(self, et: str, name: str) -> Path:
        return self.type_dir(et) / "index" / "metadata" / name

    def head_file(self, et: str, name: str) -> Path:
        return self.type_dir(et) / "refs" / name / "HEAD"

    def checkout_file(self, et: str, name: str) -> Path:
        """Present while a checkout changes the entity's files (its tag and sha, as HEAD holds them)."""
        return self.type_dir(et) / "refs" / name / "CHECKOUT"

    def entity_path(self, entity_type_: str, name: str) -> Path:
        """The folder holding ``<name>/<name>.spec`` in the workspace; ``EntityNotFound`` without one."""
        et = entity_type(entity_type_)
        check_name(name)
        found = find_entity(self.entity_root(et), name)
        if found is None:
            raise EntityNotFound(
                f"{et} entity {name!r}: expected {et}/.../{name}/{name}.spec in {self.root}, found none"
            )
        return found
