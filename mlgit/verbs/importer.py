"""``<type> import BUCKET ENTITY_DIR``: copy plain files (not CID objects) from a bucket into a
folder of the workspace, as ML-Git's import did (``--object KEY`` or ``--path PREFIX``).

Every key is checked as a relative path before anything is written: nothing lands outside
``<type>/ENTITY_DIR``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ObjectNotFound, StorageError
from ..names import safe_relpath
from ..objects import atomic_write

if TYPE_CHECKING:
    from ..repository import Repository


def _local_folder(repo: Repository, bucket: str) -> Path | None:
    for section in (repo.config.get("storages") or {}).values():
        settings = (section or {}).get(bucket)
        if isinstance(settings, dict) and settings.get("path"):
            folder = Path(str(settings["path"]))
            return folder if folder.is_absolute() else repo.root / folder
    return None


def _local_keys(folder: Path, prefix: str) -> Iterator[tuple[str, bytes]]:
    base = folder / prefix if prefix else folder
    if base.is_file():
        yield prefix, base.read_bytes()
        return
    for dirpath, _dirs, files in os.walk(base):
        for f in files:
            full = Path(dirpath) / f
            if not full.is_symlink():
                yield full.relative_to(folder).as_posix(), full.read_bytes()


def _s3_keys(bucket: str, settings: dict[str, Any], prefix: str, single: bool) -> Iterator[tuple[str, bytes]]:
    from ..storage.s3 import S3Storage

    st = S3Storage.from_config(bucket, {**settings, "sdk": "boto3"})
    client = st._client
    try:
        if single:
            yield prefix, client.get_object(Bucket=bucket, Key=prefix)["Body"].read()
            return
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents") or []:
                yield item["Key"], client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    except Exception as exc:  # boto3's errors, translated once here
        raise StorageError(f"import from s3://{bucket}/{prefix}: {exc}") from exc
    finally:
        st.close()


def import_files(
    repo: Repository,
    et: str,
    bucket: str,
    entity_dir: str,
    obj: str | None = None,
    path: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    endpoint: str | None = None,
) -> list[str]:
    """Returns the workspace paths written (relative to ``<type>/ENTITY_DIR``)."""
    if (obj is None) == (path is None):
        raise ConfigError("import: expected exactly one of --object KEY or --path PREFIX")
    prefix = (obj or path or "").strip("/")
    if obj is not None:
        safe_relpath(prefix, "--object")  # checked before any I/O
    dest = repo.root / et / safe_relpath(entity_dir.strip("/"), "ENTITY_DIR")
    folder = _local_folder(repo, bucket)
    if folder is not None:
        items = _local_keys(folder, prefix)
    else:
        settings = {"aws-credentials": {"profile": profile}, "region": region, "endpoint-url": endpoint}
        items = _s3_keys(bucket, settings, prefix, single=obj is not None)
    written = []
    for key, data in items:
        rel = safe_relpath(key, f"import key of {bucket}")
        atomic_write(dest / rel, data)
        written.append(rel)
    if not written:
        raise ObjectNotFound(f"import: nothing under {prefix!r} in bucket {bucket}")
    return written
