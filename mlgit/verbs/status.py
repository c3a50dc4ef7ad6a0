"""``<type> status NAME``: what changed in the workspace against the index and the checked-out version."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import index as idx
from ..results import (
    StatusResult,
)
from ..workspace import README, scan
from .changes import changed_in_place, refresh

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)


def status(ctx: Context, et: str, name: str) -> StatusResult:
    path, body = ctx.store.load(et, name)
    ctx.store.refuse_if_unfinished(et, name, "status")  # files of two versions: no status tells them apart
    index, _ = ctx.store.staged(et, name)
    head = ctx.store.head_manifest(et, name)
    files = scan(path, name)
    index = refresh(path, files, index)
    locked = body.get("mutability", "strict") != "mutable"
    untracked, corrupted = [], []
    for rel, st in sorted(files.items()):
        entry = index.get(rel)
        if entry is None:
            untracked.append(rel)
        elif not entry.matches(st):
            if (
                locked
                and entry.status != idx.UNLOCKED
                and changed_in_place(entry, st, path / rel, ctx.layout.cache(et).path(entry.cid))
            ):
                corrupted.append(rel)
            else:
                untracked.append(rel)
    if not index and not head:
        untracked = [f for f in (f"{name}.spec", README) if (path / f).exists()] + untracked
    staged = {rel: e.cid for rel, e in index.items()}
    new = sorted(r for r in staged if r not in head)
    modified = sorted(r for r in staged if r in head and head[r] != staged[r])
    deleted = sorted(r for r in head if r not in staged)
    missing = sorted(r for r, e in index.items() if r not in files and e.status != idx.BARE)
    return StatusResult(et, name, new, modified, deleted, untracked, corrupted, missing)
