"""The storage contract every backend meets: a flat bucket of immutable objects keyed by CID."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import CorruptObject, MLGitError, StorageError

#: the most bytes one object may hold: a backend never reads more, whatever size the bucket declares
#: (no object of ML-Git's layout comes near it: a chunk is 256 KiB, the descriptor of a 1 TB file ~80 MB)
MAX_OBJECT = 256 * 1024 * 1024


def read_object(read: Callable[[int], bytes], declared: Any, key: str, where: str) -> bytes:
    """An object's bytes from ``read(n)`` (a response body), refused (``CorruptObject``) when the size
    the server declares, or the bytes it sends, exceed ``MAX_OBJECT``: never more is read into memory."""
    limit = MAX_OBJECT
    size = int(declared) if declared not in (None, "") else None
    if size is not None and size > limit:
        raise CorruptObject(
            f"object {key} in {where}: expected at most {limit} bytes, found {size}; not read"
        )
    data = read(limit + 1)  # bytes, or a bytearray the reader filled (not copied again: 256 KiB per chunk)
    if len(data) > limit:
        raise CorruptObject(f"object {key} in {where}: expected at most {limit} bytes, found more; not read")
    return data


#: the longest ``connect-timeout`` / ``read-timeout`` a storage's config may set (seconds)
MAX_TIMEOUT = 3600.0


def timeout_settings(
    settings: Mapping[str, Any], where: str, connect: float, read: float
) -> dict[str, float]:
    """``connect_timeout`` and ``read_timeout`` of one attempt, from a storage's ``connect-timeout`` and
    ``read-timeout`` keys (seconds; ``connect`` and ``read`` where absent). Any other value is refused
    with the key, the value found and what is expected."""
    out = {}
    for key, default in (("connect-timeout", connect), ("read-timeout", read)):
        value = settings.get(key)
        if value is None:
            out[key.replace("-", "_")] = default
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TIMEOUT:
            raise StorageError(
                f"storage {where}: {key} must be seconds, more than 0 and at most {MAX_TIMEOUT:g}, "
                f"found {str(value)[:40]!r}"
            )
        out[key.replace("-", "_")] = float(value)
    return out


class Storage(ABC):
    """A bucket. Keys are CIDs; values are immutable, so overwrite is harmless.

    Backends translate their SDK's errors into ``mlgit.errors`` once, here, keeping the cause:
    ``ObjectNotFound`` for a missing key, ``StorageNotFound`` for a missing bucket/folder,
    ``StorageAuthError`` for refused credentials, ``StorageError`` for the rest.
    """

    #: the URI scheme in ``manifest.storage`` (``local``, ``s3h``, ...)
    scheme: str = ""
    #: the bucket (or storage) name as the spec says it
    bucket: str = ""
    #: requests this backend wants in flight at least (0: no wish): a push's or checkout's pool is never
    #: smaller than this, whatever ``push_threads_count`` says (see ``S3Storage``)
    concurrency: int = 0

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``; never visible half-written."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes under ``key`` (``ObjectNotFound`` when absent)."""

    @property
    def streams(self) -> bool:
        """Whether ``stream`` keeps many GETs in flight from the caller's one thread (else transfers use
        a thread per request in flight)."""
        return False

    def stream(
        self, keys: Iterable[str]
    ) -> Generator[tuple[str, bytes | bytearray | MLGitError], None, None]:
        """Each key's bytes, or the error that one attempt met, as they come (in any order): one attempt
        per key, unverified; callers verify and retry. Here: one ``get`` after the other."""
        for key in keys:
            try:
                yield key, self.get(key)
            except MLGitError as exc:
                yield key, exc

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list_keys(self, prefix: str = "") -> Iterator[str]: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; no error when it is absent."""

    def missing(self, keys: Iterable[str]) -> set[str]:
        """The keys not in the storage. Backends answer many keys with one listing where they can."""
        return {k for k in keys if not self.exists(k)}

    def check(self) -> None:  # noqa: B027 - optional: backends that can check cheaply do
        """Raise ``StorageNotFound`` / ``StorageAuthError`` if the storage cannot be used."""

    def safe_key(self, key: str) -> str:
        """``key`` when it can name nothing but one object at the bucket's root, else ``StorageError``."""
        if not key or "/" in key or "\\" in key or key.startswith(".") or "\0" in key:
            raise StorageError(f"invalid object key {key!r} for storage {self.where()} (expected a CID)")
        return key

    def where(self) -> str:
        """Where the objects live, for messages (never a secret)."""
        return f"{self.scheme}://{self.bucket}"

    def close(self) -> None:  # noqa: B027 - optional: only backends with pools need it
        """Release clients and pools."""


def existing(exists: Callable[[str], bool], keys: list[str], threads: int = 16) -> set[str]:
    """The ``keys`` that ``exists`` answers True for, asked in parallel (one HEAD each): what a
    listing left unanswered."""
    if not keys:
        return set()
    with ThreadPoolExecutor(max_workers=min(threads, len(keys)), thread_name_prefix="mlgit-head") as pool:
        return {k for k, there in zip(keys, pool.map(exists, keys), strict=True) if there}
