"""Small tasks the example flows share: putting files into an entity folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prefect import task


@task
def copy_into(source: str, entity_path: str, subfolder: str = "") -> list[str]:
    """Copy ``source`` (a file or a folder) into the entity folder; identical files are left alone.

    Leaving them alone matters: ML-Git locks added files of strict/flexible entities read-only, and
    rewriting a mutable entity's file would look like a change. A rerun therefore changes nothing.
    """
    src = Path(source)
    dest_root = Path(entity_path) / subfolder
    files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
    copied: list[str] = []
    for file in files:
        rel = file.name if src.is_file() else file.relative_to(src).as_posix()
        target = dest_root / rel
        if target.is_file() and target.read_bytes() == file.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{target.name}")
        shutil.copyfile(file, tmp)
        os.replace(tmp, target)
        copied.append(rel)
    return copied
