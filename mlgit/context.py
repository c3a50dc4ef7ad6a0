"""``Context``: the collaborators a verb works with, built once per ``Repository``.

- ``layout``: the paths of the workspace (``mlgit.layout``);
- ``store``: staging, HEAD files and versions of entities (``mlgit.store``);
- ``metadata(et)``: the metadata repository of a type (``mlgit.metadata``);
- ``storage(uri)``: an open storage (bucket) named by a spec;
- ``config`` / ``update_config``: the project's config (``mlgit.config``);
- ``workspace_lock``: held by every verb that changes state (``mlgit.locking``).

Verbs (``mlgit/verbs/``) take a ``Context`` and return the typed results; they never import
``Repository``, which only delegates to them.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import config as cfg
from .layout import Layout
from .locking import LOCK_NAME, PathLock
from .metadata import MetadataRepo
from .storage import Storage, open_storage, parse_uri
from .store import EntityStore


class Context:
    def __init__(
        self,
        root: Path,
        storage_credentials: Mapping[str, Mapping[str, str]] | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.root = root
        self.workspace_lock = PathLock(root / cfg.MLGIT_DIR / LOCK_NAME, f"workspace {root}", lock_timeout)
        self.layout = Layout(root, lambda: self.config)
        self.store = EntityStore(self.layout, self.metadata)
        self.global_config = False  # config changes go to the global file (ML-Git's --global)
        self._credentials = dict(storage_credentials or {})
        self._metadata: dict[str, MetadataRepo] = {}
        self._lock = threading.RLock()

    @property
    def config(self) -> dict[str, Any]:
        return cfg.load(self.root)

    @property
    def threads(self) -> int:
        return int(self.config["push_threads_count"])

    def update_config(self, fn: Callable[[dict[str, Any]], None]) -> None:
        """Load the local (or global) config, let ``fn`` change it, save it if it changed."""
        with self._lock:
            if self.global_config:
                data = cfg.load_global()
                before = copy.deepcopy(data)
                fn(data)
                if data != before or not cfg.global_path().exists():
                    cfg.save_global(data)
                return
            data = cfg.load_local(self.root)
            before = copy.deepcopy(data)
            fn(data)
            if data != before:
                cfg.save(self.root, data)

    def metadata(self, et: str) -> MetadataRepo:
        with self._lock:
            if et not in self._metadata:
                self._metadata[et] = MetadataRepo(self.layout.metadata_dir(et), et)
            return self._metadata[et]

    def storage(self, uri: str) -> Storage:
        """Open the storage a spec names (``s3h://bucket``); the caller closes it."""
        _scheme, bucket = parse_uri(uri)
        config = self.config
        return open_storage(
            uri,
            config.get("storages") or {},
            self.root,
            self._credentials.get(bucket),
            max_pool_connections=max(64, int(config["push_threads_count"])),
        )
