"""Keeping the only copy of unpushed data, and a shared cache, apart from the files a process may write.

A strict/flexible file is kept in the cache and the workspace shows it read-only. Mode 0444 stops
an ordinary user; it does not stop root (the norm in containers and Airflow workers). So where the
mode does not protect a file, the cache gets its own copy (a reflink where the filesystem has one)
instead of sharing the workspace file's inode: an in-place write then changes the workspace file
only, and the committed version stays whole until it is pushed. A cache shared by many workspaces
(run folders, ML-Git's centralized ``cache_path``) is never linked where the mode does not protect
it, pushed or not: another task writing in place into its own file would change every later run's data.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from .cid import FileObjects, hash_file
from .errors import DiskFull, MLGitError, UnsafePath

if TYPE_CHECKING:
    from .metadata import MetadataRepo

#: ioctl FICLONE (linux/fs.h): share the source's extents (btrfs, xfs, bcachefs); refused elsewhere
FICLONE = 0x40049409


def mode_protects(path: str | os.PathLike[str]) -> bool:
    """True when this process cannot write ``path`` (a read-only file), i.e. its mode protects it."""
    effective = os.access in os.supports_effective_ids
    return not os.access(path, os.W_OK, effective_ids=effective)


#: errors of FICLONE / copy_file_range meaning "not here" (another filesystem, no support): fall back
_NO_FAST_COPY = (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF)


def copy_fd(fin: int, fout: int, size: int) -> None:
    """Copy ``size`` bytes from ``fin`` to ``fout`` (both at offset 0) in the kernel: a reflink where the
    filesystem has one (FICLONE), else ``copy_file_range``, else ``sendfile``; no Python buffers."""
    try:
        fcntl.ioctl(fout, FICLONE, fin)
        return
    except OSError as exc:
        if exc.errno not in _NO_FAST_COPY:
            raise
    left = size
    for kernel_copy in (os.copy_file_range, lambda i, o, n: os.sendfile(o, i, None, n)):
        try:
            while left > 0:
                done = kernel_copy(fin, fout, left)
                if done == 0:
                    break
                left -= done
            break
        except OSError as exc:  # only when nothing was copied yet can the next way take over
            if exc.errno not in _NO_FAST_COPY or left != size:
                raise
    else:
        while left > 0 and (data := os.read(fin, min(left, 1024 * 1024))):
            view = memoryview(data)
            while view:
                view = view[os.write(fout, view) :]
            left -= len(data)


def clone_or_copy(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], mode: int = 0o644
) -> os.stat_result:
    """``dst`` (a new file, created with ``mode``) becomes a copy of ``src`` with its own inode: a reflink
    when the filesystem can, else an in-kernel copy. Returns ``dst``'s stat; nothing left on failure."""
    cloexec = getattr(os, "O_CLOEXEC", 0)
    fin = os.open(src, os.O_RDONLY | cloexec)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | cloexec
        try:
            fout = os.open(dst, flags, mode)
        except FileExistsError:  # a leftover of this thread's earlier, failed write
            os.unlink(dst)
            fout = os.open(dst, flags, mode)
        try:
            copy_fd(fin, fout, os.fstat(fin).st_size)
            return os.fstat(fout)
        except BaseException:
            os.unlink(dst)
            raise
        finally:
            os.close(fout)
    finally:
        os.close(fin)


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


def refuse_symlinked_parents(
    root: Path, target: Path, checked: set[Path] | None = None
) -> os.stat_result | None:
    """Refuse a destination reached through a symlink: nothing outside the workspace is written.
    Folders in ``checked`` were looked at already (one checkout); those looked at here are added.
    Returns ``target``'s own lstat (None when it does not exist): callers need no second look."""
    current = root
    found = None
    for part in target.relative_to(root).parts:
        current = current / part
        if checked is not None and current in checked:
            continue
        if checked is not None and current != target:
            checked.add(current)
        try:
            st = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath(
                f"{current} is a symlink (to {os.readlink(current)}); refusing to write through it "
                f"(expected a folder inside {root})"
            )
        if current == target:
            found = st
    return found
