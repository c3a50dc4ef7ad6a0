"""Parallel, retried, verified object transfers between a local hashfs and a storage.

Uploads skip what the storage already has (one ``missing()`` call, which backends answer with a
listing); downloads are verified against their CID before they are stored; after ``fail_limit``
failed objects, or once the storage is unreachable, the rest is cancelled.

Retries, timeouts and deadlines (one retry layer, this one):

- ``s3h`` makes ONE attempt per request, whichever client serves: its own HTTP plane
  (``storage/s3_http.py``; a kept-alive connection the server closed meanwhile is replaced once,
  at once: connection reuse, not a retry), botocore with ``total_max_attempts=1``, the minio SDK's
  urllib3 with retries off. Its only job is a bounded attempt: a connection within 5 s, and no
  byte for 15 s means no answer (``S3Storage`` defaults; ``connect-timeout`` and ``read-timeout`` in
  the storage's config set them, as for every remote storage).
- ``azureblobh`` makes ONE attempt per call too (the Azure SDK's retry policy with
  ``retry_total=0``), bounded the same way: connect 5 s, read 15 s (``AzureStorage`` defaults).
- ``retry`` (here) retries every storage call of push, checkout and remote-fsck (the bucket check,
  each listing, each object PUT/GET): at most ``ATTEMPTS`` attempts, pausing ``BACKOFF`` s before
  the first retry, doubled each time (x0.5-1.5 jitter, at most ``MAX_PAUSE`` s), and no attempt
  starts ``DEADLINE`` s after the first one began. Refused keys, a missing bucket or object and a
  corrupted object are final: never retried.
- ``run_pool`` stops the whole transfer on the first object given up as unreachable, and after
  ``DOWN_AFTER`` failures in a row: a server killed mid-push fails in about 2 s (connection
  refused), one that accepts but never answers in about ``DEADLINE`` s, each with one error.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from .cid import cid_matches, require_cid
from .errors import (
    CorruptObject,
    MLGitError,
    ObjectNotFound,
    StorageAuthError,
    StorageNotFound,
    StorageUnreachable,
    TransferError,
)
from .objects import HashFS
from .storage.base import Storage

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
T = TypeVar("T")
#: attempts per storage call (the first one included)
ATTEMPTS = 4
#: seconds before the first retry; doubled for each next one, jittered, capped at MAX_PAUSE
BACKOFF = 0.25
MAX_PAUSE = 4.0
#: seconds after a call's first attempt began: no attempt starts later
DEADLINE = 30.0
#: this many failed objects in a row (none done in between) means the storage is down: stop
DOWN_AFTER = 16
#: seconds between two progress reports of a transfer (the caller's callback runs in its own thread)
PROGRESS_EVERY = 0.1
#: errors that retrying cannot fix
FINAL = (ObjectNotFound, StorageAuthError, StorageNotFound, CorruptObject)
#: errors after which no other object is tried: the storage as a whole cannot be used
GIVE_UP = (StorageAuthError, StorageNotFound, StorageUnreachable)
#: jitter of the retry pauses: a generator of its own (the global one may be seeded or watched by the caller,
#: e.g. hypothesis, and is shared with every other thread)
_JITTER = random.Random()


@dataclass
class TransferReport:
    done: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def retry(fn: Callable[[], T], what: str, attempts: int = ATTEMPTS, deadline: float = DEADLINE) -> T:
    """``fn()``, retried on transient storage errors: the one retry layer (see the module's docstring)."""
    started = time.monotonic()
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except FINAL:
            raise
        except (MLGitError, OSError) as exc:
            pause = min(MAX_PAUSE, BACKOFF * (2 ** (attempt - 1))) * _JITTER.uniform(0.5, 1.5)
            spent = time.monotonic() - started
            if attempt == attempts or spent + pause >= deadline:
                if isinstance(exc, StorageUnreachable):
                    raise StorageUnreachable(
                        f"{exc} (gave up after {attempt} attempts in {spent:.0f} s)"
                    ) from exc
                raise
            log.debug("%s failed (%s); retry %d in %.2fs", what, exc, attempt, pause)
            time.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


def run_pool(
    phase: str,
    keys: list[str],
    one: Callable[[str], None],
    threads: int,
    progress: Progress | None,
    fail_limit: int | None,
) -> TransferReport:
    """Run ``one(key)`` for every key on ``threads`` workers, with progress and early stop.

    Workers take keys from one shared iterator and record each outcome under the same lock they
    take the next key with: one lock round per object, no future, no queue, and no wake-up of the
    caller's thread per object (on 10,000 small objects a queue hop per object to the caller cost
    as much CPU as the requests themselves: each one a GIL hand-off between threads). The
    caller's thread reports ``progress`` from the counts, at most every ``PROGRESS_EVERY`` s,
    with the first call at 0 and the last at the final count. A worker that finds the storage
    unusable stops the others from taking another key at once.
    """
    report = TransferReport()
    total = len(keys)
    if progress:
        progress(phase, 0, total)
    if not keys:
        return report
    it = iter(keys)
    lock = threading.Lock()
    stop = threading.Event()
    finished = threading.Event()
    state = {"total": 0, "in_a_row": 0, "running": 0}

    def record(key: str, exc: BaseException | None) -> str | None:
        """The outcome of ``key`` (under ``lock``), then the next key, or None: stop."""
        if exc is None:
            report.done.append(key)
            state["in_a_row"] = 0
        else:
            report.failed[key] = str(exc)
            state["total"] += 1
            state["in_a_row"] += 1
            if (
                isinstance(exc, GIVE_UP)  # the storage as a whole cannot be used
                or (state["in_a_row"] >= max(DOWN_AFTER, 2 * threads) and not isinstance(exc, FINAL))
                or (fail_limit is not None and state["total"] >= fail_limit)
            ):
                stop.set()
        return None if stop.is_set() else next(it, None)

    def worker() -> None:
        try:
            with lock:
                key = None if stop.is_set() else next(it, None)
            while key is not None:
                exc: BaseException | None = None
                try:
                    one(key)
                except Exception as e:  # recorded, counted, and raised by the caller as one error
                    exc = e
                with lock:
                    key = record(key, exc)
        finally:
            with lock:
                state["running"] -= 1
                if not state["running"]:
                    finished.set()

    workers = [
        threading.Thread(target=worker, name=f"mlgit-{phase}-{i}", daemon=True)
        for i in range(max(1, min(threads, total)))
    ]
    state["running"] = len(workers)
    for t in workers:
        t.start()
    reported = 0
    try:
        while not finished.wait(PROGRESS_EVERY if progress else None):
            count = len(report.done) + len(report.failed)
            if progress and count != reported:
                reported = count
                progress(phase, count, total)
    finally:
        stop.set()
        for t in workers:
            t.join()
    count = len(report.done) + len(report.failed)
    if progress and count != reported:
        progress(phase, count, total)
    return report


class Ticker:
    """``progress(phase, count, total)`` at 0 now, then at most every ``PROGRESS_EVERY`` s (called by the
    one thread that moves the objects: no progress thread)."""

    def __init__(self, phase: str, progress: Progress | None, total: int) -> None:
        self.phase, self.progress, self.total = phase, progress, total
        self.last = time.monotonic()
        if progress:
            progress(phase, 0, total)

    def __call__(self, count: int) -> None:
        if self.progress and time.monotonic() - self.last >= PROGRESS_EVERY:
            self.last = time.monotonic()
            self.progress(self.phase, count, self.total)


def stream_first(
    phase: str,
    storage: Storage,
    keys: list[str],
    take: Callable[[str, bytes | bytearray], None],
    progress: Progress | None,
    total: int,
) -> list[str]:
    """The first attempt at every key in one stream (``storage.stream``: many GETs in flight from this
    thread, where the storage ``streams``): each body that matches its CID goes to ``take``; the keys
    that did not make it (a failed, corrupt or never-answered request, or ``take`` failing) are
    returned, for the retried path that reports them (``run_pool``). After an error that ends every
    transfer no other key is asked: refused keys or a missing bucket at once, an unreachable storage
    after ``DOWN_AFTER`` keys in a row (one request past its timeout is not a storage down: a silent
    server fails every request in flight together). ``progress`` gets the keys taken, of ``total``."""
    left: list[str] = []
    answered: set[str] = set()
    taken = unreachable = 0
    tick = Ticker(phase, progress, total)
    results = storage.stream(keys)
    try:
        for key, got in results:
            answered.add(key)
            if isinstance(got, BaseException) or not cid_matches(key, got):
                left.append(key)
                unreachable = unreachable + 1 if isinstance(got, StorageUnreachable) else 0
                if isinstance(got, (StorageAuthError, StorageNotFound)) or unreachable >= DOWN_AFTER:
                    log.debug("%s: stream stopped at %s: %s", phase, key, got)
                    break
                continue
            try:
                take(key, got)
            except (MLGitError, OSError) as exc:
                log.debug("%s: %s left to the retried path: %s", phase, key, exc)
                left.append(key)
                continue
            taken += 1
            unreachable = 0
            tick(taken)
    finally:
        results.close()  # its connections close now
    left.extend(k for k in keys if k not in answered)
    return left


def offset_progress(progress: Progress | None, done: int, total: int) -> Progress | None:
    """``progress`` of a transfer's remaining part, counting ``done`` objects already moved."""
    if progress is None:
        return None
    return lambda phase, count, _: progress(phase, done + count, total)


def raise_failed(report: TransferReport, phase: str, total: int, where: str) -> None:
    if not report.failed:
        return
    first_key, first_err = next(iter(report.failed.items()))
    not_done = total - len(report.done)
    raise TransferError(
        f"{phase}: {not_done} of {total} objects not transferred {'to' if phase == 'push' else 'from'} {where} "
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
    """Send the objects the storage lacks. A local object that does not match its CID is refused.
    ``threads`` workers, or the storage's ``concurrency`` where that is more."""
    wanted = sorted({require_cid(c, f"push to {storage.where()}") for c in cids})
    missing: list[str] = []
    if wanted:
        with _one_error("push", storage, wanted):
            # refused credentials, missing bucket, endpoint down: one error, before any work
            retry(storage.check, f"open {storage.where()}")
            missing = sorted(retry(lambda: storage.missing(wanted), "listing"))

    not_here = [k for k in missing if not store.exists(k)]
    if not_here:
        raise TransferError(
            f"push: {len(not_here)} object(s) are neither in the local store {store.root} nor in "
            f"{storage.where()} (first: {not_here[0]}); check out the version again, then push",
            failed=not_here,
        )

    def one(key: str) -> None:
        data = store.get(key, verify=True)
        retry(lambda: storage.put(key, data), f"upload {key}")

    report = run_pool("push", missing, one, pool_size(threads, storage), progress, fail_limit)
    report.skipped = len(wanted) - len(missing)
    raise_failed(report, "push", len(missing), storage.where())
    return report


def pool_size(threads: int, storage: Storage | None) -> int:
    """Workers for a transfer: ``threads`` (ML-Git's ``push_threads_count``), or the storage's
    ``concurrency`` where that is more (requests a backend wants in flight)."""
    return max(threads, storage.concurrency if storage is not None else 0)


def download(
    storage: Storage,
    store: HashFS,
    cids: Iterable[str],
    threads: int = 10,
    progress: Progress | None = None,
    fail_limit: int | None = None,
    keep: Callable[[str, bytes], None] | None = None,
) -> TransferReport:
    """Fetch the objects the local store lacks, each verified against its CID before it is kept;
    ``keep(key, data)`` also receives each one's verified bytes (a checkout parses its descriptors from
    them instead of reading them back from the store and verifying them again)."""
    wanted = sorted({require_cid(c, f"checkout from {storage.where()}") for c in cids})
    missing = [c for c in wanted if not store.exists(c)]
    if missing:
        with _one_error("checkout", storage, missing):
            retry(storage.check, f"open {storage.where()}")

    def one(key: str) -> None:
        take(key, fetch_verified(storage, key))

    def take(key: str, data: bytes | bytearray) -> None:
        data = bytes(data)  # kept (descriptors): a bytearray the stream filled would stay mutable
        store.put(key, data, absent=True)  # ``missing``: looked at just before
        if keep is not None:
            keep(key, data)

    left = (
        stream_first("checkout", storage, missing, take, progress, len(missing))
        if storage.streams
        else missing
    )
    gone = set(left)
    streamed = [k for k in missing if k not in gone]
    workers = pool_size(threads, storage)
    done_progress = offset_progress(progress, len(streamed), len(missing))
    report = run_pool("checkout", left, one, workers, done_progress, fail_limit)
    report.done[:0] = streamed
    report.skipped = len(wanted) - len(missing)
    raise_failed(report, "checkout", len(missing), storage.where())
    return report


def fetch_verified(storage: Storage, key: str) -> bytes:
    """One object from the storage, retried on transient errors, refused unless it matches its CID."""
    require_cid(key, f"download from {storage.where()}")

    def get() -> bytes:
        data = storage.get(key)
        if not cid_matches(key, data):
            raise CorruptObject(
                f"object {key} in {storage.where()} does not match its CID (corrupted in the storage)"
            )
        return data

    return retry(get, f"download {key}")
