"""Project setup: ``init``, ``repository storage add/del``, ``config``, ``<type> init``, ``<type> update``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config as cfg
from ..errors import (
    ConfigError,
    MetadataError,
)
from ..names import check_name
from ..storage.local import check_bucket_folder

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)


def storage_add(
    ctx: Context,
    name: str,
    type: str = "s3h",
    path: str | None = None,
    credentials: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = "us-east-1",
    username: str | None = None,
    private_key: str | None = None,
    port: int | None = None,
    known_hosts: str | None = None,
) -> None:
    check_name(name, "storage name")
    if type == "local":
        if not path:
            raise ConfigError(f"storage local://{name}: expected --path=DIR (the folder used as a bucket)")
        settings: dict[str, Any] = {"path": str(path)}
        folder = Path(path) if Path(path).is_absolute() else ctx.root / path
        check_bucket_folder(folder, ctx.root, f"local://{name}")
        folder.mkdir(parents=True, exist_ok=True)
    elif type in ("s3h", "s3"):
        settings = {  # as ML-Git writes it: null profile = the AWS credential chain
            "aws-credentials": {"profile": credentials or None},
            "region": region or "us-east-1",
            "endpoint-url": endpoint_url or None,
        }
    elif type in ("sftph", "azureblobh"):
        from ..storage.settings import storage_settings

        settings = storage_settings(type, name, endpoint_url, username, private_key, port, known_hosts)
    else:
        raise ConfigError(f"storage type: expected local, s3h, sftph or azureblobh, found {type!r}")

    def apply(data: dict[str, Any]) -> None:
        data.setdefault("storages", {}).setdefault(type, {})[name] = settings

    ctx.update_config(apply)


def storage_del(ctx: Context, name: str, type: str | None = None) -> None:
    def apply(data: dict[str, Any]) -> None:
        found = False
        for scheme, section in (data.get("storages") or {}).items():
            if (type is None or scheme == type) and name in (section or {}):
                del section[name]
                found = True
        if not found:
            raise ConfigError(f"storage {name!r} is not in {cfg.config_path(ctx.root)}")

    ctx.update_config(apply)


def set_config(ctx: Context, key: str, value: Any) -> None:
    def apply(data: dict[str, Any]) -> None:
        data[key] = value

    ctx.update_config(apply)


def entity_init(ctx: Context, et: str, require_remote: bool = False) -> None:
    """Clone the type's metadata remote (without one: a local repository, unless ``require_remote``)."""
    url = str(ctx.config[et].get("git") or "")
    if require_remote and not url:
        raise ConfigError(
            f"Unable to find remote repository. Add the remote first: no {et}.git in "
            f"{cfg.config_path(ctx.root)}; run: ml-git repository remote {et} add URL"
        )
    ctx.metadata(et).init(url)


def update(ctx: Context, only: str | None = None, require_remote: bool = False) -> None:
    """Pull the metadata repository of ``only`` (cloned when absent), or of every type already cloned."""
    types = [only] if only else list(cfg.ENTITY_TYPES)
    for et in types:
        if require_remote and not (ctx.config.get(et) or {}).get("git"):
            raise MetadataError(
                f"Remote URL not found. Could not update metadata: no {et}.git in {cfg.config_path(ctx.root)}"
            )
        md = ctx.metadata(et)
        if md.exists:
            md.update()
        elif only:
            md.init(str(ctx.config[et].get("git") or ""))


def init_project(path: str | os.PathLike[str], exist_ok: bool = True) -> Path:
    """Create ``.ml-git/config.yaml`` in ``path`` (kept when it exists and ``exist_ok``); returns the root."""
    root = Path(path).resolve()
    if cfg.MLGIT_DIR in root.parts:
        raise ConfigError(f"{root} is inside a {cfg.MLGIT_DIR} folder; expected a project folder")
    if cfg.config_path(root).exists():
        if not exist_ok:
            raise ConfigError(f"{root} is already an ML-Git project ({cfg.config_path(root)} exists)")
    else:
        root.mkdir(parents=True, exist_ok=True)
        cfg.save(root, cfg.initial())
    return root
