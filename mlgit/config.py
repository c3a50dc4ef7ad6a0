"""`.ml-git/config.yaml`, ML-Git 2.9.9's keys, loaded and saved as plain YAML."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from . import yamlio
from .atomic import MLGIT_DIR, atomic_write
from .errors import ConfigError, NotARepository
from .gitsafe import refuse_symlinks
from .names import ENTITY_TYPES

CONFIG_FILE = "config.yaml"
GLOBAL_FILE = ".mlgitconfig"

DEFAULTS: dict[str, Any] = {
    "batch_size": 20,
    "cache_path": "",
    "datasets": {"git": ""},
    "index_path": "",
    "labels": {"git": ""},
    "metadata_path": "",
    "mlgit_conf": "config.yaml",
    "mlgit_path": ".ml-git",
    "models": {"git": ""},
    "object_path": "",
    "push_threads_count": 10,
    "refs_path": "",
    "storages": {},
    "verbose": "info",
}


#: what ``repository init`` writes (ML-Git's five keys); the rest of DEFAULTS applies when absent
INITIAL_KEYS = ("datasets", "models", "labels", "storages", "batch_size")


def initial() -> dict[str, Any]:
    return {k: copy.deepcopy(DEFAULTS[k]) for k in INITIAL_KEYS}


def config_path(root: Path) -> Path:
    return root / MLGIT_DIR / CONFIG_FILE


def global_path() -> Path:
    """ML-Git's global configuration, ``~/.mlgitconfig`` (``MLGIT_GLOBAL_CONFIG`` points elsewhere)."""
    return Path(os.environ.get("MLGIT_GLOBAL_CONFIG") or Path.home() / GLOBAL_FILE)


def _read(path: Path) -> dict[str, Any]:
    data = yamlio.load_file(path, "config", ConfigError, yamlio.MAX_SMALL) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, found {type(data).__name__}")
    return data


def load_global() -> dict[str, Any]:
    path = global_path()
    return _read(path) if path.is_file() else {}


def save_global(data: dict[str, Any]) -> None:
    atomic_write(global_path(), yamlio.dumps(data).encode())


def load_local(root: Path) -> dict[str, Any]:
    """The project's file alone, as written."""
    path = config_path(root)
    refuse_symlinks(root, [MLGIT_DIR], "mlgit")
    if not path.is_file():
        raise NotARepository(
            f"expected an ML-Git project at {root} (no {MLGIT_DIR}/{CONFIG_FILE}); run: ml-git repository init"
        )
    return _read(path)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """ML-Git's merge: a value set in ``over`` wins, an empty one leaves ``base``'s."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif value or key not in out:
            out[key] = copy.deepcopy(value)
    return out


def load(root: Path) -> dict[str, Any]:
    """The project's config merged over the global one and the defaults (never rewritten by a read)."""
    path = config_path(root)
    data = load_local(root)
    glob = load_global()
    if glob:
        data = _merge(glob, data)
    merged = copy.deepcopy(DEFAULTS)
    merged.update(data)
    for key in ENTITY_TYPES:
        if not isinstance(merged.get(key), dict):
            raise ConfigError(
                f"{path}: '{key}' must be a mapping like {{git: URL}}, found {merged.get(key)!r}"
            )
    if not isinstance(merged.get("storages") or {}, dict):
        raise ConfigError(f"{path}: 'storages' must be a mapping, found {type(merged['storages']).__name__}")
    merged["storages"] = merged.get("storages") or {}
    for scheme, buckets in merged["storages"].items():
        if not isinstance(buckets, dict) or not all(isinstance(v, dict) for v in buckets.values()):
            raise ConfigError(
                f"{path}: 'storages.{scheme}' must be a mapping of bucket name -> settings "
                f"(e.g. {{mybucket: {{region: us-east-1}}}}), found {type(buckets).__name__}"
            )
    for key in ("batch_size", "push_threads_count"):
        if not isinstance(merged[key], int) or merged[key] < 1:
            raise ConfigError(f"{path}: '{key}' must be a positive integer, found {merged[key]!r}")
    return merged


def save(root: Path, data: dict[str, Any]) -> None:
    atomic_write(config_path(root), yamlio.dumps(data).encode())
