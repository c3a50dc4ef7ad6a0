"""The workspace lock: one process at a time changes a workspace's shared state.

Two processes that share one workspace (two tasks of a worker on one folder, a replayed push and a
commit) would otherwise interleave git resets and commits in one metadata clone and publish a tag
whose tree is not what the commit reported. Every verb that changes state holds this lock; a verb
that waits longer than the timeout fails with the holder's pid and verb. The lock is an OS file
lock (``filelock``): a killed holder releases it with its process, nothing stale is left behind.
Re-entrant within one thread (``push`` commits again under ``auto_bump``).
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from .atomic import atomic_write, refuse_symlinked_state
from .errors import UnsafePath, WorkspaceBusy

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: Seconds a verb waits for another process's verb on the same workspace (``MLGIT_LOCK_TIMEOUT``).
DEFAULT_TIMEOUT = 600.0
LOCK_NAME = "lock"  # in .ml-git/ of a workspace


def default_timeout() -> float:
    raw = os.environ.get("MLGIT_LOCK_TIMEOUT", "")
    try:
        return float(raw) if raw.strip() else DEFAULT_TIMEOUT
    except ValueError:
        log.warning("MLGIT_LOCK_TIMEOUT=%r is not a number of seconds; using %s", raw, DEFAULT_TIMEOUT)
        return DEFAULT_TIMEOUT


class PathLock:
    """A re-entrant inter-process lock on the file ``path`` that records its holder in ``<path>.holder``."""

    def __init__(self, path: Path, what: str, timeout: float | None = None) -> None:
        self.path = path
        self.what = what
        self.timeout = default_timeout() if timeout is None else float(timeout)
        self._lock = FileLock(str(path), timeout=self.timeout)
        self._holder = path.with_name(path.name + ".holder")
        self._depth = threading.local()

    def holder(self) -> dict[str, Any]:
        """Who holds the lock, as the holder wrote it (empty when unknown)."""
        try:
            data = json.loads(_read_no_follow(self._holder))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @contextmanager
    def hold(self, verb: str) -> Iterator[None]:
        depth = getattr(self._depth, "n", 0)
        if depth:
            self._depth.n = depth + 1
            try:
                yield
            finally:
                self._depth.n -= 1
            return
        refuse_symlinked_state(self.path)  # .ml-git swapped for a symlink: no lock file made elsewhere
        self.path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            self._lock.acquire()
        except Timeout:
            h = self.holder()
            raise WorkspaceBusy(
                f"{self.what} is locked by pid {h.get('pid', '?')} on {h.get('host', '?')} "
                f"({h.get('verb', '?')} since {h.get('since', '?')}); waited {self.timeout:g}s for {verb} "
                f"(lock file {self.path}; raise MLGIT_LOCK_TIMEOUT to wait longer)"
            ) from None
        except OSError as exc:
            raise self._refused(exc) from None
        waited = time.monotonic() - started
        if waited > 1:
            log.info("%s: waited %.1fs for another process's verb before %s", self.what, waited, verb)
        self._depth.n = 1
        try:
            record = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "verb": verb,
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            # a new file renamed into place: never written through a symlink or a hard link planted there
            atomic_write(self._holder, json.dumps(record).encode(), beside=True)
            yield
        finally:
            self._depth.n = 0
            self._lock.release()

    def try_hold(self) -> bool:
        """Take the lock at once, or say False (used by the retention sweep: never wait for a live run)."""
        refuse_symlinked_state(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        except OSError as exc:
            raise self._refused(exc) from None
        self._depth.n = 1
        return True

    def _refused(self, exc: OSError) -> Exception:
        """The lock file is a symlink (filelock opens it with O_NOFOLLOW) or cannot be opened: one error."""
        if exc.errno == errno.ELOOP:
            return UnsafePath(
                f"lock file {self.path} is a symlink (to {os.readlink(self.path)}); expected a regular file "
                "(mlgit never opens its files through a symlink)"
            )
        return exc

    def release(self) -> None:
        self._depth.n = 0
        self._lock.release()


def locked(method: F) -> F:
    """Run a ``Repository`` method under its workspace lock (``self.workspace_lock``)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.workspace_lock.hold(method.__name__):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _read_no_follow(path: Path, limit: int = 4096) -> bytes:
    """The holder record: a small regular file, never read through a symlink nor from a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: not a regular file")
        return os.read(fd, limit)
    finally:
        os.close(fd)
