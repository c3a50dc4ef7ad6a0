"""Atomic writes: a temp file in a folder of mlgit's own (or beside the target), then a rename, so a
crash never leaves a half-written file under its name. The one owner of temp-then-rename.

mlgit's own state (``.ml-git/``: index, HEAD files, refs, cache, temp files) is never written through
a symlink: another task on the worker may have planted one in place of a folder there, to make us
write or delete a file of its choosing (``refuse_symlinked_state``)."""

from __future__ import annotations

import contextlib
import os
import re
import threading
from pathlib import Path

from .safety import refuse_symlinked_parents

#: the folder of mlgit's own state in a workspace
MLGIT_DIR = ".ml-git"


def refuse_symlinked_state(path: str | os.PathLike[str], checked: set[Path] | None = None) -> None:
    """Refuse ``path`` under a workspace's ``.ml-git/`` when ``.ml-git`` or a folder below it on the way
    to ``path`` is a symlink (``UnsafePath`` naming it); ``path`` itself is replaced by a rename, never
    followed. Paths outside any ``.ml-git/`` (a shared cache the owner configured) are left as given.
    ``checked``: folders looked at already (``refuse_symlinked_parents``)."""
    parts = Path(path).parts
    if MLGIT_DIR not in parts:
        return
    at = len(parts) - 1 - parts[::-1].index(MLGIT_DIR)  # the workspace's own: the last one on the path
    refuse_symlinked_parents(Path(*parts[:at]) if at else Path("."), Path(*parts[:-1]), checked)


def temp_name(folder: str | os.PathLike[str], name: str) -> str:
    """A temp file in ``folder``, named after the writing process so that a leftover of a killed
    process can be told apart from one being written (``remove_stale_temps``). ``folder`` is one of
    mlgit's own (under ``.ml-git/``), never a user's: no user file can be taken for a temp file."""
    return f"{folder}/.tmp-{os.getpid()}-{threading.get_ident()}-{name[:120]}"


#: where temp files of writes into the workspace go (same filesystem, so the rename is atomic)
TMP_DIR = f"{MLGIT_DIR}/tmp"


def temp_folder_for(folder: str | os.PathLike[str], tmp_dir: str | os.PathLike[str] | None = None) -> str:
    """The folder for the temp file of a write into ``folder``: ``folder`` itself when it is mlgit's
    own (under ``.ml-git/``, or outside any workspace, e.g. a bucket), else the workspace's
    ``.ml-git/tmp`` (``tmp_dir``, or found above ``folder``) when it is on the same filesystem."""
    folder = os.fspath(folder)
    if tmp_dir is None:
        parts = Path(folder).parts
        if ".ml-git" in parts:
            return folder
        for up in [Path(folder), *Path(folder).parents]:
            if os.path.isfile(up / ".ml-git" / "config.yaml"):
                tmp_dir = up / TMP_DIR
                break
        else:
            return folder
    tmp_dir = os.fspath(tmp_dir)
    refuse_symlinked_state(os.path.join(tmp_dir, "tmp"))  # .ml-git/tmp swapped for a symlink: never used
    os.makedirs(tmp_dir, exist_ok=True)
    existing = folder  # a folder not made yet will be made on its nearest existing parent's filesystem
    while not os.path.isdir(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if os.stat(tmp_dir).st_dev != os.stat(existing).st_dev:
        return folder  # another filesystem (a mount inside the workspace): a rename cannot cross it
    return tmp_dir


def atomic_write(path: Path, data: bytes, mode: int | None = None, beside: bool = False) -> None:
    """Write ``path`` whole or not at all; ``beside``: the temp file goes in ``path``'s folder (mlgit's own).
    Under ``.ml-git/``, never through a symlinked folder (``refuse_symlinked_state``)."""
    refuse_symlinked_state(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path.parent if beside else temp_folder_for(path.parent), path.name)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_TEMP = re.compile(r"\.tmp-(\d+)-\d+-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(root: str | os.PathLike[str]) -> int:
    """Delete temp files left under ``root`` by processes that are gone (killed mid-write)."""
    removed = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            m = _TEMP.match(name)
            if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed
