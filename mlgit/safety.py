"""Keeping the only copy of unpushed data apart from the files a process may write.

A strict/flexible file is kept in the cache and the workspace shows it read-only. Mode 0444 stops
an ordinary user; it does not stop root (the norm in containers and Airflow workers). So where the
mode does not protect a file, the cache gets its own copy (a reflink where the filesystem has one)
instead of sharing the workspace file's inode: an in-place write then changes the workspace file
only, and the committed version stays whole until it is pushed.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import shutil
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from .cid import FileObjects, hash_file
from .errors import DiskFull, MLGitError

if TYPE_CHECKING:
    from .metadata import MetadataRepo

#: ioctl FICLONE (linux/fs.h): share the source's extents (btrfs, xfs, bcachefs); refused elsewhere
FICLONE = 0x40049409


def mode_protects(path: str | os.PathLike[str]) -> bool:
    """True when this process cannot write ``path`` (a read-only file), i.e. its mode protects it."""
    effective = os.access in os.supports_effective_ids
    return not os.access(path, os.W_OK, effective_ids=effective)


def clone_or_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """``dst`` becomes a copy of ``src`` with its own inode: a reflink when the filesystem can, else bytes."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        try:
            fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS):
                raise
        shutil.copyfileobj(fin, fout, 1024 * 1024)


def hash_copying(src: str, tmp: str) -> FileObjects:
    """Hash ``src`` while writing its bytes to ``tmp``: what is kept is exactly what was hashed,
    even if ``src`` changes meanwhile (one read, one write)."""
    with open(tmp, "wb") as out:
        return hash_file(src, sink=lambda chunk: out.write(chunk.data))


def own_copy_needed(path: str | os.PathLike[str], make_read_only: Callable[[str], None]) -> bool:
    """Make ``path`` read-only; then True when that does not stop this process from writing it, so
    the cache must keep its own copy rather than share the inode."""
    make_read_only(os.fspath(path))
    return not mode_protects(path)


P = ParamSpec("P")
R = TypeVar("R")
_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_errors(verb: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A full disk (or quota) while a verb writes becomes one ``DiskFull`` naming where; the verbs
    write temp-then-rename and save the index last, so nothing half-written is left as real."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except OSError as exc:
                if exc.errno not in _FULL:
                    raise
                where = exc.filename or getattr(args[0] if args else None, "root", "the workspace")
                raise DiskFull(
                    f"{verb}: no space left on the device while writing {where}; nothing was recorded "
                    "(free some space and run it again)"
                ) from exc

        return run

    return wrap


def read_regular(path: str | os.PathLike[str], limit: int, refuse: Callable[[str], Exception]) -> bytes:
    """The bytes of ``path`` when it is a regular file of at most ``limit`` bytes, else ``refuse(found)``.
    Opened non-blocking: a FIFO or a device never blocks nor streams forever."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refuse("not a regular file")
        if st.st_size > limit:
            raise refuse(f"{st.st_size} bytes")
        parts, left = [], limit + 1
        while left > 0:
            part = os.read(fd, min(left, 1024 * 1024))
            if not part:
                break
            parts.append(part)
            left -= len(part)
        data = b"".join(parts)
        if len(data) > limit:
            raise refuse(f"more than {limit} bytes")
        return data
    finally:
        os.close(fd)


def is_pushed(md: MetadataRepo, sha: str) -> bool:
    """True when commit ``sha`` is on the remote's branch as last seen (fetch/push): its data was
    uploaded before it was pushed, so the cache does not hold the only copy. Local: no network."""
    try:
        md.git("merge-base", "--is-ancestor", sha, f"refs/remotes/origin/{md.branch}")
    except MLGitError:
        return False
    return True
