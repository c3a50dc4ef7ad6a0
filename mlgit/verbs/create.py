"""``<type> create NAME``: write a new entity's folder and spec."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .. import config as cfg
from .. import spec as specs
from ..atomic import atomic_write
from ..errors import (
    ConfigError,
    InvalidName,
    SpecError,
)
from ..names import MUTABILITIES, check_name, parse_categories, safe_relpath
from ..safety import refuse_symlinked_parents
from ..workspace import README, find_entity

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)
FAKE_STORAGE = "fake_storage"  # the bucket ML-Git's create names when none is given


def create(
    ctx: Context,
    et: str,
    name: str,
    categories: str | list[str],
    mutability: str = "strict",
    storage_type: str = "s3h",
    bucket: str | None = None,
    entity_dir: str = "",
    version: int = 1,
) -> Path:
    """Write ``<type>/<entity_dir>/<name>/<name>.spec``; returns the entity folder."""
    check_name(name)
    if "_" in name:
        raise InvalidName(
            f"The value '{name}' is invalid. An entity cannot contain blank space, underline, special "
            "characters, and punctuation characters."
        )
    cats = parse_categories(categories)
    if mutability not in MUTABILITIES:
        raise InvalidName(f"--mutability: expected strict, flexible or mutable, found {mutability!r}")
    if isinstance(version, bool) or int(version) < 1:
        raise SpecError(f"--version: expected a positive integer, found {version!r}")
    configured = (ctx.config.get("storages") or {}).get(storage_type) or {}
    if bucket is None and not configured:
        bucket = FAKE_STORAGE  # as ML-Git: the entity is created, set its storage before push
        log.warning(
            "%s %s: no %s storage configured; the spec names %s://%s",
            et,
            name,
            storage_type,
            storage_type,
            bucket,
        )
    elif bucket is None:
        if len(configured) != 1:
            raise ConfigError(
                f"--bucket-name: expected one of the {storage_type} storages "
                f"({', '.join(configured) or 'none configured'})"
            )
        bucket = next(iter(configured))
    if bucket not in configured and bucket != FAKE_STORAGE:
        raise ConfigError(
            f"storage {storage_type}://{bucket} is not configured in {cfg.config_path(ctx.root)} "
            f"(configured {storage_type}: {', '.join(configured) or 'none'}); "
            f"run: ml-git repository storage add {bucket} --type={storage_type}"
        )
    existing = find_entity(ctx.root / et, name)
    if existing is not None:
        raise InvalidName(f"{et} {name} already exists at {existing}")
    rel = safe_relpath(entity_dir.strip("/") + "/" + name, "--entity-dir") if entity_dir.strip("/") else name
    path = ctx.root / et / rel
    refuse_symlinked_parents(ctx.root, path)
    body = {
        "categories": cats,
        "manifest": {"storage": f"{storage_type}://{bucket}"},
        "mutability": mutability,
        "name": name,
        "version": int(version),
    }
    (path / "data").mkdir(parents=True, exist_ok=True)
    specs.save(specs.spec_file(path, name), et, body)
    if not (path / README).exists():
        atomic_write(path / README, b"")  # ML-Git's create writes an empty README.md
    return path
