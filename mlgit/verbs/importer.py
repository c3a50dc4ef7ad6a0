"""``<type> import BUCKET ENTITY_DIR``: copy plain files (not CID objects) from a bucket into a
folder of the workspace, as ML-Git's import did (``--object KEY`` or ``--path PREFIX``).

Every key is checked as a relative path before anything is written: nothing lands outside
``<type>/ENTITY_DIR``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_write
from ..errors import ConfigError, ObjectNotFound, StorageError, TooLarge, UnsafePath
from ..names import safe_relpath
from ..safety import read_regular, refuse_symlinked_parents

if TYPE_CHECKING:
    from ..context import Context

#: the most bytes one imported file may hold (import reads a file whole)
IMPORT_MAX = 2 << 30


def _local_folder(ctx: Context, bucket: str) -> Path | None:
    for section in (ctx.config.get("storages") or {}).values():
        settings = (section or {}).get(bucket)
        if isinstance(settings, dict) and settings.get("path"):
            folder = Path(str(settings["path"]))
            return folder if folder.is_absolute() else ctx.root / folder
    return None


def _refuse(bucket: str, key: str, found: str) -> UnsafePath:
    return UnsafePath(f"import: {key} in bucket {bucket}: expected a regular file, found {found}; not read")


def _local_keys(folder: Path, prefix: str, bucket: str) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """The files under ``prefix`` of a bucket folder, each read only as a regular file reached without
    a symlink (a bucket writer's ``data.csv -> ~/.aws/credentials`` would otherwise be imported into
    the workspace, then committed and pushed where the writer reads it) and of a bounded size."""
    root = folder.resolve()

    def read(key: str) -> bytes:
        path = folder / key
        if path.resolve() != root / key:
            raise _refuse(bucket, key, "a symlink (or a path through one)")

        def refuse(found: str) -> Exception:
            if found == "not a regular file":
                return _refuse(bucket, key, found)
            return TooLarge(f"import: {key} in bucket {bucket}: {found}, more than {IMPORT_MAX} bytes")

        try:
            return read_regular(path, IMPORT_MAX, refuse)
        except FileNotFoundError:
            raise ObjectNotFound(f"import: {key} not found in bucket {bucket} ({folder})") from None

    base = folder / prefix if prefix else folder
    if base.is_symlink() or (base.exists() and base.resolve() != (root / prefix if prefix else root)):
        raise _refuse(bucket, prefix, "a symlink (or a path through one)")
    if not base.is_dir():
        yield prefix, lambda: read(prefix)
        return
    for dirpath, _dirs, files in os.walk(base):  # symlinked folders are listed, never entered
        for f in files:
            full = Path(dirpath) / f
            key = full.relative_to(folder).as_posix()
            if full.is_symlink():
                continue  # listed, never followed
            if not full.is_file():  # a FIFO or a device: refused before anything is written
                raise _refuse(bucket, key, "not a regular file")
            yield key, lambda key=key: read(key)  # type: ignore[misc]


def _s3_keys(client: Any, bucket: str, prefix: str, single: bool) -> list[tuple[str, Callable[[], bytes]]]:
    def read(key: str) -> bytes:
        try:
            obj = client.get_object(Bucket=bucket, Key=key)
            size = int(obj.get("ContentLength") or 0)
            data: bytes = obj["Body"].read(IMPORT_MAX + 1) if size <= IMPORT_MAX else b""
        except Exception as exc:  # boto3's errors, translated once here
            raise StorageError(f"import from s3://{bucket}/{key}: {exc}") from exc
        if size > IMPORT_MAX or len(data) > IMPORT_MAX:
            raise TooLarge(f"import: {key} in bucket {bucket}: more than {IMPORT_MAX} bytes; not read")
        return data

    if single:
        return [(prefix, lambda: read(prefix))]
    try:
        pages = list(client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix))
    except Exception as exc:  # boto3's errors, translated once here
        raise StorageError(f"import from s3://{bucket}/{prefix}: {exc}") from exc
    return [
        (item["Key"], lambda key=item["Key"]: read(key))  # type: ignore[misc]
        for page in pages
        for item in page.get("Contents") or []
    ]


def _plan(items: list[tuple[str, Callable[[], bytes]]], bucket: str) -> list[tuple[str, Callable[[], bytes]]]:
    """Every key checked as a path before anything is written: none escapes, none is another's folder,
    no two land on one file (``a\\b`` and ``a/b``)."""
    plan: dict[str, Callable[[], bytes]] = {}
    for key, load in items:
        rel = safe_relpath(key, f"import key of {bucket}")
        if rel in plan:
            raise UnsafePath(f"import: keys {key!r} and another of bucket {bucket} both name the file {rel}")
        plan[rel] = load
    folders = {"/".join(rel.split("/")[:i]) for rel in plan for i in range(1, rel.count("/") + 1)}
    clash = sorted(folders & set(plan))
    if clash:
        raise UnsafePath(
            f"import: key {clash[0]} of bucket {bucket} is both a file and a folder of other keys"
        )
    return list(plan.items())


def import_files(
    ctx: Context,
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
    if prefix:
        safe_relpath(prefix, "--object" if obj is not None else "--path")  # checked before any I/O
    dest = ctx.root / et / safe_relpath(entity_dir.strip("/"), "ENTITY_DIR")
    folder = _local_folder(ctx, bucket)
    st = None
    written = []
    try:
        if folder is not None:
            items = _plan(list(_local_keys(folder, prefix, bucket)), bucket)
        else:
            from ..storage.s3 import S3Storage

            settings = {"aws-credentials": {"profile": profile}, "region": region, "endpoint-url": endpoint}
            st = S3Storage.from_config(bucket, {**settings, "sdk": "boto3"})
            items = _plan(_s3_keys(st._client, bucket, prefix, single=obj is not None), bucket)
        for rel, load in items:
            refuse_symlinked_parents(ctx.root, dest / rel)  # nothing written outside the workspace
            atomic_write(dest / rel, load())
            written.append(rel)
    finally:
        if st is not None:
            st.close()
    if not written:
        raise ObjectNotFound(f"import: nothing under {prefix!r} in bucket {bucket}")
    return written
