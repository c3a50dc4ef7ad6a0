"""``create --import`` and ``create --unzip``: fill a new entity's ``data/`` folder."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from ..errors import UnsafePath
from ..names import safe_relpath


def copy_in(source: Path, data: Path) -> int:
    """Copy the files of ``source`` into ``data`` (symlinks are not followed); returns the count."""
    count = 0
    for dirpath, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if not (Path(dirpath) / d).is_symlink()]
        for f in files:
            src = Path(dirpath) / f
            if src.is_symlink():
                continue
            dst = data / src.relative_to(source)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            count += 1
    return count


def unzip_all(data: Path) -> int:
    """Extract each ``X.zip`` under ``data`` into the folder ``X`` beside it and remove the archive,
    as ML-Git's ``--unzip`` (returns the archives extracted); a member path that would land outside that folder is refused."""
    count = 0
    for archive in sorted(data.rglob("*.zip")):
        target = archive.with_suffix("")
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                if member.is_dir():
                    continue
                rel = safe_relpath(member.filename, f"{archive}")
                dest = target / rel
                if dest.exists():
                    raise UnsafePath(f"{archive}: member {rel} would overwrite {dest}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        archive.unlink()
        count += 1
    return count
