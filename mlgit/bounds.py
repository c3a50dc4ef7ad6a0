"""What a checkout may write: no more than its spec and its descriptors declare, and the disk holds.

A spec, a manifest and the descriptors come from people who may be hostile (push rights on the
metadata remote, write access to the bucket). One small chunk listed thousands of times in a
descriptor, under many names, would otherwise make a checkout write gigabytes out of kilobytes.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import DescriptorError, SpecError, TooLarge

log = logging.getLogger(__name__)

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(bytes?|kb|mb|gb|tb|pb|eb)\s*\Z", re.IGNORECASE)
_UNITS = {"byte": 0, "bytes": 0, "kb": 1, "mb": 2, "gb": 3, "tb": 4, "pb": 5, "eb": 6}


def declared_max(size: Any) -> int | None:
    """The most bytes a spec's ``manifest.size`` (``21 Bytes``, ``2.5 MB``: one decimal, rounded)
    can stand for; None when the spec gives no size."""
    if size is None:
        return None
    if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
        return size
    m = _SIZE.match(str(size))
    if m is None:
        raise SpecError(
            f"spec manifest.size: expected a size such as '21 Bytes' or '2.5 MB', found {str(size)[:40]!r}"
        )
    power = _UNITS[m.group(2).lower()]
    if power == 0:
        return int(float(m.group(1)))
    return int((float(m.group(1)) + 0.05) * 1000**power) + 1


def free_bytes(path: Path) -> int:
    for up in [path, *path.parents]:
        if up.exists():
            st = os.statvfs(up)
            return st.f_bavail * st.f_frsize
    return 0


def check_checkout(
    tag: str,
    body: Mapping[str, Any],
    manifest_files: int,
    jobs: Mapping[str, tuple[str, Path]],
    file_size: Callable[[str], int],
    new_bytes: int,
    dest: Path,
) -> None:
    """Refuse, before anything is written, a checkout that would write more than its spec declares
    (``manifest.size``, ``manifest.amount``) or than the free space of ``dest``.

    ``file_size(cid)`` is the size a file's checked descriptor declares (or its cached copy's);
    ``new_bytes`` what the checkout would write to disk (shared files counted once).
    """
    declared = body.get("manifest") or {}
    amount = declared.get("amount")
    if isinstance(amount, int) and not isinstance(amount, bool) and amount != manifest_files:
        raise DescriptorError(
            f"{tag}: the spec declares manifest.amount {amount} file(s), the manifest lists {manifest_files}"
        )
    total = sum(file_size(cid) for cid, _ in jobs.values())
    limit = declared_max(declared.get("size"))
    if limit is None:
        log.info("%s: the spec declares no manifest.size; checkout bounded by the free space only", tag)
    elif total > limit:
        raise TooLarge(
            f"{tag}: checkout would write {total} bytes, but the spec declares manifest.size "
            f"{declared.get('size')!r} (at most {limit} bytes); its descriptors list more data than the version holds"
        )
    free = free_bytes(dest)
    if new_bytes > free:
        raise TooLarge(f"{tag}: checkout needs {new_bytes} bytes in {dest}, only {free} bytes are free")
