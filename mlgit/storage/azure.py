"""``azureblobh://CONTAINER``: an Azure Blob Storage container (azure-storage-blob).

ML-Git writes no key for it (``storages.azureblobh.CONTAINER: {}``): the account comes from a
connection string, looked up as ML-Git does: ``AZURE_STORAGE_CONNECTION_STRING``, then
``connection_string`` in the ``[storage]`` section of the Azure CLI's config
(``$AZURE_CONFIG_DIR/config``, by default ``~/.azure/config``). Code may pass it instead
(``credentials={"connection_string": ...}``, e.g. from an Airflow connection): kept in memory only.
The connection string is a secret: it is never in a message.

One client per storage, shared by the transfer pool; its HTTP pool is sized for that pool. A blob
upload is committed whole or not at all, so an object is never visible half-written. Each request is
ONE attempt (the SDK's retry policy is told to retry none), bounded by a connect and a read timeout as
s3h's are: the retries happen in one layer above, ``mlgit.transfer._retry``.
"""

from __future__ import annotations

import bisect
import configparser
import contextlib
import os
import threading
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
from azure.core import exceptions as aze
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient, LinearRetry

from ..errors import (
    MLGitError,
    ObjectNotFound,
    StorageAuthError,
    StorageError,
    StorageNotFound,
)
from .base import Storage, existing, read_object, timeout_settings

ENV = "AZURE_STORAGE_CONNECTION_STRING"
#: at most this many keys are asked one HEAD each; more are answered by listing
HEAD_AT_MOST = 32
#: a listing stops once it has read this many names per wanted key (HEADs are then cheaper)
LIST_PER_WANTED = 500
#: seconds to open a connection, and between two reads of a response (s3h's values)
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0


def _cli_config_string() -> tuple[str | None, str]:
    """``[storage] connection_string`` of the Azure CLI's config, and where it was looked for."""
    folder = Path(os.environ.get("AZURE_CONFIG_DIR") or Path("~/.azure").expanduser())
    path = folder / "config"
    if not path.is_file():
        return None, str(path)
    text = path.read_text(errors="replace")
    value: Any = None
    try:
        value = (tomllib.loads(text).get("storage") or {}).get("connection_string")
    except tomllib.TOMLDecodeError:
        parser = configparser.ConfigParser(interpolation=None)
        with contextlib.suppress(configparser.Error):
            parser.read_string(text)
            value = parser.get("storage", "connection_string", fallback=None)
    value = str(value).strip().strip('"') if value else None
    return value or None, str(path)


def connection_string(credentials: Mapping[str, Any] | None, where: str) -> tuple[str, str]:
    """(the connection string, where it came from), in ML-Git's order after what code passed."""
    if credentials and credentials.get("connection_string"):
        return str(credentials["connection_string"]), "the connection string passed by code"
    if os.environ.get(ENV):
        return str(os.environ[ENV]), f"${ENV}"
    value, path = _cli_config_string()
    if value:
        return value, f"connection_string in {path}"
    raise StorageAuthError(
        f"no Azure connection string for {where}: set {ENV}, or connection_string in the [storage] "
        f"section of {path} (az configure), or pass credentials"
    )


class AzureStorage(Storage):
    """A container. Keys are CIDs, flat at the container's root."""

    scheme = "azureblobh"
    #: names per listing page (Azure's maximum)
    page_size = 5000

    def __init__(
        self,
        bucket: str,
        *,
        connection_string: str,
        source: str = "the connection string",
        max_pool_connections: int = 64,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.bucket = bucket
        self._source = source
        self._checked = False
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=max(10, max_pool_connections)
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        transport = RequestsTransport(
            session=self._session,
            session_owner=False,
            connection_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        try:
            service = BlobServiceClient.from_connection_string(
                connection_string,
                transport=transport,
                # one attempt per call: mlgit.transfer is the only retry layer (the SDK's default
                # retries 3 times, 15s and more apart, under it)
                retry_policy=LinearRetry(retry_total=0, retry_to_secondary=False),
            )
        except (ValueError, TypeError) as exc:
            raise StorageAuthError(
                f"{source} for {self.where()} is not a valid Azure connection string "
                f"(expected AccountName=...;AccountKey=...;BlobEndpoint=... or DefaultEndpointsProtocol=...)"
            ) from exc
        self._endpoint = f"{service.url.rstrip('/')}"
        self._container = service.get_container_client(bucket)

    @classmethod
    def from_config(
        cls,
        bucket: str,
        settings: Mapping[str, Any],
        credentials: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> AzureStorage:
        """Build from ``storages.azureblobh.CONTAINER`` (ML-Git writes it empty)."""
        conn, source = connection_string(credentials, f"azureblobh://{bucket}")
        timeouts = timeout_settings(settings, f"azureblobh://{bucket}", CONNECT_TIMEOUT, READ_TIMEOUT)
        return cls(bucket, connection_string=conn, source=source, **{**timeouts, **options})

    def where(self) -> str:
        endpoint = getattr(self, "_endpoint", None)
        return f"azureblobh://{self.bucket}" + (f" at {endpoint}" if endpoint else "")

    # -- the one error boundary --------------------------------------------------------------

    def _translate(self, exc: BaseException, action: str, key: str | None) -> MLGitError:
        code = str(getattr(exc, "error_code", "") or "")
        status = int(getattr(getattr(exc, "response", None), "status_code", 0) or 0)
        if isinstance(exc, aze.ClientAuthenticationError) or status == 403 or "Authentication" in code:
            return StorageAuthError(
                f"{self._endpoint} refused {self._source} for container {self.bucket} ({code or status}); "
                f"check the account name and key"
            )
        if code == "ContainerNotFound" or (status == 404 and key is None):
            return StorageNotFound(
                f"container {self.bucket} does not exist at {self._endpoint}; create it "
                f"(az storage container create --name {self.bucket}) or fix the spec's azureblobh://{self.bucket}"
            )
        if key is not None and (isinstance(exc, aze.ResourceNotFoundError) or status == 404):
            return ObjectNotFound(f"object {key} not found in {self.where()}")
        if isinstance(exc, (aze.ServiceRequestError, aze.ServiceResponseError)):
            return StorageError(
                f"cannot reach {self._endpoint} for container {self.bucket} "
                f"({type(exc).__name__}); is the service up and the connection string's endpoint right?"
            )
        what = " ".join(x for x in (action, key) if x)
        message = str(getattr(exc, "reason", "") or "") or type(exc).__name__
        return StorageError(f"{what} on {self.where()} failed: {code or status or ''} {message}".strip())

    @contextlib.contextmanager
    def _boundary(self, action: str, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except aze.AzureError as exc:
            raise self._translate(exc, action, key) from exc

    # -- the contract ------------------------------------------------------------------------

    def check(self) -> None:
        if self._checked:
            return
        with self._boundary("open container"):
            self._container.get_container_properties()
        self._checked = True

    def put(self, key: str, data: bytes) -> None:
        with self._boundary("upload", key):
            self._container.upload_blob(self.safe_key(key), data, overwrite=True, max_concurrency=1)
        with self._lock:
            self._known.add(key)

    def get(self, key: str) -> bytes:
        try:
            with self._boundary("download", key):
                # the first response (at most the SDK's single-get size, 32 MiB) says the blob's size:
                # a blob larger than any object is refused before the rest is read
                stream = self._container.download_blob(self.safe_key(key), max_concurrency=1)
                return read_object(lambda _n: stream.readall(), stream.size, key, self.where())
        except ObjectNotFound:
            self._checked = False
            self.check()  # a missing container says so, not "object not found"
            raise

    def exists(self, key: str) -> bool:
        try:
            with self._boundary("look up", key):
                self._container.get_blob_client(self.safe_key(key)).get_blob_properties()
        except ObjectNotFound:
            return False
        return True

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        with self._boundary("list"):
            yield from self._container.list_blob_names(name_starts_with=prefix or None)

    def delete(self, key: str) -> None:
        try:
            with self._boundary("delete", key):
                self._container.delete_blob(self.safe_key(key))
        except ObjectNotFound:
            pass
        with self._lock:
            self._known.discard(key)

    def missing(self, keys: Iterable[str]) -> set[str]:
        """The keys not in the container: a few by HEAD, many by one sorted listing.

        Azure lists names in order but cannot start after a name, so the listing reads from the
        start; it stops once it has read ``LIST_PER_WANTED`` names per wanted key (a container far
        larger than the keys asked), and HEADs answer the keys past its last name.
        """
        with self._lock:
            wanted = sorted(set(keys) - self._known)
        if not wanted:
            return set()
        present: set[str] = set()
        unanswered = wanted
        if len(wanted) > HEAD_AT_MOST:
            budget = LIST_PER_WANTED * len(wanted)
            read = 0
            complete = True
            last = ""
            with self._boundary("list"):
                for page in self._container.list_blob_names(results_per_page=self.page_size).by_page():
                    names = list(page)
                    read += len(names)
                    present.update(names)
                    last = names[-1] if names else last
                    if read >= budget:
                        complete = False
                        break
            present.intersection_update(wanted)
            unanswered = [] if complete else wanted[bisect.bisect_right(wanted, last) :]
        present.update(existing(self.exists, unanswered))
        with self._lock:
            self._known.update(present)
        return set(wanted) - present

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
        with contextlib.suppress(Exception):
            self._session.close()


__all__ = ["AzureStorage", "connection_string"]
