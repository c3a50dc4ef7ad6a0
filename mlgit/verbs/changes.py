"""What changed in an entity folder since ``add``, decided by content when the stat differs.

The index keeps each file's stat, so an unchanged file is never hashed. When the stat differs:
- same bytes (a file touched, or changed and restored): the entry is refreshed, nothing changed;
- another inode (the file was deleted and written again, as a pipeline regenerating its outputs
  does): a new version of that file, staged by ``add`` as any new file;
- same inode, other bytes: the file was changed in place. For strict/flexible entities that file
  is the cache's hardlink, so the cached copy changed too: that is corruption, not a change.
"""

from __future__ import annotations

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


def changed_in_place(entry: idx.Entry, st: os.stat_result) -> bool:
    """A locked file whose bytes changed under the same inode (the cache's copy changed with it)."""
    return not entry.matches(st) and entry.ino != 0 and st.st_ino == entry.ino


def ignore_rules(entity_dir: Path) -> list[str]:
    path = entity_dir / IGNORE_FILE
    if not path.is_file():
        return []
    rules = []
    for line in path.read_text(errors="replace").splitlines():
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
