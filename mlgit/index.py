"""The staging index of one entity: ``.ml-git/<type>/index/metadata/<name>/INDEX.yaml``.

Written as JSON (a subset of YAML, so the name stays true) because it is read on every status.

Each path keeps its file CID and the stat it had when it was added (size, mtime_ns, inode), so a
second ``add``/``status`` of an unchanged file does not rehash it. ctime is left out on purpose:
chmod and hardlinks change it (ML-Git rehashed every strict file for that reason).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import yamlio
from .cid import is_cid
from .errors import ManifestError
from .names import safe_relpath
from .objects import atomic_write

ADDED = "a"
UNLOCKED = "u"
BARE = "b"  # checked out with --bare: tracked, not in the workspace


@dataclass
class Entry:
    cid: str
    size: int
    mtime_ns: int
    ino: int
    status: str = ADDED

    def matches(self, st: os.stat_result) -> bool:
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns and st.st_ino == self.ino

    @classmethod
    def from_stat(cls, cid: str, st: os.stat_result, status: str = ADDED) -> Entry:
        return cls(cid, st.st_size, st.st_mtime_ns, st.st_ino, status)


Index = dict[str, Entry]


def load(path: Path) -> Index:
    try:
        raw = yamlio.read_bounded(path, "index")
    except FileNotFoundError:
        return {}
    try:
        doc = json.loads(raw)  # what we write: JSON is YAML, and 30x faster to read
    except ValueError:
        try:
            doc = yamlio.loads(raw)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ManifestError(f"index {path}: malformed YAML ({' '.join(str(exc).split())[:200]})") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ManifestError(f"index {path}: expected a mapping of path -> entry, found {type(doc).__name__}")
    out: Index = {}
    for rel, e in doc.items():
        rel = safe_relpath(rel, f"index {path}")
        try:
            entry = Entry(
                str(e["hash"]), int(e["size"]), int(e["mtime_ns"]), int(e["ino"]), str(e.get("status", ADDED))
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise ManifestError(
                f"index {path}: entry {rel!r} is malformed ({exc!r}); run the add again"
            ) from exc
        if not is_cid(entry.cid):
            raise ManifestError(f"index {path}: entry {rel!r} has no valid CID, found {entry.cid!r}")
        out[rel] = entry
    return out


def save(path: Path, index: Index) -> None:
    doc = {
        rel: {"hash": e.cid, "size": e.size, "mtime_ns": e.mtime_ns, "ino": e.ino, "status": e.status}
        for rel, e in index.items()
    }
    atomic_write(path, json.dumps(doc, separators=(",", ":"), sort_keys=True).encode())


def matches_file(path: Path | str, entry: Entry) -> bool:
    """True when the file at ``path`` still has the stat recorded in ``entry``."""
    try:
        return entry.matches(os.stat(path))
    except OSError:
        return False
