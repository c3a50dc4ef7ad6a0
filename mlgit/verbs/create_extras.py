"""``create --import`` and ``create --unzip``: fill a new entity's ``data/`` folder."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from ..bounds import free_bytes
from ..errors import InputFileError, TooLarge, UnsafePath
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


def _members(zf: zipfile.ZipFile, archive: Path) -> list[tuple[zipfile.ZipInfo, str]]:
    """The file members with their checked paths: none escapes, none is another member's folder."""
    members = [(m, safe_relpath(m.filename, f"{archive}")) for m in zf.infolist() if not m.is_dir()]
    files = {rel for _, rel in members}
    folders = {"/".join(rel.split("/")[:i]) for rel in files for i in range(1, rel.count("/") + 1)}
    clash = sorted(files & folders)
    if clash:
        raise UnsafePath(f"{archive}: member {clash[0]} is both a file and a folder of other members")
    return members


def unzip_all(data: Path) -> int:
    """Extract each ``X.zip`` under ``data`` into the folder ``X`` beside it and remove the archive,
    as ML-Git's ``--unzip`` (returns the archives extracted); a member path that would land outside that
    folder is refused, and so is an archive whose members declare more bytes than the disk has free
    (a zip bomb: zipfile never inflates a member past its declared size)."""
    count = 0
    for archive in sorted(data.rglob("*.zip")):
        target = archive.with_suffix("")
        try:
            with zipfile.ZipFile(archive) as zf:
                members = _members(zf, archive)
                declared = sum(m.file_size for m, _ in members)
                free = free_bytes(target)
                if declared > free:
                    raise TooLarge(
                        f"{archive}: its {len(members)} member(s) declare {declared} bytes, only {free} bytes "
                        f"are free in {data}; not extracted"
                    )
                for member, rel in members:
                    dest = target / rel
                    if dest.exists() or dest.is_symlink():
                        raise UnsafePath(f"{archive}: member {rel} would overwrite {dest}")
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(member) as src, open(dest, "xb") as out:
                        shutil.copyfileobj(src, out)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
            raise InputFileError(f"{archive}: not a zip archive that can be extracted ({exc})") from exc
        archive.unlink()
        count += 1
    return count
