"""The entity folder in the workspace: finding it, scanning it safely, staging its files."""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .cid import FileObjects, hash_file
from .errors import InputFileError, SpecError, UnsafePath
from .names import check_added_name
from .objects import HashFS
from .safety import hash_copying, own_copy_needed, read_regular

README = "README.md"
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def find_entity(type_dir: Path, name: str) -> Path | None:
    """The folder ``<...>/<name>/`` holding ``<name>.spec`` under ``type_dir``."""
    if not type_dir.is_dir():
        return None
    for dirpath, dirs, files in os.walk(type_dir):
        here = Path(dirpath)
        if here.name == name and f"{name}.spec" in files:
            return here
        if any(f == f"{here.name}.spec" for f in files):
            dirs[:] = []  # another entity: its data folders hold no entities
        else:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
    return None


def list_entities(type_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if not type_dir.is_dir():
        return found
    for dirpath, dirs, files in os.walk(type_dir):
        here = Path(dirpath)
        if f"{here.name}.spec" in files:
            found[here.name] = here
            dirs[:] = []
        else:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
    return found


IGNORE_FILE = ".mlgitignore"


def is_metadata_file(rel: str, name: str) -> bool:
    return rel in (f"{name}.spec", README, IGNORE_FILE)


def scan(entity_dir: Path, name: str) -> dict[str, os.stat_result]:
    """Every data file of the entity (spec and README excluded) with its stat.

    A symlink whose target lies outside the entity folder, or a symlinked folder, is refused:
    nothing outside the workspace is ever read.
    """
    root = str(entity_dir)
    real_root = os.path.realpath(root)
    out: dict[str, os.stat_result] = {}
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                fname = entry.name
                rel = prefix + fname
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if entry.is_dir():
                        raise UnsafePath(
                            f"{entry.path}: symlinked folders are not followed; expected a real folder inside {root}"
                        )
                    if not (target + os.sep).startswith(real_root + os.sep):
                        raise UnsafePath(
                            f"{entry.path}: symlink points outside the entity folder (to {target}); expected a file inside {root}"
                        )
                if entry.is_dir():
                    if not fname.startswith("."):
                        stack.append((entry.path, check_added_name(rel, entry.path) + "/"))
                    continue
                if not prefix and is_metadata_file(fname, name):
                    continue
                check_added_name(rel, entry.path)
                st = entry.stat()
                if stat.S_ISREG(st.st_mode):
                    out[rel] = st
    from .verbs.changes import ignore_rules, ignored

    rules = ignore_rules(entity_dir)
    if rules:  # ML-Git's .mlgitignore: those files are never staged
        out = {rel: st for rel, st in out.items() if not ignored(rel, rules)}
    return out


def stage(
    entity_dir: Path,
    rels: Iterable[str],
    objects: HashFS,
    cache: HashFS | None = None,
    threads: int = 0,
    chunks: bool = False,
) -> dict[str, tuple[FileObjects, os.stat_result]]:
    """Cut, hash and store files into the local object store, in parallel (hashlib frees the GIL).

    With ``cache`` (strict/flexible), each file is hardlinked into the cache and made read-only,
    and only its descriptor goes to the object store (push cuts the chunks from the cached file:
    each byte is written once); ``chunks`` writes them to the object store too, where ML-Git's
    push expects them. Returns each file's objects and its stat after all that.
    """
    from .verbs.changes import mark_staged

    base = str(entity_dir)

    def one(rel: str) -> tuple[str, tuple[FileObjects, os.stat_result]]:
        full = f"{base}/{rel}"
        if cache is not None:
            mark_staged(full)  # tells an edit in place from a file written anew (verbs/changes.py)
        if cache is None or chunks:  # mutable: the workspace file may change, so its chunks are the snapshot
            fo = hash_file(full, sink=lambda chunk: objects.put(chunk.cid, chunk.data))
        elif own_copy_needed(full, make_read_only):  # root: 0444 would not protect a shared inode
            fo = cache.adopt(lambda tmp: hash_copying(full, tmp))
        else:  # strict/flexible: the cache keeps the file itself; push cuts the chunks from it
            fo = hash_file(full)
            cache.link_from(fo.cid, full)
        objects.put(fo.cid, fo.descriptor)
        return rel, (fo, os.stat(full))

    rels = list(rels)
    if len(rels) <= 1:
        return dict(one(r) for r in rels)
    workers = threads or min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlgit-add") as pool:
        return dict(pool.map(one, rels, chunksize=16))


def make_read_only(path: str | os.PathLike[str]) -> None:
    mode = os.stat(path).st_mode
    if mode & 0o222:
        os.chmod(path, mode & ~0o222 & 0o7777)


#: a metrics CSV is two short lines; anything bigger is not one
MAX_METRICS_FILE = 1024 * 1024


def read_metrics_file(path: Path) -> dict[str, float]:
    """The how-to's CSV: metric names on the first line, values on the second.

    Only a small regular file is read (not a FIFO, a device or /dev/zero), and no error quotes its
    content: the path could name any file the process can read."""

    def refuse(found: str) -> InputFileError:
        return InputFileError(
            f"metrics file {path}: expected a regular CSV file of at most {MAX_METRICS_FILE} bytes, found {found}"
        )

    try:
        raw = read_regular(path, MAX_METRICS_FILE, refuse)
    except OSError as exc:
        raise InputFileError(f"metrics file {path}: cannot read it ({exc.strerror})") from exc
    try:
        rows = [r for r in csv.reader(raw.decode("utf-8").splitlines()) if any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error):
        rows = []
    if len(rows) < 2 or len(rows[0]) != len(rows[1]):
        raise SpecError(
            f"metrics file {path}: expected a header line of metric names and one line of as many numbers"
        )
    out: dict[str, float] = {}
    for i, (key, value) in enumerate(zip(rows[0], rows[1], strict=True), 1):
        name = key.strip()
        try:
            if not name or len(name) > 200 or not name.isprintable():
                raise ValueError(name)
            out[name] = float(value)
        except ValueError:
            raise SpecError(  # the content is not quoted: it could be any file's
                f"metrics file {path}: column {i}: expected a metric name and a number, found something else"
            ) from None
    return out


def to_metric(name: str, value: object, where: str) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SpecError(f"metric {name!r} in {where}: expected a number, found {value!r}") from None
