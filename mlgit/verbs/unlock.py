"""``<type> unlock NAME FILE``: make one file of a flexible entity editable."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .. import index as idx
from ..atomic import TMP_DIR, temp_folder_for, temp_name
from ..errors import (
    EntityNotFound,
    MutabilityError,
)
from ..names import safe_relpath
from ..safety import refuse_symlinked_parents

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)


def unlock(ctx: Context, et: str, name: str, file: str) -> Path:
    """Make one file of a flexible entity editable (a private copy, no longer the cache's inode)."""
    path, body = ctx.store.load(et, name)
    mutability = body.get("mutability", "strict")
    if mutability == "strict":
        raise MutabilityError(
            f"{et} {name} is strict: its files cannot be unlocked (create a flexible or mutable entity)"
        )
    rel = safe_relpath(file, "unlock")
    index, _ = ctx.store.staged(et, name)
    target = path / rel
    refuse_symlinked_parents(ctx.root, target.parent)  # never replaced through a folder swapped for a symlink
    if rel not in index or not target.is_file():
        raise EntityNotFound(f"unlock: {rel!r} is not a tracked file of {et} {name} (in {path})")
    if mutability == "flexible":
        tmp = Path(temp_name(temp_folder_for(target.parent, ctx.root / TMP_DIR), target.name))
        shutil.copyfile(target, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    index[rel] = idx.Entry.from_stat(index[rel].cid, target.stat(), idx.UNLOCKED)
    ctx.store.save_staged(et, name, index)
    return target
