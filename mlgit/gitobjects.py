"""Git objects read and written in this process, so that a commit builds its trees and its tag without
starting git (each git process is a fork+exec: tens of ms on a loaded worker).

Objects are read through gitdb (loose objects, packs and alternates, laid out as git lays them out); an
object gitdb cannot read is asked of git itself (GitPython's ``cat-file`` process). Objects are written as
loose objects, byte for byte as git writes them: a tree's entries in git's order (a folder sorts as if its
name ended with ``/``) with git's canonical modes (``40000`` for a folder, ``100644``/``100755`` for a
file), so ``git fsck --strict`` accepts them and git computes the same ids for the same content.
"""

from __future__ import annotations

import re
import threading
import zlib
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from git.exc import GitCommandError
from gitdb import GitDB, IStream, LooseObjectDB
from gitdb.db.base import CompoundDB
from gitdb.db.pack import PackedDB
from gitdb.exc import ODBError
from gitdb.util import mman

from .errors import MetadataError, UnsafeMetadata

#: gitdb maps packs through one module-wide map manager (smmap), which is not thread-safe: a flow's
#: tasks may commit from threads of one process
_PACKS = threading.Lock()
FOLDER = "040000"
MAX_OBJECT = 256 << 20  # a tree, commit or tag larger than this is refused (as a blob read is)


class TreeEntry(NamedTuple):
    mode: str  # canonical, as ``git ls-tree`` shows it: 100644, 100755, 120000, 040000 or 160000
    sha: str


def canonical_mode(raw: bytes) -> str:
    """The mode git gives a tree entry whatever its tree says (git's ``canon_mode``): 100664 is 100644."""
    mode = int(raw, 8)
    kind = mode & 0o170000
    if kind == 0o100000:
        return "100755" if mode & 0o100 else "100644"
    return {0o120000: "120000", 0o040000: FOLDER}.get(kind, "160000")


def entry_type(mode: str) -> str:
    return {FOLDER: "tree", "160000": "commit"}.get(mode, "blob")


_ENTRY = re.compile(rb"([0-7]{1,7}) ([^\0]+)\0(.{20})", re.DOTALL)


def parse_tree(data: bytes, where: str) -> dict[bytes, TreeEntry]:
    """name -> entry of a tree object's bytes."""
    entries: dict[bytes, TreeEntry] = {}
    modes: dict[bytes, str] = {}
    pos = 0
    for m in _ENTRY.finditer(data):
        if m.start() != pos:
            break
        mode = modes.get(m[1]) or modes.setdefault(m[1], canonical_mode(m[1]))
        entries[m[2]] = TreeEntry(mode, m[3].hex())
        pos = m.end()
    if pos != len(data):
        raise MetadataError(f"{where}: a malformed tree object (at byte {pos} of {len(data)})")
    return entries


def tree_bytes(entries: dict[bytes, TreeEntry]) -> bytes:
    """The tree object git writes for ``entries``."""

    def order(name: bytes) -> bytes:
        return name + b"/" if entries[name].mode == FOLDER else name

    return b"".join(
        b"%s %s\0%s" % (entries[n].mode.lstrip("0").encode(), n, bytes.fromhex(entries[n].sha))
        for n in sorted(entries, key=order)
    )


def header(data: bytes, field: bytes) -> bytes | None:
    """The value of the first ``field`` line in the header of a commit or tag object."""
    for line in data.split(b"\n\n", 1)[0].split(b"\n"):
        if line.startswith(field + b" "):
            return line[len(field) + 1 :]
    return None


def _close_packs(db: Any) -> None:
    """Release the maps of every pack ``db`` (and the databases it borrows from) opened."""
    for sub in db.databases() if isinstance(db, CompoundDB) else ():
        if isinstance(sub, PackedDB):
            for entity in sub.entities():
                entity.close()
        else:
            _close_packs(sub)


class ObjectStore:
    """The object database of ``repo`` (a ``git.Repo``), used as ``with ObjectStore(repo) as store:``;
    leaving it unmaps the packs it read (a long-lived worker keeps no map of a pack gc deleted)."""

    def __init__(self, repo: Any, where: str) -> None:
        self.repo = repo
        self.where = where
        self._path = str(Path(repo.git_dir) / "objects")
        self._loose = LooseObjectDB(self._path)
        self._db: GitDB | None = None

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with _PACKS:
            if self._db is not None:
                _close_packs(self._db)
                self._db = None
            mman.collect()

    def read(self, sha: str, kind: str, limit: int = MAX_OBJECT) -> bytes:
        """The bytes of object ``sha``, which must be a ``kind`` (tree, commit, tag, blob)."""
        found, data = self.object(sha, limit)
        if found != kind:
            raise MetadataError(f"{self.where}: object {sha} is a {found}; expected a {kind}")
        return data

    def object(self, sha: str, limit: int = MAX_OBJECT) -> tuple[str, bytes]:
        """(type, bytes) of object ``sha``; one larger than ``limit`` is refused unread."""
        binsha = bytes.fromhex(sha)
        try:
            with _PACKS:
                if self._db is None:
                    self._db = GitDB(self._path)
                return self._take(sha, self._db.stream(binsha), limit)
        except (ODBError, OSError, ValueError, zlib.error):  # what gitdb cannot read, git can
            pass
        try:
            return self._take(sha, self.repo.odb.stream(binsha), limit)
        except (ODBError, OSError, ValueError, GitCommandError) as exc:
            raise MetadataError(f"{self.where}: object {sha} cannot be read ({exc})") from exc

    def _take(self, sha: str, stream: Any, limit: int) -> tuple[str, bytes]:
        kind = stream.type.decode() if isinstance(stream.type, bytes) else str(stream.type)
        if stream.size > limit:
            raise UnsafeMetadata(
                f"{self.where}: {kind} {sha} holds {stream.size} bytes; expected at most {limit}"
            )
        data: bytes = stream.read()
        return kind, data

    def write(self, kind: str, data: bytes) -> str:
        """Store ``data`` as a loose ``kind`` object (as git would); its id."""
        sha = self._loose.store(IStream(kind.encode(), len(data), BytesIO(data))).hexsha
        return sha.decode() if isinstance(sha, bytes) else str(sha)

    def tree(self, sha: str) -> dict[bytes, TreeEntry]:
        return parse_tree(self.read(sha, "tree"), self.where)

    def commit_field(self, commit: str, field: str) -> bytes:
        value = header(self.read(commit, "commit"), field.encode())
        if value is None:
            raise MetadataError(f"{self.where}: commit {commit} has no {field} line")
        return value

    def parent(self, commit: str) -> str | None:
        """The first parent of ``commit`` (None for a root commit)."""
        value = header(self.read(commit, "commit"), b"parent")
        return value.decode() if value else None

    def root_tree(self, commit: str) -> str:
        return self.commit_field(commit, "tree").decode()

    def peel(self, sha: str) -> str:
        """The commit a tag object (or a chain of them) points at; ``sha`` itself when it is a commit."""
        for _ in range(16):
            kind, data = self.object(sha)
            if kind != "tag":
                return sha
            target = header(data, b"object")
            if target is None:
                raise MetadataError(f"{self.where}: tag object {sha} names no object")
            sha = target.decode()
        raise MetadataError(f"{self.where}: a chain of more than 16 tag objects at {sha}")

    def folder(self, commit: str, path: str) -> dict[bytes, TreeEntry] | None:
        """The entries of folder ``path`` in the tree of ``commit`` (None when it is not a folder there)."""
        tree = self.root_tree(commit)
        for part in path.split("/"):
            entry = self.tree(tree).get(part.encode())
            if entry is None or entry.mode != FOLDER:
                return None
            tree = entry.sha
        return self.tree(tree)

    def file(self, commit: str, path: str, limit: int) -> bytes | None:
        """The bytes of the regular file ``path`` in the tree of ``commit`` (None when nothing is there); a
        symlink, submodule or folder there is refused (never resolved), and so is a file over ``limit``."""
        folder, _, base = path.rpartition("/")
        entries = self.folder(commit, folder) if folder else self.tree(self.root_tree(commit))
        entry = entries.get(base.encode()) if entries is not None else None
        if entry is None:
            return None
        if entry.mode not in ("100644", "100755"):
            kind = {FOLDER: "a folder", "120000": "a symlink", "160000": "a submodule"}[entry.mode]
            raise UnsafeMetadata(
                f"{commit}:{path} in {self.where} is {kind}; expected a regular file "
                "(ML-Git metadata holds only folders and regular files)"
            )
        return self.read(entry.sha, "blob", limit)
