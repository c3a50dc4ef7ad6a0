"""Parallel, retried, verified object transfers between a local hashfs and a storage.

Uploads skip what the storage already has (one ``missing()`` call, which backends answer with a
listing); downloads are verified against their CID before they are stored; transient errors are
retried with exponential backoff; after ``fail_limit`` failed objects the rest is cancelled.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from .cid import cid_of, require_cid
from .errors import (
    CorruptObject,
    MLGitError,
    ObjectNotFound,
    StorageAuthError,
    StorageNotFound,
    TransferError,
)
from .objects import HashFS
from .storage.base import Storage

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
T = TypeVar("T")
RETRIES = 5
#: this many failed objects in a row (none done in between) means the storage is down: stop
DOWN_AFTER = 16
#: errors that retrying cannot fix
FINAL = (ObjectNotFound, StorageAuthError, StorageNotFound, CorruptObject)


@dataclass
class TransferReport:
    done: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def _retry(fn: Callable[[], T], what: str, retries: int = RETRIES, base_delay: float = 0.2) -> T:
    for attempt in range(retries + 1):
        try:
            return fn()
        except FINAL:
            raise
        except (MLGitError, OSError) as exc:
            if attempt == retries:
                raise
            delay = base_delay * (2**attempt) * random.uniform(0.5, 1.5)
            log.debug("%s failed (%s); retry %d in %.2fs", what, exc, attempt + 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def run_pool(
    phase: str,
    keys: list[str],
    one: Callable[[str], None],
    threads: int,
    progress: Progress | None,
    fail_limit: int | None,
) -> TransferReport:
    """Run ``one(key)`` for every key on ``threads`` workers, with progress and early stop."""
    report = TransferReport()
    total = len(keys)
    if progress:
        progress(phase, 0, total)
    if not keys:
        return report
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix=f"mlgit-{phase}") as pool:
        pending: dict[Future[None], str] = {}
        it = iter(keys)
        stop = False
        in_a_row = 0

        def submit() -> None:
            for key in it:
                pending[pool.submit(one, key)] = key
                if len(pending) >= threads * 4:
                    return

        submit()
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                key = pending.pop(fut)
                exc = fut.exception()
                if exc is None:
                    report.done.append(key)
                    in_a_row = 0
                else:
                    report.failed[key] = str(exc)
                    in_a_row += 1
                    if in_a_row >= max(DOWN_AFTER, 2 * threads) and not isinstance(exc, FINAL):
                        stop = True
                    if isinstance(exc, (StorageAuthError, StorageNotFound)):
                        stop = True
                    if fail_limit is not None and len(report.failed) >= fail_limit:
                        stop = True
                if progress:
                    progress(phase, len(report.done) + len(report.failed), total)
            if not stop:
                submit()
            elif pending:
                for fut in pending:
                    fut.cancel()
                wait(pending)
                for fut, key in pending.items():
                    if not fut.cancelled() and fut.exception() is None:
                        report.done.append(key)
                pending.clear()
    return report


def _raise_failed(report: TransferReport, phase: str, total: int, where: str) -> None:
    if not report.failed:
        return
    first_key, first_err = next(iter(report.failed.items()))
    not_done = total - len(report.done)
    raise TransferError(
        f"{phase}: {not_done} of {total} objects not transferred to/from {where} "
        f"(first: {first_key}: {first_err})",
        failed=list(report.failed),
    )


class Source(Protocol):
    """Where upload reads objects: a HashFS, or LocalObjects (objects + cached files)."""

    @property
    def root(self) -> Path: ...

    def exists(self, cid: str) -> bool: ...
    def get(self, cid: str, verify: bool = True) -> bytes: ...


@contextmanager
def _one_error(phase: str, storage: Storage, keys: list[str]) -> Iterator[None]:
    """Refused keys and a missing bucket pass as they are; any other storage failure before the
    transfer starts becomes one ``TransferError`` counting the objects not transferred."""
    try:
        yield
    except (StorageAuthError, StorageNotFound):
        raise
    except MLGitError as exc:
        raise TransferError(
            f"{phase}: {len(keys)} of {len(keys)} objects not transferred {'to' if phase == 'push' else 'from'} "
            f"{storage.where()}: {exc}",
            failed=keys,
        ) from exc


def upload(
    storage: Storage,
    store: Source,
    cids: Iterable[str],
    threads: int = 10,
    progress: Progress | None = None,
    fail_limit: int | None = None,
) -> TransferReport:
    """Send the objects the storage lacks. A local object that does not match its CID is refused."""
    wanted = sorted({require_cid(c, f"push to {storage.where()}") for c in cids})
    missing: list[str] = []
    if wanted:
        with _one_error("push", storage, wanted):
            storage.check()  # refused credentials, missing bucket, endpoint down: one error, before any work
            missing = sorted(_retry(lambda: storage.missing(wanted), "listing"))

    not_here = [k for k in missing if not store.exists(k)]
    if not_here:
        raise TransferError(
            f"push: {len(not_here)} object(s) are neither in the local store {store.root} nor in "
            f"{storage.where()} (first: {not_here[0]}); check out the version again, then push",
            failed=not_here,
        )

    def one(key: str) -> None:
        data = store.get(key, verify=True)
        _retry(lambda: storage.put(key, data), f"upload {key}")

    report = run_pool("push", missing, one, threads, progress, fail_limit)
    report.skipped = len(wanted) - len(missing)
    _raise_failed(report, "push", len(missing), storage.where())
    return report


def download(
    storage: Storage,
    store: HashFS,
    cids: Iterable[str],
    threads: int = 10,
    progress: Progress | None = None,
    fail_limit: int | None = None,
) -> TransferReport:
    """Fetch the objects the local store lacks, each verified against its CID before it is kept."""
    wanted = sorted({require_cid(c, f"checkout from {storage.where()}") for c in cids})
    missing = [c for c in wanted if not store.exists(c)]
    if missing:
        with _one_error("checkout", storage, missing):
            storage.check()

    def one(key: str) -> None:
        store.put(key, fetch_verified(storage, key))

    report = run_pool("checkout", missing, one, threads, progress, fail_limit)
    report.skipped = len(wanted) - len(missing)
    _raise_failed(report, "checkout", len(missing), storage.where())
    return report


def fetch_verified(storage: Storage, key: str) -> bytes:
    """One object from the storage, retried on transient errors, refused unless it matches its CID."""
    require_cid(key, f"download from {storage.where()}")

    def get() -> bytes:
        data = storage.get(key)
        if cid_of(data) != key:
            raise CorruptObject(
                f"object {key} in {storage.where()} does not match its CID (corrupted in the storage)"
            )
        return data

    return _retry(get, f"download {key}")
