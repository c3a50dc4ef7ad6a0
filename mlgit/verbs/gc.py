"""``repository gc``: drop local objects and cached files nothing refers to any more.

Referenced: every file of every entity's index, and every file of every version this workspace
has not pushed yet (ML-Git counted only the indexes, so a gc between commit and push lost the data
of older unpushed versions). A descriptor keeps its chunks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import config as cfg
from .. import index as idx
from ..cid import parse_descriptor
from ..errors import MLGitError
from ..names import parse_tag
from ..spec import natural_size

if TYPE_CHECKING:
    from ..repository import Repository


@dataclass
class GcReport:
    types: list[str] = field(default_factory=list)
    removed: int = 0
    reclaimed: int = 0

    @property
    def natural_size(self) -> str:
        return natural_size(self.reclaimed)


def _referenced(repo: Repository, et: str) -> set[str]:
    keep: set[str] = set()
    index_root = repo._type_dir(et) / "index" / "metadata"
    if index_root.is_dir():
        for entry in index_root.iterdir():
            keep.update(e.cid for e in idx.load(entry / "INDEX.yaml").values())
    md = repo.metadata(et)
    tags = md.unpushed_tags() if md.remote_url() else md.tags()
    for tag in tags:
        parsed = parse_tag(tag)
        if parsed is not None:
            keep.update(repo._read_version(et, tag, parsed[1])[1].values())
    return keep


def gc(repo: Repository) -> GcReport:
    report = GcReport()
    for et in cfg.ENTITY_TYPES:
        if not repo.metadata(et).exists:
            continue
        report.types.append(et)
        keep = _referenced(repo, et)
        objects, cache = repo._objects(et), repo._cache(et)
        for cid in list(keep):
            if objects.exists(cid):
                try:
                    keep.update(c for c, _ in parse_descriptor(objects.get(cid, verify=False)))
                except (MLGitError, ValueError, KeyError, TypeError):
                    continue  # not a descriptor (a chunk stored under a file key): fsck's business
        for store in (objects, cache):
            for cid in list(store):
                if cid in keep:
                    continue
                path = store.path(cid)
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                store.remove(cid)
                if not os.path.exists(path):
                    report.removed += 1
                    report.reclaimed += size
    return report
