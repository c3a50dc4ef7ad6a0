"""What changed in an entity folder since ``add``, decided by content when the stat differs.

The index keeps each file's stat, so an unchanged file is never hashed. When the stat differs:
- same bytes (a file touched, or changed and restored): the entry is refreshed, nothing changed;
- another inode (the file was deleted and written again, as a pipeline regenerating its outputs
  does): a new version of that file, staged by ``add`` as any new file;
- same inode, other bytes: the file was changed in place. For strict/flexible entities that file
  is the cache's hardlink, so the cached copy changed too: that is corruption, not a change.
"""

from __future__ import annotations

import errno
import fnmatch
import os
from pathlib import Path

from .. import index as idx
from ..cid import hash_file

IGNORE_FILE = ".mlgitignore"


def refresh(entity_dir: Path, files: dict[str, os.stat_result], index: idx.Index) -> idx.Index:
    """``index`` with the entries of files whose stat changed but whose bytes did not brought up to date."""
    out = dict(index)
    for rel, st in files.items():
        entry = index.get(rel)
        if entry is None or entry.matches(st):
            continue
        if st.st_size != entry.size and entry.size:
            continue  # other bytes for sure
        try:
            same = hash_file(entity_dir / rel).cid == entry.cid
        except OSError:
            continue
        if same:
            out[rel] = idx.Entry(entry.cid, st.st_size, st.st_mtime_ns, st.st_ino, entry.status)
    return out


MARK = "user.mlgit.staged"


def mark_staged(path: str) -> None:
    """Tag the file ``add`` staged (an xattr): a file written anew under its name has no tag, even
    when the filesystem gives it the freed inode number (ext4 does, at once). Best effort."""
    try:
        os.setxattr(path, MARK, b"1", follow_symlinks=False)
    except (OSError, AttributeError):
        pass


def _marked(path: Path) -> bool | None:
    """True/False when the filesystem answers, None when it has no user xattrs."""
    try:
        os.getxattr(path, MARK, follow_symlinks=False)
        return True
    except (AttributeError, NotImplementedError):
        return None
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return None
        return False


def changed_in_place(entry: idx.Entry, st: os.stat_result, path: Path, cached: Path | None = None) -> bool:
    """A locked file whose bytes changed in place rather than a new file written under its name.

    Same inode as when added, and: hardlinked to the cache still (its cached copy changed with it),
    or carrying the mark ``add`` set (the cache keeps its own copy, as for root), or on a filesystem
    that cannot tell (then the safer answer: in place).
    """
    if entry.matches(st) or entry.ino == 0 or st.st_ino != entry.ino:
        return False
    if cached is not None:
        try:
            c = os.stat(cached)
            if (c.st_dev, c.st_ino) == (st.st_dev, st.st_ino):
                return True
        except OSError:
            pass
    return _marked(path) is not False


def ignore_rules(entity_dir: Path) -> list[str]:
    from ..errors import SpecError
    from ..yamlio import MAX_SMALL, read_bounded

    path = entity_dir / IGNORE_FILE
    try:
        raw = read_bounded(path, IGNORE_FILE, SpecError, MAX_SMALL)  # never through a symlink
    except FileNotFoundError:
        return []
    rules = []
    for line in raw.decode(errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append(line)
    return rules


def ignored(rel: str, rules: list[str]) -> bool:
    """ML-Git's rule: a path matching a pattern (fnmatch) is ignored; a pattern naming a folder
    (``logs/`` or ``logs``) ignores what is inside it."""
    for rule in rules:
        if fnmatch.fnmatch(rel, rule) or fnmatch.fnmatch(rel, rule.rstrip("/") + "/*"):
            return True
        if "/" not in rule.rstrip("/") and fnmatch.fnmatch(rel.rsplit("/", 1)[-1], rule):
            return True
    return False


def under(rel: str, paths: list[str]) -> bool:
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in paths)
