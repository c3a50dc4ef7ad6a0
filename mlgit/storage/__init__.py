"""Backends by the scheme of ``manifest.storage``, imported lazily (a missing extra gives a hint)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MissingExtra, StorageNotFound
from .base import Storage

#: scheme -> (module, class, extra that installs its SDK)
BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "local": ("mlgit.storage.local", "LocalStorage", None),  # also any storage with a `path:`
    "s3h": ("mlgit.storage.s3", "S3Storage", "s3"),
    "s3": ("mlgit.storage.s3", "S3Storage", "s3"),
    "sftph": ("mlgit.storage.sftp", "SFTPStorage", "sftp"),
    "azureblobh": ("mlgit.storage.azure", "AzureStorage", "azure"),
}


def parse_uri(uri: str) -> tuple[str, str]:
    """``s3h://bucket`` -> (``s3h``, ``bucket``)."""
    if "://" not in uri:
        raise ConfigError(
            f"storage {uri!r} in the spec: expected SCHEME://BUCKET (e.g. s3h://mlgit-datasets)"
        )
    scheme, _, bucket = uri.partition("://")
    bucket = bucket.strip("/")
    if scheme not in BACKENDS:
        raise ConfigError(f"storage {uri!r}: unknown type {scheme!r} (known: {', '.join(sorted(BACKENDS))})")
    if not bucket:
        raise ConfigError(f"storage {uri!r}: no bucket name after {scheme}://")
    return scheme, bucket


def open_storage(
    uri: str,
    storages: Mapping[str, Any],
    root: Path,
    credentials: Mapping[str, Any] | None = None,
    **options: Any,
) -> Storage:
    """The backend for ``uri``, configured from the config's ``storages`` section.

    ``credentials`` (keys passed by code, e.g. from an Airflow connection) stay in memory only;
    ``options`` go to the backend (e.g. ``max_pool_connections`` sized for the transfer pool).
    """
    scheme, bucket = parse_uri(uri)
    module_name, cls_name, extra = BACKENDS[scheme]
    section = (storages or {}).get(scheme) or {}
    settings = section.get(bucket)
    if settings is None and scheme == "s3":
        settings = ((storages or {}).get("s3h") or {}).get(bucket)
    if settings is None:
        known = ", ".join(f"{s}://{b}" for s, v in (storages or {}).items() for b in (v or {})) or "none"
        raise StorageNotFound(
            f"storage {uri} is not configured in .ml-git/config.yaml (configured: {known}); "
            f"add it with: ml-git repository storage add {bucket} --type={scheme}"
        )
    if scheme == "local" or "path" in settings:
        # an s3h storage configured with a `path:` is served from that folder: an offline mirror
        # of the bucket (air-gapped machines, tests of what ML-Git wrote)
        path = Path(str(settings.get("path", "")))
        if not settings.get("path"):
            raise ConfigError(f"storage {uri} in .ml-git/config.yaml has no 'path'")
        if not path.is_absolute():
            path = root / path
        from .local import LocalStorage, check_bucket_folder

        return LocalStorage(bucket, check_bucket_folder(path, root, uri))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingExtra(
            f"storage {uri} needs the '{extra}' extra: pip install 'mlgit[{extra}]' ({exc})"
        ) from exc
    cls = getattr(module, cls_name)
    return cls.from_config(bucket, settings, credentials, **options)  # type: ignore[no-any-return]


__all__ = ["BACKENDS", "Storage", "open_storage", "parse_uri"]
